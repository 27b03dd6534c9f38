"""The safety path every command node uses: limits, latched e-stop, gate, controller outputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from std_msgs.msg import Bool, Empty
from std_srvs.srv import Trigger

from egoscale_ros.nodes.wiring.controllers import (
    controller_publishers,
)
from egoscale_ros.nodes.wiring.joint_states import JointStateListener
from egoscale_ros.nodes.wiring.log import warning
from egoscale_ros.nodes.wiring.params import declare
from egoscale_ros.nodes.wiring.qos import ESTOP_VOLATILE_QOS, LATCHED_QOS
from egoscale_ros.robot.limits import joint_limits
from egoscale_ros.robot.spec import RobotConfig
from egoscale_ros.safety.gate import (
    INVALID_JOINT_STATE,
    STALE_JOINT_STATE,
    STALE_TARGET,
    UNTRUSTED_JOINT_STATE,
    GateStatus,
    SafetyGate,
    hold_reason_text,
)


class GuardedCommands:
    """The safety path every command node uses for one joint group.

    Builds a :class:`SafetyGate` with the limits in force (URDF tightened by config), follows the
    latched e-stop on ``safety/estop`` (std_msgs/Bool, True = pressed) and takes a reset on
    ``safety/estop_reset`` (std_msgs/Empty; refused while the e-stop input is still pressed), and
    publishes what the gate lets through on the controller outputs carrying these joints.
    """

    def __init__(self, node: Node, config: RobotConfig, joints: list[str], joint_states: JointStateListener):
        self.joints = list(joints)
        # speed_scale (launch argument, (0, 1]) lowers every velocity limit in force, never raises one.
        self.limits = joint_limits(config, self.joints, float(declare(node, "speed_scale", 1.0)))
        self.gate = SafetyGate(
            self.limits,
            target_timeout_s=config.safety.target_timeout_s,
            joint_state_timeout_s=config.safety.joint_state_timeout_s,
        )
        self.joint_states = joint_states
        self.publishers = controller_publishers(node, config, self.joints)
        self.last_status = GateStatus(("no_joint_state",))
        self._node = node
        self._last_state_stamp = -math.inf
        self._last_sent: tuple[float, np.ndarray] | None = None
        self.max_step_ratio = 0.0
        self.estop_moving_ticks = 0
        self.ticks = 0  # control ticks this node ran (its timer's callbacks)
        # Two subscriptions: a transient-local one receives the latched value a late-joining node
        # missed; a volatile one matches every publisher, `ros2 topic pub` defaults included.
        node.create_subscription(Bool, "safety/estop", self._on_estop, LATCHED_QOS)
        node.create_subscription(Bool, "safety/estop", self._on_estop, ESTOP_VOLATILE_QOS)
        node.create_subscription(Empty, "safety/estop_reset", self._on_reset, 10)
        # The same as services, per node: ros2 service call <node>/estop std_srvs/srv/Trigger
        node.create_service(Trigger, f"{node.get_name()}/estop", self._srv_estop)
        node.create_service(Trigger, f"{node.get_name()}/estop_reset", self._srv_reset)

    def _on_estop(self, msg: Bool) -> None:
        was = self.gate.estop.engaged
        self.gate.estop.update("safety/estop", bool(msg.data))
        if self.gate.estop.engaged and not was:
            self._node.get_logger().error("E-STOP engaged: holding all commands until reset")

    def _on_reset(self, _msg: Empty | None = None) -> bool:
        if self.gate.reset_estop():
            warning(self._node)("e-stop reset: resuming from fresh measured feedback")
            return True
        self._node.get_logger().error(f"e-stop reset refused: still pressed {self.gate.estop.pressed_inputs}")
        return False

    def _srv_estop(self, _request, response):
        was = self.gate.estop.engaged
        self.gate.estop.trigger("estop service")
        if not was:
            self._node.get_logger().error("E-STOP engaged by service: holding all commands until reset")
        response.success, response.message = True, "e-stop engaged"
        return response

    def _srv_reset(self, _request, response):
        response.success = self._on_reset()
        response.message = ("e-stop cleared" if response.success
                            else f"refused: still pressed {self.gate.estop.pressed_inputs}")
        return response

    def tick(self, t: float, target: np.ndarray | None, target_time: float | None = None) -> np.ndarray | None:
        """Pass ``target`` (this group's joint order, or None) through the gate and publish the result."""
        self.ticks += 1
        measured = None
        measured_time = None
        js = self.joint_states
        if js.received_s != self._last_state_stamp and js.has(self.joints) and not js.source_problem:
            q = js.snapshot()
            measured = np.array([q[j] for j in self.joints])
            self._last_state_stamp = js.received_s
            measured_time = js.stamp_s  # judged by its own stamp: a delayed state is old
        command, self.last_status = self.gate.command(
            t, target, measured, target_time=target_time, measured_time=measured_time,
            feedback_problem=js.source_problem,
        )
        if command is not None:
            self._measure_step(t, command)
            velocities = self.gate.limiter.velocity
            for pub in self.publishers:
                pub.publish_arrays(self.joints, command, velocities, stamp_s=t)
        return command

    def _measure_step(self, t: float, command: np.ndarray) -> None:
        """Largest step between two published commands over velocity limit × their real time
        apart — an independent check of what went out (1 = at the velocity limit) — and, while
        the e-stop is engaged, how many published commands still moved (0 = frozen at once)."""
        if self.gate.estop.engaged and self._last_sent is not None and np.any(command != self._last_sent[1]):
            self.estop_moving_ticks += 1
        if self._last_sent is not None and t > self._last_sent[0]:
            ratio = float(np.max(np.abs(command - self._last_sent[1]) / (self.limits.velocity * (t - self._last_sent[0]))))
            self.max_step_ratio = max(self.max_step_ratio, ratio)
        self._last_sent = (t, command.copy())

    def level(self, failures: int, what: str) -> tuple[int, str]:
        """Diagnostic level of a command node: e-stop > holding > ``failures`` of ``what`` > OK."""
        if self.gate.estop.engaged:
            return DiagnosticStatus.ERROR, "e-stop engaged: holding"
        if self.last_status.holding:
            text = hold_reason_text(self.last_status)
            # An input that was flowing and went stale (judged by its own stamp) is a dead or
            # stalled upstream stage: an error, not a start-up wait.
            stale = {STALE_TARGET, STALE_JOINT_STATE, INVALID_JOINT_STATE, UNTRUSTED_JOINT_STATE}.intersection(
                self.last_status.reasons)
            return (DiagnosticStatus.ERROR if stale else DiagnosticStatus.WARN), text
        flow = self.joint_states.flow_problem()
        if flow:
            return DiagnosticStatus.WARN, f"tracking; {flow}"
        if failures:
            return DiagnosticStatus.WARN, f"tracking; {failures} {what} so far"
        return DiagnosticStatus.OK, "tracking"

    def diagnostics(self) -> dict[str, Any]:
        values: dict[str, Any] = {f"gate_{k}": v for k, v in self.gate.counts.items()}
        values["estop"] = self.gate.estop.engaged
        values["holding"] = ",".join(self.last_status.reasons) or "no"
        values["max_step_ratio"] = self.max_step_ratio
        values["estop_moving_ticks"] = self.estop_moving_ticks
        # Counted where they happen, so a missed tick is told apart from a message lost on the way.
        values["control_ticks"] = self.ticks
        for pub in self.publishers:
            values[f"published {pub.output.ros_topic}"] = pub.published
        values.update(self.joint_states.diagnostics())
        return values
