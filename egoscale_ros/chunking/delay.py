"""The delay a chunk stream usually has: a high quantile of the last few chunks' delays.

A chunk stamped with its observation's capture time arrives some time later (inference, network).
Whatever is decided by that delay in whole steps (the first step the blend may change, how many
steps a reply carries) must not follow each chunk's own delay: a delay that wanders across a step
boundary from one reply to the next (a 165 ms round trip with 5 ms of jitter is 4.95 to 5.1 steps
of 33 ms) would give each chunk a blend of another shape, and the executed path a kink at every
arrival. Decided by a high quantile of the recent delays instead, it is the same for every chunk
while the latency is steady (as real-time chunking takes the inference delay ``d`` as a fixed
bound), and follows the latency within ``memory`` chunks when it changes.
"""

from __future__ import annotations

import math
from collections import deque


class RecentDelay:
    """The ``quantile`` of the last ``memory`` delays fed to :meth:`add` (seconds)."""

    def __init__(self, memory: int = 30, quantile: float = 0.9) -> None:
        if memory < 1 or not 0.0 <= quantile <= 1.0:
            raise ValueError(f"RecentDelay needs memory >= 1 and 0 <= quantile <= 1 (got {memory}, {quantile})")
        self.quantile = float(quantile)
        self._delays: deque[float] = deque(maxlen=int(memory))

    def add(self, delay_s: float) -> float:
        """Remember one chunk's delay (a value that is not finite is ignored); returns :attr:`value`."""
        if math.isfinite(delay_s):
            self._delays.append(float(delay_s))
        return self.value

    @property
    def value(self) -> float:
        """The quantile of the delays remembered (nearest rank, no interpolation: it is always one
        of the delays seen); 0 before any."""
        if not self._delays:
            return 0.0
        ordered = sorted(self._delays)
        rank = math.ceil(self.quantile * len(ordered)) - 1
        return ordered[min(max(rank, 0), len(ordered) - 1)]

    def reset(self) -> None:
        self._delays.clear()


class DelaySteps:
    """The usual delay in whole steps (rounded up), changed only when the delay has moved a
    ``hysteresis`` fraction of a step past the boundary: a usual delay that hovers at a step
    boundary (200 ms is 6.0 steps of 33 ms) would otherwise flip the count back and forth."""

    def __init__(self, dt: float, hysteresis: float = 0.25) -> None:
        if not dt > 0 or not 0.0 <= hysteresis < 1.0:
            raise ValueError(f"DelaySteps needs dt > 0 and 0 <= hysteresis < 1 (got {dt}, {hysteresis})")
        self.dt, self.hysteresis = float(dt), float(hysteresis)
        self.steps: int | None = None

    def update(self, delay_s: float) -> int:
        """Steps for ``delay_s`` (which must be finite and >= 0), keeping the count while the delay
        stays within the hysteresis of its interval ``(steps − 1, steps]``."""
        x = delay_s / self.dt
        exact = max(0, math.ceil(x - 1e-9))
        if self.steps is None or x > self.steps + self.hysteresis or x < self.steps - 1 - self.hysteresis:
            self.steps = exact
        return self.steps

    def reset(self) -> None:
        self.steps = None
