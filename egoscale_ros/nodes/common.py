"""Shared plumbing of the node shells: parameters, QoS, messages, diagnostics, controller outputs.

Only ROS wiring lives here; anything that computes belongs in the core packages. Uses rclpy API
that exists since ROS 2 Humble.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import rclpy
from builtin_interfaces.msg import Duration, Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Transform
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Empty, Float64MultiArray, MultiArrayDimension
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from egoscale_ros.kinematics import se3
from egoscale_ros.robot.config import ControllerOutput, RobotConfig, load_robot_config
from egoscale_ros.robot.limits import joint_limits
from egoscale_ros.safety.gate import GateStatus, SafetyGate

# Latest-value streams (images, joint states at 200 Hz): a late sample is worthless.
SENSOR_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.BEST_EFFORT
)
# Chunks, targets and commands: every message matters, small queue so nothing old piles up.
COMMAND_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Instruction and e-stop: a late joiner must get the last value.
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
# Joint states are published reliably by the mock (and by most drivers); a best-effort
# subscriber matches both reliable and best-effort publishers.
JOINT_STATE_QOS = SENSOR_QOS

# joint_names of wrist chunks and targets -> arm side
SIDE_OF_WRIST = {"left_wrist": "left", "right_wrist": "right"}


# --- time --------------------------------------------------------------------------------------

def stamp_to_ns(stamp: Time) -> int:
    """Exact integer nanoseconds of a stamp (a dictionary key that floats cannot be)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def stamp_to_sec(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_stamp(t: float) -> Time:
    return ns_to_stamp(round(t * 1e9))


def sec_to_duration(t: float) -> Duration:
    # Through integer nanoseconds: splitting the float first can round nanosec up to 1e9.
    ns = round(t * 1e9)
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def duration_to_sec(d: Duration) -> float:
    return d.sec + d.nanosec * 1e-9


def now_sec(node: Node) -> float:
    return node.get_clock().now().nanoseconds * 1e-9


# --- geometry ----------------------------------------------------------------------------------

def transform_to_matrix(msg: Transform) -> np.ndarray:
    q = msg.rotation
    t = msg.translation
    return se3.make_transform(se3.quat_to_matrix(np.array([q.x, q.y, q.z, q.w])), np.array([t.x, t.y, t.z]))


def transforms_to_matrices(points: list, per_point: int) -> np.ndarray:
    """``(len(points), per_point, 4, 4)`` poses of MultiDOFJointTrajectory points, in one batch.

    Raises ValueError when a point does not carry ``per_point`` transforms.
    """
    rows = []
    for k, p in enumerate(points):
        if len(p.transforms) != per_point:
            raise ValueError(f"point {k} carries {len(p.transforms)} transforms for {per_point} joints")
        rows.append([(t.translation.x, t.translation.y, t.translation.z,
                      t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w) for t in p.transforms])
    values = np.array(rows, dtype=float).reshape(len(points), per_point, 7)
    poses = np.zeros((len(points), per_point, 4, 4))
    poses[..., :3, :3] = se3.quat_to_matrix(values[..., 3:])
    poses[..., :3, 3] = values[..., :3]
    poses[..., 3, 3] = 1.0
    return poses


def matrix_to_transform(m: np.ndarray) -> Transform:
    msg = Transform()
    msg.translation.x, msg.translation.y, msg.translation.z = (float(v) for v in m[:3, 3])
    q = se3.matrix_to_quat(m[:3, :3])
    msg.rotation.x, msg.rotation.y, msg.rotation.z, msg.rotation.w = (float(v) for v in q)
    return msg


# --- parameters --------------------------------------------------------------------------------

def declare(node: Node, name: str, default: Any) -> Any:
    """Declare a parameter with a default and return its value."""
    return node.declare_parameter(name, default).value


def robot_config_from_parameters(node: Node) -> RobotConfig:
    """Load the robot config named by the ``robot`` parameter (``urdf`` may override its URDF).

    A bad config is fatal at start: the error names the file and field.
    """
    robot = declare(node, "robot", "g1_dex3")
    urdf = declare(node, "urdf", "")
    return load_robot_config(robot, urdf_override=urdf or None)


# --- diagnostics -------------------------------------------------------------------------------

class Diagnostics:
    """Publishes one DiagnosticStatus for the node on ``/diagnostics`` at a fixed period.

    ``values`` is a callable returning the current key/value pairs; ``level`` returns
    (level, message). Counters live in the node; this class only formats and publishes.
    """

    def __init__(
        self,
        node: Node,
        values: Callable[[], dict[str, Any]],
        level: Callable[[], tuple[int, str]] | None = None,
        period_s: float = 1.0,
    ):
        self._node = node
        self._values = values
        self._level = level or (lambda: (DiagnosticStatus.OK, "ok"))
        self._pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._timer = node.create_timer(period_s, self.publish)

    def publish(self) -> None:
        level, message = self._level()
        status = DiagnosticStatus()
        status.level = _level_byte(level)
        status.name = f"{self._node.get_namespace().rstrip('/')}/{self._node.get_name()}"
        status.message = message
        status.hardware_id = self._node.get_name()
        status.values = [KeyValue(key=str(k), value=_fmt(v)) for k, v in self._values().items()]
        msg = DiagnosticArray()
        msg.header.stamp = self._node.get_clock().now().to_msg()
        msg.status = [status]
        self._pub.publish(msg)


def _level_byte(level: int | bytes) -> bytes:
    """DiagnosticStatus.level is a byte field: constants are bytes in rclpy, user code may pass int."""
    if isinstance(level, (bytes, bytearray)):
        return bytes(level[:1])
    return bytes([int(level)])


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def diagnostic_level(status: DiagnosticStatus) -> int:
    lvl = status.level
    return lvl[0] if isinstance(lvl, (bytes, bytearray)) else int(lvl)


# --- controller outputs ------------------------------------------------------------------------

def controller_qos(output: ControllerOutput) -> QoSProfile:
    """QoS of a controller output as configured (Galaxea's interface is best effort, depth 1).

    The internal topic of an adapter output is reliable: robot_interface_node takes every command.
    """
    if output.reliable or not output.is_ros:
        return COMMAND_QOS
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)


