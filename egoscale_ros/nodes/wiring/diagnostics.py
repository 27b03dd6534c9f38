"""DiagnosticStatus publishing for a node on ``/diagnostics``: periodic, and at once on a change."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node


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
        # A zero-argument callback: the events executor passes TimerInfo to any callback that
        # takes a positional argument, and publish() takes one.
        self._timer = node.create_timer(period_s, lambda: self.publish())
        # A fault must show within a fraction of a second, not at the next periodic report: the
        # level is watched more often and a change of level or of the kind of message (its
        # words, numbers aside) is published at once.
        self._shown: tuple[int, str] | None = None
        self._message, self._published_at = "", 0.0
        self._watch = node.create_timer(WATCH_PERIOD_S, self._watch_level)
        self._cpu_mark = (time.monotonic(), time.process_time())

    def _cpu_percent(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        last_wall, last_cpu = self._cpu_mark
        self._cpu_mark = (wall, cpu)
        return round(100.0 * (cpu - last_cpu) / max(wall - last_wall, 1e-9), 1)

    def _watch_level(self) -> None:
        level, message = self._level()
        changed = (_level_byte(level)[0], _DIGITS.sub("#", message)) != self._shown
        # Same kind, new figures (a delay growing): at most every REFRESH_S, not once a second.
        refresh = message != self._message and time.monotonic() - self._published_at >= REFRESH_S
        if changed or (refresh and _level_byte(level)[0] > 0):
            self.publish((level, message))

    def publish(self, current: tuple[int, str] | None = None) -> None:
        level, message = current if current is not None else self._level()
        self._shown = (_level_byte(level)[0], _DIGITS.sub("#", message))
        self._message, self._published_at = message, time.monotonic()
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


WATCH_PERIOD_S = 0.05
REFRESH_S = 0.25  # a WARN/ERROR whose figures change is republished at most this often
_DIGITS = re.compile(r"[-+]?\d[\d.e+-]*")


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
