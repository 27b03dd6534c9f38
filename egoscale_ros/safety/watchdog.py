"""Stale-input detection: has this input been heard from within its timeout?

The clock is injectable (tests, simulated time, ROS time); every method also takes an explicit
``now`` so a control loop can evaluate all its watchdogs at one instant.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class Watchdog:
    """Stale when never fed, or when the last feed is older than ``timeout_s``."""

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic, name: str = "input") -> None:
        if not timeout_s > 0:
            raise ValueError(f"watchdog '{name}': timeout_s must be > 0 (got {timeout_s})")
        self.timeout_s = float(timeout_s)
        self.clock = clock
        self.name = name
        self.last_fed: float | None = None
        self.feeds = 0

    def feed(self, now: float | None = None) -> None:
        """The input was just heard from (at ``now``, default: the clock)."""
        self.last_fed = self.clock() if now is None else float(now)
        self.feeds += 1

    def age(self, now: float | None = None) -> float:
        """Seconds since the last feed (inf if never fed)."""
        if self.last_fed is None:
            return math.inf
        return (self.clock() if now is None else float(now)) - self.last_fed

    def is_stale(self, now: float | None = None) -> bool:
        return self.age(now) > self.timeout_s

    @property
    def ever_fed(self) -> bool:
        return self.last_fed is not None

    def reset(self) -> None:
        self.last_fed = None


# A stream is silent after this many of its own periods without a message. A healthy stream on a
# busy computer shows gaps of two or three periods (scheduling), not six in a row; at 30 Hz this is
# 0.2 s, so with the diagnostics watch (every 0.05 s) a stall is on /diagnostics within 0.3 s.
SILENT_PERIODS = 6


def silence_timeout(rate_hz: float, periods: float = SILENT_PERIODS) -> float:
    """Seconds a stream expected at ``rate_hz`` may be quiet before it counts as silent."""
    if not rate_hz > 0 or not periods > 0:
        raise ValueError(f"silence timeout: rate_hz and periods must be > 0 (got {rate_hz}, {periods})")
    return periods / rate_hz