class ControllerPublisher:
    """Publishes joint commands on one controller output of the robot config.

    The message type, topic and joint order come from config (JointState, Float64MultiArray as
    for ros2_control forward controllers, or a one-point JointTrajectory). An output served by a
    maker's interface adapter is published as a named JointState on its ``ros_topic``
    (``command/joints/<name>``), which robot_interface_node turns into the maker's message.
    """

    def __init__(self, node: Node, output: ControllerOutput, horizon_s: float = 0.02):
        self.output = output
        self._node = node
        self._horizon_s = horizon_s
        msg_type = {"JointState": JointState, "Float64MultiArray": Float64MultiArray,
                    "JointTrajectory": JointTrajectory}[output.ros_type]
        self._pub = node.create_publisher(msg_type, output.ros_topic, controller_qos(output))
        self._type = output.ros_type
        self.published = 0

    def publish(self, positions: dict[str, float], velocities: dict[str, float] | None = None) -> None:
        """Publish the joints this output carries; every one of them must be in ``positions``."""
        names = self.output.joints
        q = [float(positions[j]) for j in names]
        dq = [float(velocities.get(j, 0.0)) for j in names] if velocities else []
        if self._type == "JointState":
            msg = JointState()
            msg.header.stamp = self._node.get_clock().now().to_msg()
            msg.name = list(names)
            msg.position = q
            msg.velocity = dq
        elif self._type == "Float64MultiArray":
            msg = Float64MultiArray()
            msg.layout.dim = [MultiArrayDimension(label="joints", size=len(q), stride=len(q))]
            msg.data = q
        else:
            msg = JointTrajectory()
            msg.header.stamp = self._node.get_clock().now().to_msg()
            msg.joint_names = list(names)
            msg.points = [JointTrajectoryPoint(positions=q, velocities=dq,
                                               time_from_start=sec_to_duration(self._horizon_s))]
        self._pub.publish(msg)
        self.published += 1


