"""Subscriptions read when a tick asks for them, not one executor wake-up per message.

A node that acts only on its own tick (robot_interface_node sends the maker's messages at the
output rate) gains nothing from a callback per message: each costs the executor a wake-up and
a dispatch, 150 times a second for a G1's three command streams. Here the subscriptions belong
to a small helper node that no executor spins; the messages wait in the middleware's queue (the
subscription's own QoS: a reliable depth keeps every one until taken) and the tick takes them,
oldest first, as CDR bytes with the time the middleware received them.

Topics are resolved by the owning node (namespace, remappings), so the helper subscribes exactly
what the node would have. Uses rclpy API that exists since ROS 2 Humble (the one
``rclpy.wait_for_message`` uses: ``Subscription.handle.take_message``).
"""

from __future__ import annotations

import time
from typing import Any

from rclpy.node import Node
from rclpy.qos import QoSProfile


class Inbox:
    """Raw subscriptions of ``owner``'s topics on a helper node, taken on demand."""

    def __init__(self, owner: Node):
        self._owner = owner
        self._helper = Node(f"{owner.get_name()}_inbox", namespace=owner.get_namespace(), context=owner.context,
                            use_global_arguments=False, enable_rosout=False, start_parameter_services=False)
        self._subs: dict[str, Any] = {}
        self._types: dict[str, type] = {}

    def subscribe(self, msg_type: type, topic: str, qos: QoSProfile) -> None:
        """Queue ``topic`` (as ``owner`` resolves it) until :meth:`take` asks; ``topic`` is the key."""
        resolved = self._owner.resolve_topic_name(topic)
        self._subs[topic] = self._helper.create_subscription(msg_type, resolved, _never_called, qos, raw=True)
        self._types[topic] = msg_type

    def unsubscribe(self, topic: str) -> None:
        """Stop queueing ``topic`` (its messages now come another way)."""
        sub = self._subs.pop(topic, None)
        self._types.pop(topic, None)
        if sub is not None:
            self._helper.destroy_subscription(sub)

    def take(self, topic: str) -> list[tuple[bytes, float]]:
        """Every message waiting on ``topic``, oldest first: (CDR bytes, monotonic time received)."""
        sub = self._subs.get(topic)
        if sub is None:
            return []
        handle = sub.handle
        msg_type = self._types[topic]
        out = []
        while True:
            with handle:
                taken = handle.take_message(msg_type, True)
            if taken is None:
                return out
            data, info = taken
            out.append((data, received_monotonic(info)))

    def destroy(self) -> None:
        self._helper.destroy_node()


def received_monotonic(info: Any) -> float:
    """When the middleware received a message, on the monotonic clock (it may have waited in the
    queue for up to a tick, and an input's age must count that)."""
    now = time.monotonic()
    received_ns = info.get("received_timestamp", 0) if isinstance(info, dict) else 0
    if not received_ns:
        return now
    return now - max((time.time_ns() - int(received_ns)) * 1e-9, 0.0)


def _never_called(_msg) -> None:  # the helper node is never spun
    raise AssertionError("inbox callback")
