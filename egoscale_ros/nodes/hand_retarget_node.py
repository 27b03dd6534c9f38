"""hand_retarget_node: per-tick hand targets in the policy's hand space → robot hand commands.

Subscribes ``command/hand_targets`` (sensor_msgs/JointState in the policy's hand space, e.g. the
Sharpa Wave joints of both hands, ``left_thumb_CMC_FE``...) and ``joint_states``. Every tick at
``rate_hz`` it retargets the newest target of each side onto the robot's hand for that side
(``egoscale_ros.retarget.Retargeter``: pass-through when the robot wears the policy's hand),
applies the optional low-pass filter, passes the result through the safety gate (limits,
velocity/acceleration limiting from the measured pose, e-stop on ``safety/estop``, watchdogs on
stale targets and joint states → hold) and publishes on the robot's configured controller
outputs. A message with NaN, mismatched lengths or unknown joint names is rejected and counted,
never passed on. Diagnostics: solve times, iterations, failures, rejected messages, gate state.

Parameters: ``robot`` (config name or path), ``urdf`` (optional body URDF override), ``rate_hz``
(default: the config's ``control_rate_hz``), ``source`` (the policy's hand type / hand config,
default ``sharpa_wave``), ``lowpass_alpha`` (0 < α ≤ 1 on the output, 1 = off; < 0 = the hand
config's value), ``solver`` ('' = the hand config's).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState

from egoscale_ros.check import robot_hand_configs
from egoscale_ros.nodes.wiring.diagnostics import Diagnostics
from egoscale_ros.nodes.wiring.guarded import GuardedCommands
from egoscale_ros.nodes.wiring.joint_states import joint_state_listener
from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare, required, robot_config_from_parameters
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS
from egoscale_ros.nodes.wiring.stamps import FUTURE_TOLERANCE_S, now_sec, stamp_to_sec
from egoscale_ros.retarget.retargeter import Retargeter


class _Side:
    """One hand: its retargeter, the robot's joints for it, and its counters."""

    def __init__(self, side: str, retargeter: Retargeter, robot_joints: tuple[str, ...]):
        self.side = side
        self.retargeter = retargeter
        self.robot_joints = list(robot_joints)
        self.to_robot = np.array([retargeter.joint_names.index(j) for j in robot_joints], dtype=int)
        self.source_names = set(retargeter.source_joint_names)
        self.target: dict[str, float] | None = None
        self.fresh = False
        self.seeded = False
        self.solves = 0
        self.failures = 0
        self.iterations = 0
        self.solve_ms_total = 0.0
        self.solve_ms_max = 0.0
        self.last_ms = 0.0
        self.last_mode = ""
        self.last_q: np.ndarray | None = None


