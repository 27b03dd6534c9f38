"""The latest measured joint positions of ``joint_states``, as a thread-safe listener."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable

from rclpy.node import Node
from sensor_msgs.msg import JointState

from egoscale_ros.nodes.wiring.qos import JOINT_STATE_QOS
from egoscale_ros.nodes.wiring.stamps import stamp_to_sec


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
