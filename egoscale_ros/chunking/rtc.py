"""Execution mode ``rtc``, after real-time chunking (Black et al., arXiv 2506.07339).

While a new chunk is being inferred the robot keeps executing the previous plan. When the chunk
arrives, the steps that fell due during inference (``stamp .. arrival``) are frozen to the
previous plan, and over the rest of the overlap (until the previous plan ends, or for at most
``blend_s``) the new chunk is blended in with the paper's decaying mask

    W(c) = c · (e^c − 1) / (e − 1),  c = (end − t) / (end − arrival) ∈ [0, 1]

as the weight of the previous plan (``W = 1`` at arrival, ``0`` at the end of the overlap).
The paper applies this mask as inpainting guidance inside the policy's denoising; here it is
applied to the executed targets, which keeps the same continuity guarantee for any policy.
Each chunk's plan folds in the plan before it, so back-to-back arrivals stay continuous.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from egoscale_ros.chunking.execution import BufferedChunk, ExecutionMode
from egoscale_ros.chunking.mixing import blend_readings
from egoscale_ros.chunking.targets import Targets

_E_MINUS_1 = math.e - 1.0


def previous_plan_weight(t: float, arrival: float, overlap_end: float) -> float:
    """The decaying mask: weight of the previous plan at ``t`` for a chunk that arrived at ``arrival``."""
    if overlap_end <= arrival:
        return 1.0 if t <= arrival else 0.0
    if t <= arrival:
        return 1.0
    if t >= overlap_end:
        return 0.0
    c = (overlap_end - t) / (overlap_end - arrival)
    return c * (math.exp(c) - 1.0) / _E_MINUS_1


class RtcMode(ExecutionMode):
    """Freeze steps due during inference to the previous plan, then blend with a decaying mask."""

    name = "rtc"

    def __init__(self, blend_s: float | None = None) -> None:
        if blend_s is not None and not blend_s > 0:
            raise ValueError(f"rtc: blend_s must be > 0 or None (got {blend_s})")
        self.blend_s = blend_s
        self._overlap_end: dict[int, float] = {}  # id(entry) -> end of its blend with the previous plan
        # Weights at one time, by id(entry): a tick asks for them twice (obsolete, then sample).
        self._weights_t = math.nan
        self._weights: dict[int, float] = {}

    def on_chunk(self, new: BufferedChunk, buffer: Sequence[BufferedChunk]) -> None:
        older = buffer[:-1]
        previous_end = max((e.chunk.end_time for e in older), default=-math.inf)
        end = previous_end if self.blend_s is None else min(previous_end, new.arrival + self.blend_s)
        self._overlap_end[id(new)] = end
        live = {id(e) for e in buffer}
        self._overlap_end = {k: v for k, v in self._overlap_end.items() if k in live}
        self._weights.clear()

    def _weight(self, entry: BufferedChunk, t: float) -> float:
        if t != self._weights_t:
            self._weights_t = t
            self._weights.clear()
        weight = self._weights.get(id(entry))
        if weight is None:
            weight = previous_plan_weight(t, entry.arrival, self._overlap_end.get(id(entry), -math.inf))
            self._weights[id(entry)] = weight
        return weight

    def _relevant(self, buffer: Sequence[BufferedChunk], t: float) -> tuple[int, list[BufferedChunk], list[float]]:
        """From the newest chunk covering ``t`` that ignores everything older (mask 0), or from the
        oldest: its index, and the covering chunks from there with their masks, oldest first."""
        covering, weights = [], []
        for i in range(len(buffer) - 1, -1, -1):
            entry = buffer[i]
            if entry.chunk.covers(t):
                weight = self._weight(entry, t)
                covering.append(entry)
                weights.append(weight)
                if weight == 0.0:
                    return i, covering[::-1], weights[::-1]
        return 0, covering[::-1], weights[::-1]

    def sample(self, buffer: Sequence[BufferedChunk], t: float) -> Targets | None:
        # Each covering chunk, oldest first, blends into the plan with 1 − (previous plan's weight).
        _, covering, weights = self._relevant(buffer, t)
        if not covering:
            return None
        return blend_readings([e.chunk for e in covering], [1.0 - w for w in weights], t)

    def obsolete(self, buffer: Sequence[BufferedChunk], t: float) -> list[BufferedChunk]:
        return list(buffer[: self._relevant(buffer, t)[0]])

    def reset(self) -> None:
        self._overlap_end.clear()
        self._weights.clear()
