"""fault_injector_node: the message-level faults of ``egoscale-ros demo --inject``.

Started beside the graph only when faults are injected. It waits for the window's start (wall
time, latched on ``faults/start``) and then, per the schedule in parameter ``faults`` (JSON list
of ``{name, arg, start_s, duration_s}``): relays ``joint_states_raw`` to ``joint_states`` dropping
or delaying messages (the mock's output is remapped to the raw topic when those faults are
injected), adds a second ``joint_states`` publisher with other values, publishes chunks with
NaN, stamped in the future or with reordered hand joint names, undecodable camera images, and a
volatile e-stop. Process-level faults (stall, slow, kill, restart, SIGINT) are the demo's own.
"""

from __future__ import annotations

import heapq
import json
import random

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64
from trajectory_msgs.msg import JointTrajectory, MultiDOFJointTrajectory

from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare, robot_config_from_parameters
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
from egoscale_ros.nodes.wiring.stamps import now_sec, ns_to_stamp, sec_to_stamp, stamp_to_ns

PERIOD_S = 0.01


class FaultInjectorNode(Node):
    def __init__(self) -> None:
        super().__init__("fault_injector")
        self.config = robot_config_from_parameters(self)
        self.faults = {f["name"]: f for f in json.loads(str(declare(self, "faults", "[]")))}
        relay = bool(declare(self, "relay_joint_states", False))
        self.rng = random.Random(7)
        self.start_wall: float | None = None
        self.counts: dict[str, int] = {n: 0 for n in self.faults}
        self._delayed: list[tuple[float, int, JointState]] = []
        self._seq = 0
        self._release_s = 0.0  # latest release time of a delayed joint state
        self._foreign_pub = None
        self._last_chunks: dict[int, dict] = {}
        self._done: set[str] = set()
        self._next_due: dict[str, float] = {}

        self.create_subscription(Float64, "faults/start", self._on_start, LATCHED_QOS)
        if relay:
            self.pub_states = self.create_publisher(JointState, "joint_states", COMMAND_QOS)
            self.create_subscription(JointState, "joint_states_raw", self._on_raw_state, COMMAND_QOS)
        if {"chunk_nan", "chunk_future", "chunk_names_shuffled"} & set(self.faults):
            self.pub_wrist = self.create_publisher(MultiDOFJointTrajectory, "policy/wrist_chunk", COMMAND_QOS)
            self.pub_hand = self.create_publisher(JointTrajectory, "policy/hand_chunk", COMMAND_QOS)
            self.create_subscription(MultiDOFJointTrajectory, "policy/wrist_chunk",
                                     lambda m: self._on_chunk("wrist", m), COMMAND_QOS)
            self.create_subscription(JointTrajectory, "policy/hand_chunk",
                                     lambda m: self._on_chunk("hand", m), COMMAND_QOS)
        if "camera_garbage" in self.faults:
            cams = [c.name for c in self.config.cameras] or ["head"]
            self.pub_images = [self.create_publisher(Image, f"camera/{c}/image_raw", SENSOR_QOS) for c in cams]
        if "estop_at" in self.faults:
            volatile = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)  # `ros2 topic pub` defaults
            self.pub_estop = self.create_publisher(Bool, "safety/estop", volatile)
        self.create_timer(PERIOD_S, self._tick)
        self.get_logger().info(f"fault injector: {', '.join(self.faults) or 'nothing'}; relay {relay}")

    # -- schedule --------------------------------------------------------------------------------
    def _on_start(self, msg: Float64) -> None:
        if self.start_wall is None:
            self.start_wall = float(msg.data)

    def _active(self, name: str, now: float) -> bool:
        f = self.faults.get(name)
        if f is None or self.start_wall is None:
            return False
        t = now - self.start_wall
        return f["start_s"] <= t < f["start_s"] + max(f["duration_s"], PERIOD_S)

    def _every(self, name: str, now: float, period: float) -> bool:
        """True at most once per ``period`` while ``name`` is active."""
        if not self._active(name, now) or now < self._next_due.get(name, 0.0):
            return False
        self._next_due[name] = now + period
        self.counts[name] += 1
        return True

    def _tick(self) -> None:
        now = now_sec(self)
        while self._delayed and self._delayed[0][0] <= now:
            _, _, msg = heapq.heappop(self._delayed)
            self.pub_states.publish(msg)
        self._foreign(now)
        if self._every("chunk_nan", now, 0.2):
            self._publish_chunk_copy(now, nan=True)
        if self._every("chunk_future", now, 0.5):
            self._publish_chunk_copy(now + float(self.faults["chunk_future"]["arg"]))
        if self._every("camera_garbage", now, 0.1):
            for pub in self.pub_images:
                img = Image(height=240, width=320, encoding="garbage", step=7, data=bytes(range(256)) * 3)
                pub.publish(self._stamped(img))
        if "estop_at" in self.faults and "estop_at" not in self._done and self._active("estop_at", now):
            self.pub_estop.publish(Bool(data=True))
            self._done.add("estop_at")
            self.counts["estop_at"] += 1

    def _stamped(self, msg):
        msg.header.stamp = self.get_clock().now().to_msg()
        return msg

    # -- joint states -------------------------------------------------------------------------------
    def _on_raw_state(self, msg: JointState) -> None:
        now = now_sec(self)
        if self._active("joint_states_drop", now) and self.rng.random() < float(self.faults["joint_states_drop"]["arg"]):
            self.counts["joint_states_drop"] += 1
            return
        if self._active("joint_states_delay", now):
            self.counts["joint_states_delay"] += 1
            self._seq += 1
            self._release_s = now + float(self.faults["joint_states_delay"]["arg"]) / 1e3
            heapq.heappush(self._delayed, (self._release_s, self._seq, msg))
            return
        if self._delayed:  # keep the order: nothing overtakes a delayed message
            self._seq += 1
            heapq.heappush(self._delayed, (self._release_s, self._seq, msg))
            return
        self.pub_states.publish(msg)

    def _foreign(self, now: float) -> None:
        active = self._active("joint_states_foreign", now)
        if active and self._foreign_pub is None:
            self._foreign_pub = self.create_publisher(JointState, "joint_states", COMMAND_QOS)
        elif not active and self._foreign_pub is not None:
            self.destroy_publisher(self._foreign_pub)
            self._foreign_pub = None
        if self._foreign_pub is not None:
            msg = self._stamped(JointState())
            msg.name = self.config.arm_joints + self.config.hand_joints
            msg.position = [self.config.home_position(j) + 0.8 for j in msg.name]
            self._foreign_pub.publish(msg)
            self.counts["joint_states_foreign"] += 1

    # -- chunks -----------------------------------------------------------------------------------
    def _on_chunk(self, part: str, msg) -> None:
        key = stamp_to_ns(msg.header.stamp)
        entry = self._last_chunks.setdefault(key, {})
        entry[part] = msg
        while len(self._last_chunks) > 4:
            self._last_chunks.pop(min(self._last_chunks))
        now = now_sec(self)
        if ("wrist" in entry and "hand" in entry and self._active("chunk_names_shuffled", now)
                and not entry.get("ours")):
            self._republish_shuffled(entry)

    def _latest_pair(self) -> dict | None:
        for key in sorted(self._last_chunks, reverse=True):
            e = self._last_chunks[key]
            if "wrist" in e and "hand" in e and not e.get("ours"):
                return e
        return None

    def _publish_chunk_copy(self, stamp_s: float, nan: bool = False) -> None:
        pair = self._latest_pair()
        if pair is None:
            return
        wrist, hand = _copy(pair["wrist"]), _copy(pair["hand"])
        wrist.header.stamp = hand.header.stamp = sec_to_stamp(stamp_s)
        if nan:
            wrist.points[-1].transforms[0].translation.x = float("nan")
        self._mark_ours(wrist)
        self.pub_wrist.publish(wrist)
        self.pub_hand.publish(hand)

    def _republish_shuffled(self, pair: dict) -> None:
        wrist, hand = _copy(pair["wrist"]), _copy(pair["hand"])
        stamp = stamp_to_ns(wrist.header.stamp) + 1_000_000  # 1 ms newer: taken instead
        wrist.header.stamp = hand.header.stamp = ns_to_stamp(stamp)
        order = list(range(len(hand.joint_names)))
        self.rng.shuffle(order)
        hand.joint_names = [hand.joint_names[i] for i in order]
        for p in hand.points:
            values = np.asarray(p.positions)[order]
            p.positions = values.tolist()
        self._mark_ours(wrist)
        self.pub_wrist.publish(wrist)
        self.pub_hand.publish(hand)
        self.counts["chunk_names_shuffled"] += 1

    def _mark_ours(self, wrist) -> None:
        self._last_chunks.setdefault(stamp_to_ns(wrist.header.stamp), {})["ours"] = True


def _copy(msg):
    from rclpy.serialization import deserialize_message, serialize_message

    return deserialize_message(serialize_message(msg), type(msg))


def main(args: list[str] | None = None) -> int:
    return run(FaultInjectorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
