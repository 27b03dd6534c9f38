"""One view of ``joint_states`` per process, read when a tick needs it.

Joint states come at 200 Hz or more; a command node needs them once per control tick (50 Hz).
A subscription callback costs an executor dispatch and a message conversion for every message,
in every node that subscribes. Here the subscription belongs to a small helper node that is
never added to an executor: messages wait in the middleware's queue (depth 1, the newest), and
a tick takes the newest one. Nodes of one process (a container) share the view.

The interface matches what the command nodes use (``has``, ``snapshot``, ``age_s``,
``received_s``, ``stamp_s``, ``rejected``). Uses rclpy API that exists since ROS 2 Humble
(``Node.resolve_topic_name``, ``Subscription.handle.take_message``).
"""

from __future__ import annotations

import math
import os
import threading
import time
import weakref
from collections.abc import Iterable

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

from egoscale_ros.nodes.common import stamp_to_sec

# Only the newest message matters; best effort matches reliable and best-effort publishers.
LATEST_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)

# (context, resolved topic) -> view; helper node per context. Weak: gone with the context.
_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_helpers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


class JointStateView:
    """The newest joint positions of one topic, taken from the middleware on demand.

    Use :meth:`shared` to get the process's view for a node's ``joint_states`` (after that
    node's remappings and namespace).
    """

    def __init__(self, helper: Node, topic: str):
        self._lock = threading.Lock()
        self.topic = topic
        self.positions: dict[str, float] = {}
        self._stamp_s = -math.inf
        self._received_s = -math.inf  # local monotonic time the newest message arrived
        self.rejected = 0
        self.taken = 0
        self._sub = helper.create_subscription(JointState, topic, _never_called, LATEST_QOS)

    @classmethod
    def shared(cls, node: Node, topic: str = "joint_states") -> JointStateView:
        """The view of ``topic`` as ``node`` resolves it, shared by every node of the process."""
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

    # -- taking -----------------------------------------------------------------------------------
    def poll(self) -> None:
        """Take what the middleware holds (at most the newest message, by the queue depth)."""
        handle = self._sub.handle
        while True:
            with self._lock:
                with handle:
                    taken = handle.take_message(JointState, False)
                if taken is None:
                    return
                msg, info = taken
                self.taken += 1
                self._accept(msg, info)

    def _accept(self, msg: JointState, info) -> None:
        if len(msg.name) != len(msg.position) or not all(math.isfinite(p) for p in msg.position):
            self.rejected += 1
            return
        self.positions.update(zip(msg.name, msg.position))
        self._stamp_s = stamp_to_sec(msg.header.stamp)
        self._received_s = _arrival_monotonic(info)

    # -- the listener interface ---------------------------------------------------------------------
    @property
    def received_s(self) -> float:
        self.poll()
        return self._received_s

    @property
    def stamp_s(self) -> float:
        self.poll()
        return self._stamp_s

    def snapshot(self) -> dict[str, float]:
        self.poll()
        with self._lock:
            return dict(self.positions)

    def age_s(self) -> float:
        self.poll()
        return time.monotonic() - self._received_s

    def has(self, joints: Iterable[str]) -> bool:
        self.poll()
        with self._lock:
            return all(j in self.positions for j in joints)


def _arrival_monotonic(info) -> float:
    """When the middleware received the message, on the monotonic clock: the queue may have held
    it for up to a tick, and the stale-input watchdog must see that age."""
    now = time.monotonic()
    received_ns = info.get("received_timestamp", 0) if isinstance(info, dict) else 0
    if not received_ns:
        return now
    waited = (time.time_ns() - int(received_ns)) * 1e-9
    return now - max(waited, 0.0)


def _never_called(_msg) -> None:  # the helper node is never spun
    raise AssertionError("joint state view callback")
