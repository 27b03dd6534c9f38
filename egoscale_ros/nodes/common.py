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
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from egoscale_ros.kinematics import se3
from egoscale_ros.nodes.joint_state_view import JointStateView
from egoscale_ros.robot.config import ControllerOutput, RobotConfig, load_robot_config
from egoscale_ros.robot.limits import joint_limits
from egoscale_ros.safety.gate import (
    INVALID_JOINT_STATE,
    STALE_JOINT_STATE,
    STALE_TARGET,
    UNTRUSTED_JOINT_STATE,
    GateStatus,
    SafetyGate,
    hold_reason_text,
)

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
# E-stop from any publisher: volatile and reliable matches volatile and transient-local writers.
ESTOP_VOLATILE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Joint states are published reliably by the mock (and by most drivers); a best-effort
# subscriber matches both reliable and best-effort publishers.
JOINT_STATE_QOS = SENSOR_QOS

# How far ahead of this node's clock an input may be stamped (clock offset between computers);
# later is a clock gone wrong, and the input is refused.
FUTURE_TOLERANCE_S = 0.1

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
    (level, message). Counters live in the node; this class only formats and publishes. Every
    status also carries ``cpu_percent``: the process's CPU time over the last period (100 = one
    core), so recordings show each node's cost over time.
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
        self._cpu_mark = (time.monotonic(), time.process_time())

    def _cpu_percent(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        last_wall, last_cpu = self._cpu_mark
        self._cpu_mark = (wall, cpu)
        return round(100.0 * (cpu - last_cpu) / max(wall - last_wall, 1e-9), 1)

    def publish(self) -> None:
        level, message = self._level()
        status = DiagnosticStatus()
        status.level = _level_byte(level)
        status.name = f"{self._node.get_namespace().rstrip('/')}/{self._node.get_name()}"
        status.message = message
        status.hardware_id = self._node.get_name()
        values = {**self._values(), "cpu_percent": self._cpu_percent()}
        status.values = [KeyValue(key=str(k), value=_fmt(v)) for k, v in values.items()]
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
    """The node's view of the measured joints: whole, fresh, consistent messages from one source.

    ``joints``: what the node needs; a message lacking any of them is refused (never merged with
    another publisher's part). ``max_speed`` (per joint, rad/s) bounds how far the joints may
    have moved between two accepted messages. The publishers of ``topic`` are checked against
    ``source`` (a node name; '' = exactly one publisher) at ``check_period_s``; while they do not
    match, :attr:`source_problem` says why and the command path holds.
    """

    def __init__(self, node: Node, joints: Iterable[str] = (), max_speed: np.ndarray | None = None,
                 topic: str = "joint_states", source: str = "", check_period_s: float = 0.1,
                 on_update: Callable[[JointState], None] | None = None):
        from egoscale_ros.safety.feedback import FeedbackFilter

        joints = list(joints)
        speed = np.full(len(joints), 10.0) if max_speed is None else np.asarray(max_speed, dtype=float)
        self._lock = threading.Lock()
        self._node = node
        self.topic = topic
        self.source = source
        self.filter = FeedbackFilter(joints, speed, future_tolerance_s=FUTURE_TOLERANCE_S)
        self._received_s = -math.inf  # local monotonic arrival time of the last accepted message
        self.source_problem = ""
        self._on_update = on_update
        # Taken when a tick asks, from the process's one subscription: no callback per message.
        self._view = JointStateView.shared(node, topic)
        self._seen = 0
        node.create_timer(check_period_s, self.check_source)

    def check_source(self) -> str:
        """Compare the topic's publishers with the declared source now; returns the problem ('' = ok)."""
        from egoscale_ros.safety.feedback import source_verdict

        name = self._node.resolve_topic_name(self.topic)
        pubs = [i.node_name for i in self._node.get_publishers_info_by_topic(name)]
        problem = source_verdict(pubs, self.source)
        if problem == "no publisher":
            problem = ""  # silence is the stale-state watchdog's to judge
        if problem and not self.source_problem:
            self._node.get_logger().error(f"{self.topic}: {problem}; holding, no start or resume from it")
            with self._lock:
                self.filter.forget()  # nothing heard while two sources mixed counts
        self.source_problem = problem
        return problem

    def poll(self) -> None:
        """Offer the newest joint state this node has not seen yet to its checks."""
        taken = self._view.newest()
        if taken is None or taken.seq == self._seen:
            return
        self._seen = taken.seq
        self._callback(taken.msg, taken.received_s)

    @property
    def received_s(self) -> float:
        self.poll()
        return self._received_s

    def _callback(self, msg: JointState, received_s: float | None = None) -> None:
        with self._lock:
            ok = self.filter.offer(list(msg.name), list(msg.position), stamp_to_sec(msg.header.stamp),
                                   now_sec(self._node))
            if ok:
                self._received_s = time.monotonic() if received_s is None else received_s
        if not ok:
            self._node.get_logger().warn(f"{self.topic} refused: {self.filter.last_reason}",
                                         throttle_duration_sec=2.0)
        elif self._on_update is not None:
            self._on_update(msg)

    @property
    def rejected(self) -> int:
        return self.filter.counters.rejected()

    @property
    def stamp_s(self) -> float:
        self.poll()
        return self.filter.stamp_s

    @property
    def positions(self) -> dict[str, float]:
        return self.snapshot()

    def snapshot(self) -> dict[str, float]:
        self.poll()
        with self._lock:
            return dict(self.filter.positions)

    def age_s(self) -> float:
        return time.monotonic() - self.received_s

    def has(self, joints: Iterable[str]) -> bool:
        self.poll()
        with self._lock:
            return all(j in self.filter.positions for j in joints)

    def diagnostics(self) -> dict[str, Any]:
        c = self.filter.counters
        return {"joint_state_accepted": c.accepted, "joint_state_partial": c.partial,
                "joint_state_inconsistent": c.inconsistent, "joint_state_future": c.future,
                "joint_state_out_of_order": c.out_of_order, "joint_state_malformed": c.malformed,
                "joint_state_source": self.source_problem or "ok"}


def joint_state_listener(node: Node, config: RobotConfig, joints: list[str]) -> JointStateListener:
    """The listener a command node needs for ``joints``; parameter ``joint_state_source`` names the
    one node allowed to publish ``joint_states`` ('' = any single publisher)."""
    source = str(declare(node, "joint_state_source", ""))
    speed = [config.joint_info(j).velocity for j in joints]
    # Physical bound for the consistency check: the URDF's velocity (10 rad/s where it gives none).
    speed = np.array([v if math.isfinite(v) and v > 0 else 10.0 for v in speed])
    return JointStateListener(node, joints, speed, source=source)


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
            self._node.get_logger().warn("e-stop reset: resuming from fresh measured feedback")
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
            text = hold_reason_text(self.last_status)
            # An input that was flowing and went stale (judged by its own stamp) is a dead or
            # stalled upstream stage: an error, not a start-up wait.
            stale = {STALE_TARGET, STALE_JOINT_STATE, INVALID_JOINT_STATE, UNTRUSTED_JOINT_STATE}.intersection(
                self.last_status.reasons)
            return (DiagnosticStatus.ERROR if stale else DiagnosticStatus.WARN), text
        if failures:
            return DiagnosticStatus.WARN, f"tracking; {failures} {what} so far"
        return DiagnosticStatus.OK, "tracking"

    def diagnostics(self) -> dict[str, Any]:
        values: dict[str, Any] = {f"gate_{k}": v for k, v in self.gate.counts.items()}
        values["estop"] = self.gate.estop.engaged
        values["holding"] = ",".join(self.last_status.reasons) or "no"
        values.update(self.joint_states.diagnostics())
        return values


# --- process entry -----------------------------------------------------------------------------

def run(node_factory: Callable[[], Node | list[Node]], args: list[str] | None = None, threads: int = 1) -> int:
    """Standard ``main()``: init, build the node (or a container's nodes), spin them on one
    executor until SIGINT/shutdown, clean up.

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
    nodes: list[Node] = []
    try:
        try:
            built = node_factory()
            nodes = built if isinstance(built, list) else [built]
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
        for node in nodes:
            executor.add_node(node)
        try:
            executor.spin()
        except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
            pass
        except Exception:
            # A SIGINT arriving inside a take or publish surfaces as that call's error, and one
            # racing the context teardown likewise. Only an error with no stop requested fails.
            if nodes[0].context.ok() and not stop_requested.is_set():
                raise
        return 0
    finally:
        for node in nodes:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
