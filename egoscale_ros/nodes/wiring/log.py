"""Logging from node shells that works on every ROS 2 release and keeps throttling per line."""

from __future__ import annotations

from collections.abc import Callable

from rclpy.node import Node


def warning(node: Node) -> Callable[..., bool]:
    """The node's logger's ``warning`` where it exists (Iron and later), else ``warn`` (Humble).

    Call it at the logging line, ``warning(node)(message, ...)``: rclpy keys throttling state by
    the calling line, and its deprecated ``warn`` is a wrapper, so every ``warn`` call of a
    process shares one key and two of them with different filters (one throttled, one not)
    raise "logging filters cannot be changed between calls" - inside a callback.
    """
    logger = node.get_logger()
    return getattr(logger, "warning", None) or logger.warn
