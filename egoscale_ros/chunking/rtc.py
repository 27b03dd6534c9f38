"""Execution mode ``rtc``, after real-time chunking (Black et al., arXiv 2506.07339).

While a new chunk is being inferred the robot keeps executing the previous plan. When the chunk
arrives, the steps that fell due during inference (``stamp .. arrival``) are frozen to the
previous plan, and over the rest of the overlap (until the previous plan ends, or for at most
``blend_s``) the new chunk is blended in with a decaying mask

    W(c) = c² · (3 − 2c),  c = (end − t) / (end − arrival) ∈ [0, 1]

as the weight of the previous plan (``W = 1`` at arrival, ``0`` at the end of the overlap).
The paper applies its mask, ``c · (e^c − 1) / (e − 1)``, as inpainting guidance inside the
policy's denoising; here the mask weighs the executed targets themselves, so its slope is the
change of velocity where the blend starts. The paper's mask leaves at ``c = 1`` with slope
``(2e − 1)/(e − 1) ≈ 2.6`` per overlap: a kink in the executed path of that slope times the
plans' disagreement, sharper the shorter the overlap (a late chunk has less of it left). This
mask is flat at both ends, so the path's velocity stays continuous whatever the overlap.
Each chunk's plan folds in the plan before it, so back-to-back arrivals stay continuous; it is
folded once, on arrival, at the chunk's steps (:mod:`egoscale_ros.chunking.fold`).

The blend starts at ``stamp + d``, where ``d`` is the usual delay of the stream
(:class:`~egoscale_ros.chunking.delay.RecentDelay`, a high quantile of the recent chunks'
arrival − stamp), or at the chunk's own arrival when that is later; at that instant, not at the
next step. The paper takes its inference delay ``d`` as a fixed bound for the same reason:
started at each chunk's own arrival, rounded up to a step, a round trip whose jitter crosses a
step boundary would start one blend a whole step earlier than the next, and each chunk would
join the plan with a mask of another shape. The step after the start carries weight
``1 − W = 3u² − 2u³`` of the new chunk, ``u`` = its distance from the start over the overlap: when
the robot is already between that step and the one before, the target moves at once by at most
``4/9 · (dt / overlap)²`` of the plans' disagreement (0.3 % for 33 ms steps and a 0.4 s overlap).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from egoscale_ros.chunking.chunk import ActionChunk
from egoscale_ros.chunking.delay import RecentDelay
from egoscale_ros.chunking.execution import BufferedChunk, ExecutionMode
from egoscale_ros.chunking.fold import fold
from egoscale_ros.chunking.interpolation import sample_chunk
from egoscale_ros.chunking.targets import Targets


def previous_plan_weight(t: float, arrival: float, overlap_end: float) -> float:
    """The decaying mask: weight of the previous plan at ``t`` for a chunk that arrived at ``arrival``."""
    if overlap_end <= arrival:
        return 1.0 if t <= arrival else 0.0
    if t <= arrival:
        return 1.0
    if t >= overlap_end:
        return 0.0
    c = (overlap_end - t) / (overlap_end - arrival)
    return c * c * (3.0 - 2.0 * c)


class RtcMode(ExecutionMode):
    """Freeze steps due during inference to the previous plan, then blend with a decaying mask.

    Each chunk is folded into the plan when it arrives (:func:`~egoscale_ros.chunking.fold.fold`),
    at its own steps, so a tick reads one chunk whatever the overlap. Steps due before the
    arrival, or before ``stamp`` + the stream's usual delay when that is later, are frozen to the
    previous plan; between steps the plan is interpolated like any chunk. ``delay_memory`` and
    ``delay_quantile``: how the usual delay is taken (:class:`~egoscale_ros.chunking.delay.RecentDelay`).
    """

    name = "rtc"

    def __init__(self, blend_s: float | None = None, delay_memory: int = 30, delay_quantile: float = 0.9) -> None:
        if blend_s is not None and not blend_s > 0:
            raise ValueError(f"rtc: blend_s must be > 0 or None (got {blend_s})")
        self.blend_s = blend_s
        self.delay = RecentDelay(delay_memory, delay_quantile)
        self._plan: ActionChunk | None = None
        self._newest: BufferedChunk | None = None

    def on_chunk(self, new: BufferedChunk, buffer: Sequence[BufferedChunk]) -> None:
        chunk = new.chunk
        previous = self._plan
        usual = self.delay.add(new.arrival - chunk.stamp)
        start = max(new.arrival, chunk.stamp + usual)
        previous_end = previous.end_time if previous is not None else -math.inf
        end = previous_end if self.blend_s is None else min(previous_end, start + self.blend_s)
        self._plan = fold(previous, chunk, start, end)
        self._newest = new

    def sample(self, buffer: Sequence[BufferedChunk], t: float) -> Targets | None:
        if self._plan is None or not buffer or buffer[-1] is not self._newest:
            return None  # the newest chunk has run out (or was dropped): starved
        return sample_chunk(self._plan, t)

    def obsolete(self, buffer: Sequence[BufferedChunk], t: float) -> list[BufferedChunk]:
        # Folded into the plan: only the newest chunk still stands for it in the buffer.
        return [e for e in buffer if e is not self._newest]

    def reset(self) -> None:
        self._plan = None
        self._newest = None
        self.delay.reset()
