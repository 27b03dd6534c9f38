"""One subscription to ``joint_states`` per process, read when a tick needs it.

Joint states come at 200 Hz or more; a command node needs them once per control tick (50 Hz).
A subscription callback costs an executor dispatch and a message conversion for every message,
in every node that subscribes. Here the subscription belongs to a small helper node that is
never added to an executor: messages wait in the middleware's queue (depth 1: the newest), and
whoever asks takes the newest one. Nodes of one process (a container) share the view; each
keeps its own checks (:class:`~egoscale_ros.nodes.wiring.joint_states.JointStateListener`).

Uses rclpy API that exists since ROS 2 Humble (``Node.resolve_topic_name``,
``Subscription.handle.take_message``, the one ``rclpy.wait_for_message`` uses).
"""

from __future__ import annotations

import math
import os
import threading
import time
import weakref
from dataclasses import dataclass

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState

from egoscale_ros.nodes.wiring.inbox import received_monotonic
from egoscale_ros.nodes.wiring.joint_state_cdr import JointStateReader
from egoscale_ros.nodes.wiring.stamps import stamp_to_sec

# Only the newest message matters; best effort matches reliable and best-effort publishers.
LATEST_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)

# context -> {resolved topic: view}, and context -> helper node; gone with the context.
_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_helpers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


@dataclass(frozen=True)
class Taken:
    """A message taken from the middleware: ``seq`` counts up per view, ``received_s`` is when the
    middleware received it, on the monotonic clock (it may have waited in the queue)."""

    seq: int
    names: tuple[str, ...]
    position: list[float]
    stamp_s: float
    received_s: float


class JointStateView:
    """The newest message of one joint-state topic, taken from the middleware on demand."""

    def __init__(self, helper: Node, topic: str):
        self._lock = threading.Lock()
        self.topic = topic
        self._newest: Taken | None = None
        self._seq = 0
        # Taken as bytes: the names of a joint-state stream do not change, so a message with the
        # last names is read from its bytes (joint_state_cdr) instead of becoming an object.
        self._sub = helper.create_subscription(JointState, topic, _never_called, LATEST_QOS, raw=True)
        self._reader: JointStateReader | None = None
        self.malformed = 0  # messages whose bytes were not a JointState (skipped)
        self._publishers: tuple[float, list[str]] = (-math.inf, [])

    @classmethod
    def shared(cls, node: Node, topic: str = "joint_states") -> JointStateView:
        """The view of ``topic`` as ``node`` resolves it (namespace, remappings), one per process."""
        resolved = node.resolve_topic_name(topic)
        context = node.context
        with _registry_lock:
            views = _views.setdefault(context, {})
            view = views.get(resolved)
            if view is None:
                helper = _helpers.get(context)
                if helper is None:
                    helper = Node(f"joint_state_view_{os.getpid()}", context=context, use_global_arguments=False,
                                  enable_rosout=False, start_parameter_services=False)
                    _helpers[context] = helper
                view = views[resolved] = cls(helper, resolved)
            return view

    def newest(self) -> Taken | None:
        """The newest message so far (None before the first): takes what the middleware holds."""
        with self._lock:
            handle = self._sub.handle
            while True:
                with handle:
                    taken = handle.take_message(JointState, True)
                if taken is None:
                    return self._newest
                data, info = taken
                try:
                    names, position, stamp_s = self._decode(data)
                except ValueError:
                    self.malformed += 1
                    continue
                self._seq += 1
                # The queue may have held it for up to a tick: the stale-input watchdog sees that age.
                self._newest = Taken(self._seq, names, position, stamp_s, received_monotonic(info))

    def _decode(self, data: bytes) -> tuple[tuple[str, ...], list[float], float]:
        wire = self._reader.read(data) if self._reader is not None else None
        if wire is not None:
            return self._reader.names, wire.position.tolist(), wire.stamp_s
        try:
            msg = deserialize_message(data, JointState)
        except Exception as exc:  # the typesupport raises its own kinds for malformed bytes
            raise ValueError(f"{self.topic}: not a JointState ({exc})") from exc
        names = tuple(msg.name)
        self._reader = JointStateReader(names)
        return names, list(msg.position), stamp_to_sec(msg.header.stamp)

    def publishers(self, node: Node, max_age_s: float) -> list[str]:
        """Node names of the topic's publishers, looked up at most every ``max_age_s``: the nodes
        of one process share the lookup (the graph query costs more than the check)."""
        now = time.monotonic()
        with self._lock:
            at, names = self._publishers
            if now - at < max_age_s:
                return names
        names = [i.node_name for i in node.get_publishers_info_by_topic(self.topic)]
        with self._lock:
            self._publishers = (now, names)
        return names


def _never_called(_msg) -> None:  # the helper node is never spun
    raise AssertionError("joint state view callback")
