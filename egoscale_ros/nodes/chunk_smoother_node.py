"""chunk_smoother_node: turns overlapping policy chunks into one per-tick target stream.

Subscribes ``policy/wrist_chunk`` (MultiDOFJointTrajectory) and ``policy/hand_chunk``
(JointTrajectory); the two halves of a chunk share the observation stamp and are paired by it.
Every control tick it asks ``egoscale_ros.chunking.ChunkSmoother`` for the targets due now —
execution is by time, so inference latency is compensated and stale actions are skipped — and
publishes ``command/wrist_targets`` (one-point MultiDOFJointTrajectory) and
``command/hand_targets`` (JointState in the policy's hand space).

Safety: a chunk stamped more than ``future_tolerance_s`` ahead of this node's clock is refused
(and cannot block later chunks); hand chunk columns are mapped by name onto the declared joints
of the policy's hand (``<side>_hand_joints``, which the graph plan takes from the manifest's
hand config) before use, and a chunk with unknown,
missing or repeated names is refused. Targets are published only while a chunk covers the tick:
when the policy falls silent the smoother stops publishing (the command nodes' target watchdogs
then brake and hold) and diagnostics go ERROR naming the silent topic and whether its publisher
is gone.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory, MultiDOFJointTrajectory, MultiDOFJointTrajectoryPoint

from egoscale_ros.chunking.chunk import STEP_TOLERANCE_NS, ChunkError, step_spacing
from egoscale_ros.chunking.hand_names import order_hand_columns
from egoscale_ros.chunking.smoother import STARVED, ChunkSmoother
from egoscale_ros.chunking.wire import WireChunk, decode_hand_chunk, decode_wrist_chunk
from egoscale_ros.kinematics import se3
from egoscale_ros.nodes import liveness
from egoscale_ros.nodes.wiring.diagnostics import Diagnostics
from egoscale_ros.nodes.wiring.inbox import Inbox
from egoscale_ros.nodes.wiring.links import TargetLinks
from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare, required
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS
from egoscale_ros.nodes.wiring.stamps import now_sec, sec_to_stamp
from egoscale_ros.nodes.wiring.transforms import SIDE_OF_WRIST, matrix_to_transform
from egoscale_ros.safety.watchdog import silence_timeout
from egoscale_ros.schema import SIDES

RECENT_S = 2.0  # how long a refusal, reordering or late chunk stays on diagnostics
LATE_S = 0.25  # a chunk arriving later than this after its observation is reported

# Halves of a chunk waiting for their partner, at most this many stamps.
MAX_PENDING = 8


class ChunkSmootherNode(Node):
    def __init__(self, **node_options: Any) -> None:
        # node_options: rclpy Node keywords, e.g. a container's per-node cli_args
        super().__init__("chunk_smoother_node", **node_options)
        # From the graph plan (robot config and manifest): this node reads no file.
        rate = float(required(self, "rate_hz", Parameter.Type.DOUBLE))
        self.base_frame = str(required(self, "base_frame", Parameter.Type.STRING))
        # The policy's hand space per side, in its declared order; a side left empty has no hand.
        self.hand_names: dict[str, list[str]] = {}
        for side in SIDES:
            names = list(declare(self, f"{side}_hand_joints", [""]))
            if any(names):
                self.hand_names[side] = names
        # rtc: smoothest output in `egoscale-ros bench chunking` (ACT's ensemble steps when a chunk joins)
        mode = declare(self, "mode", "rtc")
        crossfade = float(declare(self, "crossfade_s", 0.1))
        self.expect_hands = bool(self.hand_names)
        future_tolerance = float(declare(self, "future_tolerance_s", 0.1))
        # How long without a new chunk before the policy counts as silent (an ERROR): by default
        # SILENT_PERIODS of the policy's own period (policy_rate_hz, the policy node's rate_hz).
        policy_rate = float(declare(self, "policy_rate_hz", 30.0))
        if not policy_rate > 0:
            raise ValueError(f"parameter policy_rate_hz must be > 0, got {policy_rate}")
        self.chunk_timeout_s = float(declare(self, "chunk_timeout_s", silence_timeout(policy_rate)))
        if rate <= 0:
            raise ValueError(f"parameter rate_hz must be > 0, got {rate}")
        if not self.chunk_timeout_s > 0:
            raise ValueError(f"parameter chunk_timeout_s must be > 0, got {self.chunk_timeout_s}")
        # A policy server's chunks reach further than the arms may move without hearing from it
        # (the graph sets this from the manifest's execute_steps; 0: as far as the chunks reach).
        max_blind = float(declare(self, "max_blind_s", 0.0))
        if not (max_blind >= 0 and math.isfinite(max_blind)):
            raise ValueError(f"parameter max_blind_s must be >= 0 and finite, got {max_blind}")
        self.smoother = ChunkSmoother(mode, crossfade_s=crossfade, future_tolerance_s=future_tolerance,
                                      max_blind_s=max_blind or None)
        self.last_chunk_s: float | None = None  # node clock at the last accepted chunk
        self.policy_watch = liveness.UpstreamWatch(self, "policy/wrist_chunk", self.chunk_timeout_s)
        # Shown on diagnostics for RECENT_S after it happened: a refusal, a reordered hand chunk,
        # a chunk that arrived later than LATE_S after its observation.
        self._recent: dict[str, tuple[float, str]] = {}
        self.hand_chunks_reordered = 0
        self.late_chunks = 0
        self._latencies: deque[float] = deque(maxlen=60)  # arrival − observation of accepted chunks
        self.published_ticks = 0
        self._pending: dict[int, dict] = {}
        self.rejected_messages = 0
        self.last_status = "waiting"

        # The chunks are read from their bytes (egoscale_ros.chunking.wire), not as message objects,
        # and taken at the tick, each judged at its arrival time (no executor wake-up per chunk half:
        # nothing samples between a chunk's arrival and the next tick).
        self.inbox = Inbox(self)
        self.inbox.subscribe(MultiDOFJointTrajectory, "policy/wrist_chunk", COMMAND_QOS)
        self.inbox.subscribe(JointTrajectory, "policy/hand_chunk", COMMAND_QOS)
        self.pub_wrist = self.create_publisher(MultiDOFJointTrajectory, "command/wrist_targets", COMMAND_QOS)
        self.pub_hand = self.create_publisher(JointState, "command/hand_targets", COMMAND_QOS)
        self.rate_hz = rate
        self.tick_timer = self.create_timer(1.0 / rate, self._tick)
        # Stages of the same process take the targets straight from the tick (command_container).
        self.links = TargetLinks()
        self.diagnostics = Diagnostics(self, self._diag_values, self._diag_level)
        self.get_logger().info(f"chunk smoother: mode {mode}, {rate:g} Hz")

    # -- input ----------------------------------------------------------------------------------
    def _take_chunks(self) -> None:
        """Every chunk half that arrived since the last tick, in arrival order."""
        halves = [(received, self._on_wrist, data) for data, received in self.inbox.take("policy/wrist_chunk")]
        halves += [(received, self._on_hand, data) for data, received in self.inbox.take("policy/hand_chunk")]
        if not halves:
            return
        halves.sort(key=lambda h: h[0])
        clock_s, mono = now_sec(self), time.monotonic()
        for received, handle, data in halves:
            handle(data, clock_s - (mono - received))  # its arrival on this node's clock

    def _on_wrist(self, data: bytes, arrival_s: float) -> None:
        try:
            msg = decode_wrist_chunk(data)
            # Targets are passed on in the frame they came in; a chunk in any other frame than
            # the robot's base is refused here, never relabelled (the IK node checks it too).
            if msg.frame_id != self.base_frame:
                raise ValueError(f"frame_id '{msg.frame_id}' is not the base frame '{self.base_frame}'")
            sides = [SIDE_OF_WRIST[n] for n in msg.joint_names]
            values = msg.values
            poses = np.zeros(values.shape[:2] + (4, 4))
            poses[..., :3, :3] = se3.quat_to_matrix(values[..., 3:])
            poses[..., :3, 3] = values[..., :3]
            poses[..., 3, 3] = 1.0
        except (KeyError, ValueError) as exc:
            self._reject(f"policy/wrist_chunk: {exc}")
            return
        wrist = {s: poses[:, i] for i, s in enumerate(sides)}
        self._merge(msg, "wrist", wrist, arrival_s)

    def _on_hand(self, data: bytes, arrival_s: float) -> None:
        try:
            msg = decode_hand_chunk(data)
            hand = order_hand_columns(list(msg.joint_names), msg.values, self.hand_names)
            if not hand:
                raise ChunkError("no joint of any hand")
        except (ValueError, ChunkError) as exc:
            self._reject(f"policy/hand_chunk: {exc}")
            return
        declared = [n for side in hand for n in self.hand_names[side]]
        if list(msg.joint_names) != declared:
            self.hand_chunks_reordered += 1
            self._note("reordered", "hand chunk joint names reordered (mapped by name)")
        self._merge(msg, "hand", hand, arrival_s)

    def _merge(self, msg: WireChunk, part: str, arrays: dict, arrival_s: float) -> None:
        topic = f"policy/{part}_chunk"
        try:
            dt = step_spacing(msg.steps_ns)
        except ChunkError as exc:
            self._reject(f"{topic}: {exc}")
            return
        key = msg.stamp_ns
        entry = self._pending.setdefault(key, {"stamp": msg.stamp_s, "dt": dt})
        if abs(entry["dt"] - dt) * 1e9 > STEP_TOLERANCE_NS:
            del self._pending[key]
            self._reject(f"{topic}: step {dt:.6g} s but its other half's is {entry['dt']:.6g} s")
            return
        entry[part] = arrays
        if "wrist" in entry and ("hand" in entry or not self.expect_hands):
            del self._pending[key]
            # The frame was checked on arrival (the wrist half): carried on as it came.
            result = self.smoother.offer(key, entry["dt"], entry.get("wrist"), entry.get("hand"),
                                         arrival_s, frame=self.base_frame)
            now = arrival_s
            if result.accepted:
                self.last_chunk_s = now
                late = now - key * 1e-9
                # Late against this graph's usual latency (a loaded computer is slower throughout).
                usual = float(np.median(self._latencies)) if len(self._latencies) >= 10 else 0.0
                if late > max(LATE_S, 2.0 * usual):
                    self.late_chunks += 1
                    self._note("late", f"chunk arrived {late:.2f} s after its observation (late; usually {usual:.2f} s)")
                self._latencies.append(late)
            else:
                self._note("refused", f"refused chunk: {result.reason}")
                self.get_logger().warn(f"chunk refused: {result.reason}", throttle_duration_sec=2.0)
        while len(self._pending) > MAX_PENDING:  # a half whose partner never came
            self._pending.pop(min(self._pending))
            self.rejected_messages += 1

    def _note(self, kind: str, text: str) -> None:
        self._recent[kind] = (now_sec(self), text)

    def _reject(self, reason: str) -> None:
        self._note("refused", f"refused {reason}")
        self.rejected_messages += 1
        self.get_logger().warn(f"rejected {reason}", throttle_duration_sec=2.0)

    # -- output ---------------------------------------------------------------------------------
    def _tick(self) -> None:
        self._take_chunks()
        t = now_sec(self)  # the instant sampled is the instant stamped on what goes out
        sample = self.smoother.sample(t)
        self.last_status = sample.status
        targets = sample.targets
        # Only targets a chunk covers go out: republishing a held target with a fresh stamp
        # would tell the command nodes that a dead policy is alive.
        if targets is None or sample.status == STARVED:
            return
        self.published_ticks += 1
        if targets.wrist:
            for sink in self.links.wrist:
                sink(targets.wrist, t)
        if targets.hand:
            for sink in self.links.hand:
                sink(targets.hand, t)
        stamp = sec_to_stamp(t)
        if targets.wrist and self.links.observed(self.pub_wrist, "wrist"):
            msg = MultiDOFJointTrajectory()
            msg.header.stamp = stamp
            msg.header.frame_id = self.base_frame
            sides = [s for s in ("left", "right") if s in targets.wrist]
            msg.joint_names = [f"{s}_wrist" for s in sides]
            msg.points = [MultiDOFJointTrajectoryPoint(
                transforms=[matrix_to_transform(targets.wrist[s]) for s in sides])]
            self.pub_wrist.publish(msg)
        if targets.hand and self.links.observed(self.pub_hand, "hand"):
            hand = JointState()
            hand.header.stamp = stamp
            for side, values in targets.hand.items():
                hand.name.extend(self.hand_names.get(side, []))
                hand.position.extend(float(v) for v in values)
            self.pub_hand.publish(hand)

    def _diag_values(self) -> dict:
        values = dict(self.smoother.counters.as_dict())
        values["status"] = self.last_status
        values["rejected_messages"] = self.rejected_messages
        values["published_ticks"] = self.published_ticks
        values["chunk_age_s"] = self._chunk_age()
        values["policy_silent_events"] = self.policy_watch.silent_events
        values["hand_chunks_reordered"] = self.hand_chunks_reordered
        values["late_chunks"] = self.late_chunks
        return values

    def _chunk_age(self) -> float:
        return -1.0 if self.last_chunk_s is None else now_sec(self) - self.last_chunk_s

    def _diag_level(self) -> tuple[int, str]:
        silent = self.policy_watch.check(None if self.last_chunk_s is None else self._chunk_age())
        if silent:
            return DiagnosticStatus.ERROR, f"{silent}; not publishing targets (commands hold)"
        now = now_sec(self)
        recent = [text for t, text in self._recent.values() if now - t < RECENT_S]
        if recent:
            return DiagnosticStatus.WARN, "; ".join(sorted(recent))
        if self.last_status == STARVED:
            return DiagnosticStatus.WARN, "starved: no chunk covers now, not publishing targets"
        return DiagnosticStatus.OK, self.last_status


def main(args: list[str] | None = None) -> int:
    return run(ChunkSmootherNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