def controller_publishers(node: Node, config: RobotConfig, joints: Iterable[str]) -> list[ControllerPublisher]:
    """Publishers for every controller output that carries any of ``joints``."""
    return [ControllerPublisher(node, out) for out in config.controller_for(list(joints))]


def decode_controller_message(msg: Any, output: ControllerOutput) -> dict[str, float]:
    """Joint positions carried by a controller command message (used by the mock hardware).

    Raises ValueError naming the topic when the message does not fit the configured joints.
    """
    if isinstance(msg, Float64MultiArray):
        if len(msg.data) != len(output.joints):
            raise ValueError(
                f"{output.ros_topic}: Float64MultiArray has {len(msg.data)} values, expected {len(output.joints)}"
            )
        return dict(zip(output.joints, (float(v) for v in msg.data)))
    if isinstance(msg, JointState):
        names, values = list(msg.name), list(msg.position)
    elif isinstance(msg, JointTrajectory):
        if not msg.points:
            raise ValueError(f"{output.ros_topic}: JointTrajectory has no points")
        names, values = list(msg.joint_names), list(msg.points[0].positions)
    else:
        raise ValueError(f"{output.ros_topic}: unsupported message type {type(msg).__name__}")
    if len(names) != len(values):
        raise ValueError(f"{output.ros_topic}: {len(names)} names but {len(values)} positions")
    unknown = set(names) - set(output.joints)
    if unknown:
        raise ValueError(f"{output.ros_topic}: joints {sorted(unknown)} are not in controller '{output.name}'")
    return {n: float(v) for n, v in zip(names, values)}


# --- joint states ------------------------------------------------------------------------------

class JointStateListener:
    """Keeps the latest measured joint positions (thread-safe) and when they arrived."""

    def __init__(self, node: Node, topic: str = "joint_states", on_update: Callable[[JointState], None] | None = None):
        self._lock = threading.Lock()
        self.positions: dict[str, float] = {}
        self.stamp_s = -math.inf  # message stamp
        self.received_s = -math.inf  # local monotonic receive time
        self.rejected = 0
        self._on_update = on_update
        node.create_subscription(JointState, topic, self._callback, JOINT_STATE_QOS)

    def _callback(self, msg: JointState) -> None:
        if len(msg.name) != len(msg.position) or not all(math.isfinite(p) for p in msg.position):
            self.rejected += 1
            return
        with self._lock:
            self.positions.update(zip(msg.name, msg.position))
            self.stamp_s = stamp_to_sec(msg.header.stamp)
            self.received_s = time.monotonic()
        if self._on_update is not None:
            self._on_update(msg)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self.positions)

    def age_s(self) -> float:
        return time.monotonic() - self.received_s

    def has(self, joints: Iterable[str]) -> bool:
        with self._lock:
            return all(j in self.positions for j in joints)


# --- safety ------------------------------------------------------------------------------------

