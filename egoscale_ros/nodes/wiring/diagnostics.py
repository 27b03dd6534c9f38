"""DiagnosticStatus publishing for a node on ``/diagnostics``: periodic, and at once on a change."""

from __future__ import annotations

import re
import threading
import time
import weakref
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
        # Watched from one timer per process (a container's nodes share one wake-up).
        self._watches = _Watches.shared(node)
        self._watches.add(self)
        self._cpu_mark = (time.monotonic(), time.process_time())

    def _alive(self) -> bool:
        """False once the node is destroyed (its timers with it)."""
        return any(t is self._timer for t in self._node.timers)

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
        if not self._watches.alive():  # the node holding the shared watch was destroyed
            self._watches = _Watches.shared(self._node)
            self._watches.add(self)
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


class _Watches:
    """The level watches of every :class:`Diagnostics` of one process, run from one timer on the
    node that asked first (moved to another node when that one is destroyed)."""

    _by_context: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    _lock = threading.Lock()

    def __init__(self, node: Node):
        self._node = node
        self._entries: list[weakref.ref] = []
        self._timer = node.create_timer(WATCH_PERIOD_S, self._run)

    @classmethod
    def shared(cls, node: Node) -> _Watches:
        with cls._lock:
            current = cls._by_context.get(node.context)
            if current is not None and current.alive():
                return current
            fresh = cls._by_context[node.context] = cls(node)
            if current is not None:
                fresh._entries = list(current._entries)
            return fresh

    def alive(self) -> bool:
        return any(t is self._timer for t in self._node.timers)

    def add(self, diagnostics: Diagnostics) -> None:
        with self._lock:
            if not any(ref() is diagnostics for ref in self._entries):
                self._entries.append(weakref.ref(diagnostics))

    def _run(self) -> None:
        with self._lock:
            entries = list(self._entries)
        for ref in entries:
            diagnostics = ref()
            if diagnostics is None or not diagnostics._alive():
                with self._lock:
                    if ref in self._entries:
                        self._entries.remove(ref)
                continue
            diagnostics._watch_level()
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
