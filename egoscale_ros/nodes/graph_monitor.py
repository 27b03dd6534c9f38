"""graph_monitor: an observer of a running graph, for the demo, benchmarks and tests.

Subscribes to the chunk, target, controller and joint-state topics of a robot and to
``/diagnostics``, and counts what arrives in a measurement window: rates, non-finite values,
commands outside the URDF joint limits, how far the joints moved. It publishes nothing.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory, MultiDOFJointTrajectory

from egoscale_ros.nodes.mock_hardware_node import MSG_TYPES
from egoscale_ros.nodes.wiring.background import BackgroundNode, on_spin_thread
from egoscale_ros.nodes.wiring.controllers import controller_qos, decode_controller_message
from egoscale_ros.nodes.wiring.diagnostics import diagnostic_level
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS, JOINT_STATE_QOS, LATCHED_QOS
from egoscale_ros.nodes.wiring.stamps import now_sec, stamp_to_sec
from egoscale_ros.robot.spec import RobotConfig

# Tolerance on limit checks: commands are floats that went through a clip.
LIMIT_TOL = 1e-6


class GraphMonitor(Node):
    def __init__(self, config: RobotConfig, name: str = "graph_monitor", context=None):
        super().__init__(name, context=context)
        self.config = config
        self._lock = threading.Lock()
        self.window_start = time.monotonic()
        self.counts: dict[str, int] = defaultdict(int)
        self.nan_count = 0
        self.nan_in_chunks = 0
        self.limit_violations: dict[str, int] = defaultdict(int)
        self.diagnostics: dict[str, dict[str, str]] = {}
        self.diagnostic_levels: dict[str, int] = {}
        self.chunk_latency_ms: list[float] = []
        self.first_joint_state: dict[str, float] = {}
        self.last_joint_state: dict[str, float] = {}
        self.first_command_time: float | None = None
        # For judging injected faults: every status (stamp, node, level, message) and every
        # command (receive time on the ROS clock, joint names, positions) per controller topic.
        self.diag_events: list[tuple[float, str, int, str]] = []
        self.commands: dict[str, list[tuple[float, tuple[str, ...], np.ndarray]]] = defaultdict(list)
        self.stamped_topics: set[str] = set()  # command topics whose times are the sender's stamps
        self._diag_history: dict[str, list[tuple[float, dict[str, str]]]] = defaultdict(list)
        # The same reports by their own stamps (the publishing node's clock): counts per time there.
        self._diag_stamped: dict[str, list[tuple[float, dict[str, str]]]] = defaultdict(list)
        # Opt-in traces (fault scenarios): (monotonic time, values) per controller topic and per-tick
        # wrist targets; off by default so the monitor stays cheap beside the graph it measures.
        self.tracing = False
        self.command_trace: dict[str, list[tuple[float, np.ndarray]]] = defaultdict(list)
        #: (arrival, wrist positions, the target's own stamp): the stamp is the time the smoother
        #: sampled its path at, which a late tick moves along with it
        self.wrist_trace: list[tuple[float, np.ndarray, float]] = []
        self._limits = {}
        self._limit_cache: dict = {}
        for out in config.controllers:
            for j in out.joints:
                info = config.joint_info(j)
                self._limits[j] = (info.lower, info.upper)

        q = COMMAND_QOS
        self.create_subscription(MultiDOFJointTrajectory, "policy/wrist_chunk", self._on_wrist_chunk, q)
        self.create_subscription(JointTrajectory, "policy/hand_chunk", self._on_hand_chunk, q)
        # Per-tick targets (100 Hz) and joint states (200 Hz) are not subscribed for the whole run:
        # on a small machine the monitor would take the CPU from the graph it measures. Smoother
        # ticks come from its diagnostics; joint states are sampled at the window's ends.
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 50)
        for out in config.controllers:
            self.create_subscription(
                MSG_TYPES[out.ros_type], out.ros_topic, lambda m, o=out: self._on_command(m, o), controller_qos(out)
            )

    def start_tracing(self) -> None:
        """Record every controller command and every per-tick wrist target from now on."""
        self.tracing = True
        self.create_subscription(MultiDOFJointTrajectory, "command/wrist_targets", self._on_wrist_targets,
                                 COMMAND_QOS)

    def _on_wrist_targets(self, msg: MultiDOFJointTrajectory) -> None:
        if not msg.points:
            return
        xyz = np.array([[t.translation.x, t.translation.y, t.translation.z] for t in msg.points[0].transforms])
        with self._lock:
            self.wrist_trace.append((time.monotonic(), xyz, msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec))

    def traces(self) -> tuple[dict[str, list[tuple[float, np.ndarray]]], list[tuple[float, np.ndarray, float]]]:
        with self._lock:
            return {k: list(v) for k, v in self.command_trace.items()}, list(self.wrist_trace)

    def diagnostic_history(self, node_name: str) -> list[tuple[float, dict[str, str]]]:
        """Every (arrival time, key/values) the node whose status name ends with ``node_name`` published."""
        with self._lock:
            return next((list(h) for n, h in self._diag_history.items() if n.rstrip("/").endswith(node_name)), [])

    def announce_window_start(self, wall_s: float) -> None:
        """Tell a fault injector when the window started (latched ``faults/start``, wall time)."""
        from std_msgs.msg import Float64

        pub = self.create_publisher(Float64, "faults/start", LATCHED_QOS)
        pub.publish(Float64(data=float(wall_s)))
        self._start_pub = pub  # keep it: the latched sample lives with the publisher

    # -- window ---------------------------------------------------------------------------------
    def reset_window(self) -> None:
        first = self.sample_joint_states()
        with self._lock:
            self.window_start = time.monotonic()
            self.counts.clear()
            self.nan_count = 0
            self.nan_in_chunks = 0
            self.limit_violations.clear()
            self.chunk_latency_ms.clear()
            self.first_joint_state = first

    def end_window(self) -> None:
        """Sample the joint states at the end of the measurement window."""
        self.last_joint_state = self.sample_joint_states()

    def elapsed(self) -> float:
        return time.monotonic() - self.window_start

    def counter_rate(self, node_name: str, key: str) -> tuple[int, float]:
        """Increase of a diagnostics counter over the window, and that increase per second.

        Diagnostics come once a second, so the increase is taken between the last report before
        the window (or the first in it) and the newest report.
        """
        with self._lock:
            history = next((h for n, h in self._diag_history.items() if n.rstrip("/").endswith(node_name)), [])
            samples = [(t, float(v[key])) for t, v in history if key in v]
        if len(samples) < 2:
            return 0, 0.0
        before = [s for s in samples if s[0] <= self.window_start]
        start = before[-1] if before else samples[0]
        end = samples[-1]
        if end[0] <= start[0]:
            return 0, 0.0
        delta = int(end[1] - start[1])
        return delta, delta / (end[0] - start[0])

    def counter_between(self, node_name: str, key: str, start_s: float, end_s: float) -> tuple[int, float]:
        """Increase of a node's diagnostics counter between the first report stamped at or after
        ``start_s`` and the last stamped at or before ``end_s`` (wall time), and the time between
        those two stamps, as the node's own clock tells it (not when the reports arrived here)."""
        with self._lock:
            history = next((h for n, h in self._diag_stamped.items() if n.rstrip("/").endswith(node_name)), [])
            samples = [(t, float(v[key])) for t, v in history if key in v and start_s <= t <= end_s]
        if len(samples) < 2:
            return 0, 0.0
        (t0, n0), (t1, n1) = samples[0], samples[-1]
        return int(n1 - n0), t1 - t0

    # -- callbacks ------------------------------------------------------------------------------
    def _count(self, key: str, values: Any = ()) -> None:
        bad = int(np.count_nonzero(~np.isfinite(np.asarray(values, dtype=float)))) if len(values) else 0
        with self._lock:
            self.counts[key] += 1
            # NaN in what the policy proposes (a fault the smoother must refuse) is counted apart
            # from NaN in what reaches the robot (a safety failure).
            if key.startswith("policy/"):
                self.nan_in_chunks += bad
            else:
                self.nan_count += bad

    def _on_wrist_chunk(self, msg: MultiDOFJointTrajectory) -> None:
        latency = (now_sec(self) - stamp_to_sec(msg.header.stamp)) * 1e3
        # Translations suffice to catch a NaN chunk: rotations are decoded from the same tensor.
        values = [v for p in msg.points for t in p.transforms
                  for v in (t.translation.x, t.translation.y, t.translation.z)]
        self._count("policy/wrist_chunk", values)
        with self._lock:
            self.chunk_latency_ms.append(latency)

    def _on_hand_chunk(self, msg: JointTrajectory) -> None:
        self._count("policy/hand_chunk", np.concatenate([np.asarray(p.positions) for p in msg.points])
                    if msg.points else ())

    def sample_joint_states(self, timeout_s: float = 2.0) -> dict[str, float]:
        """One ``joint_states`` message, through a subscription that exists only meanwhile."""
        got: dict[str, float] = {}
        done = threading.Event()

        def on_message(msg: JointState) -> None:
            if not done.is_set():
                got.update(zip(msg.name, msg.position))
                done.set()

        sub = self.create_subscription(JointState, "joint_states", on_message, JOINT_STATE_QOS)
        done.wait(timeout_s)
        on_spin_thread(self, self.destroy_subscription, sub)  # not from this thread: see there
        return got

    def _on_command(self, msg: Any, output) -> None:
        try:
            positions = decode_controller_message(msg, output)
        except ValueError:
            with self._lock:
                self.counts[f"malformed {output.ros_topic}"] += 1
            return
        names = tuple(positions)
        q = np.fromiter(positions.values(), dtype=float, count=len(names))
        self._count(output.ros_topic, q)
        lower, upper = self._limit_arrays(output, names)
        outside = (q < lower - LIMIT_TOL) | (q > upper + LIMIT_TOL)
        with self._lock:
            # The sender's stamp where the message has one (the real time between two commands,
            # whatever the transport did to them); else the receive time.
            stamp = stamp_to_sec(msg.header.stamp) if hasattr(msg, "header") else 0.0
            if stamp > 0:
                self.stamped_topics.add(output.ros_topic)
            self.commands[output.ros_topic].append((stamp if stamp > 0 else now_sec(self), names, q))
            if self.first_command_time is None:
                self.first_command_time = time.monotonic()
            if self.tracing:
                self.command_trace[output.ros_topic].append((time.monotonic(), q))
            for i in np.flatnonzero(outside):
                self.limit_violations[names[i]] += 1

    def _limit_arrays(self, output, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        key = (output.ros_topic, names)
        cached = self._limit_cache.get(key)
        if cached is None:
            cached = (np.array([self._limits[j][0] for j in names]), np.array([self._limits[j][1] for j in names]))
            self._limit_cache[key] = cached
        return cached

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        with self._lock:
            now = time.monotonic()
            stamp = stamp_to_sec(msg.header.stamp)
            for status in msg.status:
                self.diag_events.append((stamp, status.name, diagnostic_level(status), status.message))
                self.diagnostics[status.name] = {kv.key: kv.value for kv in status.values}
                self._diag_history[status.name].append((now, self.diagnostics[status.name]))
                self._diag_stamped[status.name].append((stamp, self.diagnostics[status.name]))
                self.diagnostic_levels[status.name] = diagnostic_level(status)

    # -- results --------------------------------------------------------------------------------
    def diagnostic_value(self, node_name: str, *keys: str) -> str | None:
        """The first of ``keys`` published by the node whose status name ends with ``node_name``."""
        with self._lock:
            for name, values in self.diagnostics.items():
                if name.rstrip("/").endswith(node_name):
                    for k in keys:
                        if k in values:
                            return values[k]
        return None

    def node_diagnostics(self, node_name: str) -> dict[str, str]:
        """Latest key/values published by the node whose status name ends with ``node_name``."""
        with self._lock:
            for name, values in self.diagnostics.items():
                if name.rstrip("/").endswith(node_name):
                    return dict(values)
        return {}

    def joint_motion(self, joints: list[str]) -> float:
        """Largest displacement (rad) of ``joints`` since the window started."""
        with self._lock:
            moved = [abs(self.last_joint_state[j] - self.first_joint_state[j])
                     for j in joints if j in self.last_joint_state and j in self.first_joint_state]
        return max(moved, default=0.0)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            lat = np.array(self.chunk_latency_ms) if self.chunk_latency_ms else None
            return {
                "elapsed_s": self.elapsed(),
                "counts": dict(self.counts),
                "nan_count": self.nan_count,
                "nan_in_chunks": self.nan_in_chunks,
                "limit_violations": dict(self.limit_violations),
                "chunk_age_ms_p50": float(np.percentile(lat, 50)) if lat is not None else None,
                "chunk_age_ms_p99": float(np.percentile(lat, 99)) if lat is not None else None,
            }


class BackgroundMonitor(BackgroundNode[GraphMonitor]):
    """A :class:`GraphMonitor` spinning on its own thread in a private rclpy context."""

    def __init__(self, config: RobotConfig, domain_id: int, name: str = "graph_monitor"):
        super().__init__(lambda context: GraphMonitor(config, name=name, context=context), domain_id, "graph_monitor")
        self.monitor = self.node