class HandRetargetNode(Node):
    def __init__(self, **node_options: Any) -> None:
        # node_options: rclpy Node keywords, e.g. a container's per-node cli_args
        super().__init__("hand_retarget_node", **node_options)
        self.config = robot_config_from_parameters(self)
        rate = float(declare(self, "rate_hz", float(self.config.control_rate_hz)))
        # The policy's hand type: from the manifest through the graph plan, never assumed here.
        source = str(required(self, "source", Parameter.Type.STRING))
        alpha = float(declare(self, "lowpass_alpha", -1.0))
        solver = str(declare(self, "solver", ""))
        if not rate > 0:
            raise ValueError(f"parameter rate_hz must be > 0, got {rate}")
        if alpha >= 0 and not 0 < alpha <= 1:
            raise ValueError(f"parameter lowpass_alpha must be in (0, 1] (or < 0 for the hand config's), got {alpha}")
        if source.startswith("keypoints"):
            raise ValueError("parameter source: this node takes joint targets; name the policy's hand type")
        if not self.config.hands:
            raise ValueError(f"robot config {self.config.path.name} has no hands")
        self.dt = 1.0 / rate
        self.sides: dict[str, _Side] = {}
        hand_configs = robot_hand_configs(self.config)  # the same cross-check as `egoscale-ros check`
        for side, hand in self.config.hands.items():
            retargeter = Retargeter.from_config(hand_configs[side], side, source=source, solver=solver or None,
                                                rate_hz=rate)
            if alpha >= 0:
                retargeter.lowpass_alpha = alpha
            self.sides[side] = _Side(side, retargeter, hand.joints)
        self.known_names = set().union(*(s.source_names for s in self.sides.values()))
        self.joint_names = [j for s in self.sides.values() for j in s.robot_joints]

        self.joint_states = joint_state_listener(self, self.config, self.joint_names)
        self.guard = GuardedCommands(self, self.config, self.joint_names, self.joint_states)
        self.rejected_messages = 0
        self._target_time: float | None = None
        self._linked_stamp = -1.0  # stamp of the last targets handed over in process
        self.create_subscription(JointState, "command/hand_targets", self._on_targets, COMMAND_QOS)
        self.rate_hz = rate
        self.tick_timer = self.create_timer(self.dt, self._tick)
        self.diagnostics = Diagnostics(self, self._diag_values, self._diag_level)
        modes = ", ".join(
            f"{s}: {'pass-through' if x.retargeter.passthrough else x.retargeter.solver_name} "
            f"{source} -> {x.retargeter.config.name}"
            for s, x in self.sides.items()
        )
        outputs = ", ".join(p.output.ros_topic for p in self.guard.publishers) or "none"
        self.get_logger().info(f"hand retargeting for {self.config.name} at {rate:g} Hz ({modes}); outputs {outputs}")

    # -- input ----------------------------------------------------------------------------------
    def _on_targets(self, msg: JointState) -> None:
        try:
            names, positions = list(msg.name), list(msg.position)
            if len(names) != len(positions):
                raise ValueError(f"{len(names)} names but {len(positions)} positions")
            if len(set(names)) != len(names):
                raise ValueError("duplicate joint names")
            unknown = [n for n in names if n not in self.known_names]
            if unknown:
                raise ValueError(f"unknown joint name(s) {unknown[:5]}")
            bad = [n for n, p in zip(names, positions) if not math.isfinite(p)]
            if bad:
                raise ValueError(f"non-finite position for {bad[:5]}")
            stamp = stamp_to_sec(msg.header.stamp)
            if abs(stamp - self._linked_stamp) < 1e-6:
                return  # the tick's targets, already handed over in this process
            self._take(dict(zip(names, (float(p) for p in positions))), stamp)
        except ValueError as exc:
            self.rejected_messages += 1
            self.get_logger().warn(f"rejected command/hand_targets: {exc}", throttle_duration_sec=2.0)

    def take_targets(self, values: dict[str, float], stamp_s: float) -> None:
        """This tick's hand targets (policy hand joint name -> position), handed over by a chunk
        smoother of the same process (command_container) instead of over the topic."""
        self._linked_stamp = stamp_s
        try:
            if not all(math.isfinite(v) for v in values.values()):
                raise ValueError("non-finite position")
            self._take(values, stamp_s)
        except ValueError as exc:
            self.rejected_messages += 1
            self.get_logger().warn(f"rejected in-process hand targets: {exc}", throttle_duration_sec=2.0)

    def _take(self, values: dict[str, float], stamp: float) -> None:
        """Checks and keeps one message's targets; raises ValueError naming what is wrong."""
        updates = {}
        for side, s in self.sides.items():
            present = s.source_names.intersection(values)
            if not present:
                continue
            if present != s.source_names:
                raise ValueError(f"{side} hand: {len(s.source_names - present)} of its joints missing")
            updates[side] = {n: values[n] for n in s.source_names}
        if not updates:
            raise ValueError("no joint of any hand")
        ahead = stamp - now_sec(self)
        if ahead > FUTURE_TOLERANCE_S:
            raise ValueError(f"stamped {ahead:.3f} s in the future")
        for side, target in updates.items():
            self.sides[side].target = target
            self.sides[side].fresh = True
        self._target_time = stamp  # judged by its own stamp: a republished old target stays old

    # -- tick -----------------------------------------------------------------------------------
    def _tick(self) -> None:
        t = now_sec(self)
        measured = self.joint_states.snapshot()
        if self.guard.gate.estop.engaged:
            for s in self.sides.values():
                s.seeded = False  # resume from the measured hand after a reset
            self.guard.tick(t, None)
            return
        any_fresh = False
        for s in self.sides.values():
            if not s.seeded and all(j in measured for j in s.robot_joints):
                # Start the optimiser (and its velocity bound) from where the hand is.
                q0 = s.retargeter.last_output
                for j, i in zip(s.robot_joints, s.to_robot):
                    q0[i] = measured[j]
                s.retargeter.reset(q0)
                s.last_q = s.retargeter.last_output
                s.seeded = True
            if s.fresh and s.target is not None:
                s.fresh = False
                any_fresh = True
                self._retarget(s)
        target_q = None
        if any_fresh and self.joint_states.has(self.joint_names):
            parts = []
            for s in self.sides.values():
                if s.last_q is None:  # no target yet for this hand: hold it where it is
                    parts.append(np.array([measured[j] for j in s.robot_joints]))
                else:
                    parts.append(s.last_q[s.to_robot])
            target_q = np.concatenate(parts)
        self.guard.tick(t, target_q, target_time=self._target_time if target_q is not None else None)

    def _retarget(self, s: _Side) -> None:
        r = s.retargeter
        try:
            q = r.retarget(s.target, dt=self.dt)
        except (ValueError, RuntimeError) as exc:
            s.failures += 1
            self.get_logger().warn(f"{s.side} hand retargeting failed: {exc}", throttle_duration_sec=2.0)
            return
        stats = r.last_solve_stats
        if stats.mode == "hold":
            s.failures += 1
        s.last_q = q
        s.solves += 1
        s.iterations += stats.iterations
        s.last_ms = stats.total_ms
        s.solve_ms_total += stats.total_ms
        s.solve_ms_max = max(s.solve_ms_max, stats.total_ms)
        s.last_mode = stats.mode

    # -- diagnostics ----------------------------------------------------------------------------
    def _diag_values(self) -> dict:
        values: dict = {"rejected_messages": self.rejected_messages}
        for side, s in self.sides.items():
            values[f"{side}_target_hand"] = s.retargeter.config.name
            values[f"{side}_mode"] = s.last_mode or "idle"
            values[f"{side}_solves"] = s.solves
            values[f"{side}_failures"] = s.failures
            values[f"{side}_solve_ms"] = s.last_ms
            values[f"{side}_solve_ms_mean"] = s.solve_ms_total / s.solves if s.solves else 0.0
            values[f"{side}_solve_ms_max"] = s.solve_ms_max
            values[f"{side}_iterations_mean"] = s.iterations / s.solves if s.solves else 0.0
        values["failures"] = sum(s.failures for s in self.sides.values())
        values.update(self.guard.diagnostics())
        return values

    def _diag_level(self) -> tuple[int, str]:
        return self.guard.level(sum(s.failures for s in self.sides.values()), "failed retargeting solve(s)")


def main(args: list[str] | None = None) -> int:
    return run(HandRetargetNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
