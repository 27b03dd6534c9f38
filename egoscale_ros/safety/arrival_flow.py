"""How a feedback stream flows: late by its own stamps, or thinning out (messages lost).

A command node's diagnostics ask this 20 times a second while the stream brings a message every
few milliseconds, so the record is a ring of numpy arrays (arrival, delay = arrival - own stamp)
and a verdict is a few vectorised passes over it, not a Python loop over a hundred tuples. The
verdict is exactly the one of filtering every recorded arrival (the unit tests compare them).
"""

from __future__ import annotations

import math

import numpy as np

PERIOD_REFRESH_S = 1.0


class ArrivalFlow:
    """The last ``capacity`` accepted messages as (arrival time, own stamp), in seconds of one clock."""

    def __init__(self, capacity: int = 400):
        self._arrival = np.zeros(capacity)
        self._delay = np.zeros(capacity)
        self._stamp = np.zeros(capacity)
        self._count = 0  # messages recorded so far; the newest sits at (count - 1) % capacity
        self._period_at = (-math.inf, 0.0)  # (clock, usual period) of the last estimate

    def __len__(self) -> int:
        return min(self._count, self._arrival.size)

    def record(self, arrival: float, stamp: float) -> None:
        i = self._count % self._arrival.size
        self._arrival[i], self._delay[i], self._stamp[i] = arrival, arrival - stamp, stamp
        self._count += 1

    @property
    def arrivals(self) -> list[tuple[float, float]]:
        """The recorded (arrival, stamp) pairs, oldest first."""
        return list(zip(self._ordered(self._arrival).tolist(), self._ordered(self._stamp).tolist()))

    def _ordered(self, ring: np.ndarray) -> np.ndarray:
        n, size = len(self), ring.size
        if self._count <= size:
            return ring[:n]
        i = self._count % size
        return np.concatenate((ring[i:], ring[:i]))

    def problem(self, topic: str, now: float, window_s: float = 0.5, late_s: float = 0.05,
                lost: float = 0.2) -> str:
        """'' while the stream flows as usual, else what is wrong with it now: messages arriving
        late by their own stamps, or a share of them lost (judged against the usual period)."""
        n = len(self)
        if n < 20:
            return ""
        in_window = self._arrival[:n] >= now - window_s
        recent = int(np.count_nonzero(in_window))
        if recent:
            delay = float(self._delay[:n][in_window].max())
            if delay > late_s:
                return f"{topic} {delay * 1e3:.0f} ms old on arrival (late)"
        period = self.usual_period(now)
        if period > 0:
            expected = window_s / period
            if expected >= 10 and recent < (1 - lost) * expected:
                return f"{topic}: {100 * (1 - recent / expected):.0f}% lost in the last {window_s:g} s"
        return ""

    def usual_period(self, now: float) -> float:
        """The usual period between messages (20th percentile of the stamp gaps), estimated again
        at most once a second: the watchdog asks many times a second and the period barely moves."""
        if now - self._period_at[0] >= PERIOD_REFRESH_S or now < self._period_at[0]:
            stamps = self._ordered(self._stamp)
            self._period_at = (now, float(np.percentile(np.diff(stamps), 20)) if len(stamps) > 1 else 0.0)
        return self._period_at[1]