class GuardedCommands:
    """The safety path every command node uses for one joint group.

    Builds a :class:`SafetyGate` with the limits in force (URDF tightened by config), follows the
    latched e-stop on ``safety/estop`` (std_msgs/Bool, True = pressed) and takes a reset on
    ``safety/estop_reset`` (std_msgs/Empty; refused while the e-stop input is still pressed), and
    publishes what the gate lets through on the controller outputs carrying these joints.
    """

    def __init__(self, node: Node, config: RobotConfig, joints: list[str], joint_states: JointStateListener):
        self.joints = list(joints)
        self.limits = joint_limits(config, self.joints)
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
        node.create_subscription(Bool, "safety/estop", self._on_estop, LATCHED_QOS)
        node.create_subscription(Empty, "safety/estop_reset", self._on_reset, 10)

    def _on_estop(self, msg: Bool) -> None:
        was = self.gate.estop.engaged
        self.gate.estop.update("safety/estop", bool(msg.data))
        if self.gate.estop.engaged and not was:
            self._node.get_logger().error("E-STOP engaged: holding all commands until reset")

    def _on_reset(self, _msg: Empty) -> None:
        if self.gate.reset_estop():
            self._node.get_logger().warn("e-stop reset: resuming from the measured pose")
        else:
            self._node.get_logger().error(f"e-stop reset refused: still pressed {self.gate.estop.pressed_inputs}")

    def tick(self, t: float, target: np.ndarray | None, target_time: float | None = None) -> np.ndarray | None:
        """Pass ``target`` (this group's joint order, or None) through the gate and publish the result."""
        measured = None
        measured_time = None
        if self.joint_states.received_s != self._last_state_stamp and self.joint_states.has(self.joints):
            q = self.joint_states.snapshot()
            measured = np.array([q[j] for j in self.joints])
            self._last_state_stamp = self.joint_states.received_s
            measured_time = t - self.joint_states.age_s()
        command, self.last_status = self.gate.command(
            t, target, measured, target_time=target_time, measured_time=measured_time
        )
        if command is not None:
            positions = dict(zip(self.joints, command.tolist()))
            velocities = dict(zip(self.joints, self.gate.limiter.velocity.tolist()))
            for pub in self.publishers:
                pub.publish(positions, velocities)
        return command

    def level(self, failures: int, what: str) -> tuple[int, str]:
        """Diagnostic level of a command node: e-stop > holding > ``failures`` of ``what`` > OK."""
        if self.gate.estop.engaged:
            return DiagnosticStatus.ERROR, "e-stop engaged: holding"
        if self.last_status.holding:
            return DiagnosticStatus.WARN, "holding: " + ", ".join(self.last_status.reasons)
        if failures:
            return DiagnosticStatus.WARN, f"tracking; {failures} {what} so far"
        return DiagnosticStatus.OK, "tracking"

    def diagnostics(self) -> dict[str, Any]:
        values: dict[str, Any] = {f"gate_{k}": v for k, v in self.gate.counts.items()}
        values["estop"] = self.gate.estop.engaged
        values["holding"] = ",".join(self.last_status.reasons) or "no"
        return values


# --- process entry -----------------------------------------------------------------------------

def run(node_factory: Callable[[], Node], args: list[str] | None = None, threads: int = 1) -> int:
    """Standard ``main()``: init, build the node, spin until SIGINT/shutdown, clean up.

    A node that fails to start (bad config, missing model, unopenable camera) prints one clear
    line naming what is wrong and exits with status 1.
    """
    # Installed before rclpy.init, which chains its own SIGINT handler to this one: a SIGINT can
    # surface inside rclpy's C++ calls as some other exception, and this flag tells it apart.
    stop_requested = threading.Event()

    def on_sigint(signum, frame):
        stop_requested.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    try:
        try:
            node = node_factory()
        except KeyboardInterrupt:  # stopped while starting (e.g. while the policy is prepared)
            return 0
        except Exception as exc:
            print(f"[FATAL] {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            return 1
        if threads > 1:
            from rclpy.executors import MultiThreadedExecutor

            executor = MultiThreadedExecutor(num_threads=threads)
        else:
            from rclpy.executors import SingleThreadedExecutor

            executor = SingleThreadedExecutor()
        executor.add_node(node)
        try:
            executor.spin()
        except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
            pass
        except Exception:
            # A SIGINT arriving inside a take or publish surfaces as that call's error, and one
            # racing the context teardown likewise. Only an error with no stop requested fails.
            if node.context.ok() and not stop_requested.is_set():
                raise
        return 0
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
