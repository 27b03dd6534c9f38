"""wrist_ik_node: per-tick wrist targets → arm joint commands, through the safety gate.

Subscribes ``command/wrist_targets`` (trajectory_msgs/MultiDOFJointTrajectory, one point,
joint_names among ``left_wrist``/``right_wrist``, transforms in the robot's base frame) and
``joint_states``. Every tick at ``rate_hz`` it solves both arms for the newest targets
(``egoscale_ros.ik.wrist_ik``; joints outside the arms locked at their measured values), passes
the solution through the safety gate (limits, velocity/acceleration limiting from the measured
pose, e-stop on ``safety/estop``, watchdogs on stale targets and joint states → hold) and
publishes on the robot's configured controller outputs. Diagnostics: solver, solve times, IK
failures (unreachable targets answered with the best pose within limits), gate state.

Parameters: ``robot`` (config name or path), ``urdf`` (optional override, e.g. the maker's
full-body file), ``solver`` (``dls`` | ``casadi``), ``rate_hz`` (default: the config's
``control_rate_hz``), ``time_budget_ms`` (per arm, for restarts after a failed descent; default a
third of the tick shared by the arms).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rclpy.node import Node
from trajectory_msgs.msg import MultiDOFJointTrajectory

from egoscale_ros.ik.wrist_ik import SOLVERS, WristIk
from egoscale_ros.nodes.wiring.diagnostics import Diagnostics
from egoscale_ros.nodes.wiring.guarded import GuardedCommands
from egoscale_ros.nodes.wiring.joint_states import joint_state_listener
from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare, robot_config_from_parameters
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS
from egoscale_ros.nodes.wiring.stamps import FUTURE_TOLERANCE_S, now_sec, stamp_to_sec
from egoscale_ros.nodes.wiring.transforms import SIDE_OF_WRIST, transform_to_matrix


class WristIkNode(Node):
    def __init__(self, **node_options: Any) -> None:
        # node_options: rclpy Node keywords, e.g. a container's per-node cli_args
        super().__init__("wrist_ik_node", **node_options)
        self.config = robot_config_from_parameters(self)
        solver = str(declare(self, "solver", "dls"))
        rate = float(declare(self, "rate_hz", float(self.config.control_rate_hz)))
        if solver not in SOLVERS:
            raise ValueError(f"parameter solver: '{solver}' is not one of {', '.join(SOLVERS)}")
        if not rate > 0:
            raise ValueError(f"parameter rate_hz must be > 0, got {rate}")
        # Restarts after a failed descent stop after this long per arm (an unreachable target must
        # not eat the tick): by default a third of the tick, shared by the arms.
        budget_ms = float(declare(self, "time_budget_ms", 1e3 / rate / 3.0 / len(self.config.arms)))
        if not budget_ms >= 0:
            raise ValueError(f"parameter time_budget_ms must be >= 0, got {budget_ms}")
        # The config already carries a `urdf` override.
        self.ik = WristIk(self.config, solver, time_budget_s=budget_ms / 1e3)
        self.joint_states = joint_state_listener(self, self.config, self.ik.joint_names)
        self.guard = GuardedCommands(self, self.config, self.ik.joint_names, self.joint_states)

        self._targets: dict[str, np.ndarray] = {}
        self._target_time: float | None = None
        self._fresh = False
        self._linked_stamp = -1.0  # stamp of the last targets handed over in process
        self.rejected_messages = 0
        self.invalid_solves = 0
        self.create_subscription(
            MultiDOFJointTrajectory, "command/wrist_targets", self._on_targets, COMMAND_QOS
        )
        self.rate_hz = rate
        self.tick_timer = self.create_timer(1.0 / rate, self._tick)
        self.diagnostics = Diagnostics(self, self._diag_values, self._diag_level)
        outputs = ", ".join(p.output.ros_topic for p in self.guard.publishers) or "none"
        self.get_logger().info(
            f"wrist IK for {self.config.name}: solver {solver}, {rate:g} Hz, arms "
            f"{', '.join(self.ik.chains)}, base frame {self.config.base_frame}, outputs {outputs}"
        )

    # -- input ----------------------------------------------------------------------------------
    def _on_targets(self, msg: MultiDOFJointTrajectory) -> None:
        try:
            if not msg.points:
                raise ValueError("no points")
            point = msg.points[-1]
            if len(point.transforms) != len(msg.joint_names):
                raise ValueError(f"{len(point.transforms)} transforms for {len(msg.joint_names)} joint_names")
            if msg.header.frame_id and msg.header.frame_id != self.config.base_frame:
                raise ValueError(
                    f"header.frame_id '{msg.header.frame_id}' is not the base frame '{self.config.base_frame}'"
                )
            stamp = stamp_to_sec(msg.header.stamp)
            if abs(stamp - self._linked_stamp) < 1e-6:
                return  # the tick's targets, already handed over in this process
            ahead = stamp - now_sec(self)
            if ahead > FUTURE_TOLERANCE_S:
                raise ValueError(f"stamped {ahead:.3f} s in the future")
            targets = {}
            for name, tf in zip(msg.joint_names, point.transforms):
                side = SIDE_OF_WRIST.get(name)
                if side is None:
                    raise ValueError(f"joint_name '{name}' is not one of {', '.join(SIDE_OF_WRIST)}")
                if side not in self.ik.chains:
                    continue
                pose = transform_to_matrix(tf)
                if not np.isfinite(pose).all():
                    raise ValueError(f"{name}: non-finite transform")
                targets[side] = pose
        except ValueError as exc:
            self.rejected_messages += 1
            self.get_logger().warn(f"rejected command/wrist_targets: {exc}", throttle_duration_sec=2.0)
            return
        self._take(targets, stamp)

    def take_targets(self, wrist: dict[str, np.ndarray], stamp_s: float) -> None:
        """This tick's wrist targets (side -> 4x4 in the base frame), handed over by a chunk
        smoother of the same process (command_container) instead of over the topic."""
        targets = {side: pose for side, pose in wrist.items() if side in self.ik.chains}
        if not all(np.isfinite(pose).all() for pose in targets.values()):
            self.rejected_messages += 1
            self.get_logger().warn("rejected in-process wrist targets: non-finite transform",
                                   throttle_duration_sec=2.0)
            return
        self._linked_stamp = stamp_s
        self._take(targets, stamp_s)

    def _take(self, targets: dict[str, np.ndarray], stamp: float) -> None:
        self._targets.update(targets)
        self._target_time = stamp  # judged by its own stamp: a republished old target stays old
        self._fresh = True

    # -- tick -----------------------------------------------------------------------------------
    def _tick(self) -> None:
        t = now_sec(self)
        target_q = None
        if self._fresh and self.joint_states.has(self.ik.joint_names):
            self._fresh = False
            try:
                target_q = self.ik.solve(self._targets, self.joint_states.snapshot())
            except ValueError as exc:  # a malformed target: hold, say why
                self.invalid_solves += 1
                self.get_logger().warn(str(exc), throttle_duration_sec=2.0)
        self.guard.tick(t, target_q, target_time=self._target_time if target_q is not None else None)
        if self.guard.gate.estop.engaged:
            self.ik.reset()  # resume from the measured pose after a reset

    # -- diagnostics ----------------------------------------------------------------------------
    def _diag_values(self) -> dict:
        st = self.ik.stats
        values = {
            "solver": self.ik.solver_name,
            "solves": st.solves,
            "ik_failures": st.failures,
            "solve_ms_mean": st.mean_solve_ms,
            "solve_ms_max": st.max_solve_ms,
            "rejected_messages": self.rejected_messages,
            "invalid_targets": self.invalid_solves,
        }
        for side, ms in st.last_solve_ms.items():
            values[f"{side}_solve_ms"] = ms
        for side, (dp, dr) in st.last_error.items():
            values[f"{side}_position_error_mm"] = dp * 1e3
            values[f"{side}_rotation_error_deg"] = float(np.degrees(dr))
        values.update(self.guard.diagnostics())
        return values

    def _diag_level(self) -> tuple[int, str]:
        return self.guard.level(self.ik.stats.failures, "unreachable target(s)")


def main(args: list[str] | None = None) -> int:
    return run(WristIkNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
