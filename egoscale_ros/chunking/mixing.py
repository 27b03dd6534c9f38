"""Mix chunks read at one time, the way the execution modes do: a chain of blends, a weighted mean.

When every chunk has one layout (always, behind the smoother, which refuses others) the chunks
are read and mixed as stacked arrays (:mod:`egoscale_ros.chunking.stack`): a handful of
vectorised calls per tick. Otherwise each chunk is read and mixed as
:class:`~egoscale_ros.chunking.targets.Targets`, side by side, with the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from egoscale_ros.chunking.chunk import ActionChunk
from egoscale_ros.chunking.interpolation import sample_chunk, sample_chunks
from egoscale_ros.chunking.stack import TargetStack, blend_chain_of_stack, weighted_mean_of_stack
from egoscale_ros.chunking.targets import Targets, blend, weighted_mean


def blend_readings(items: Sequence[ActionChunk | Targets], alphas: Sequence[float], t: float) -> Targets:
    """``plan = items[0]``, then ``plan = blend(plan, items[i], alphas[i])`` for i ≥ 1, where a
    chunk stands for its reading at ``t`` (every chunk given must cover ``t``); ``alphas[0]`` is
    not used."""
    if len(items) != len(alphas) or not items:
        raise ValueError(f"blend_readings: {len(items)} items and {len(alphas)} alphas (need as many, >= 1)")
    stack = _stack(items, t)
    if stack is not None:
        return blend_chain_of_stack(stack, alphas)
    plan = _read(items[0], t)
    for item, alpha in zip(items[1:], alphas[1:]):
        plan = blend(plan, _read(item, t), alpha)
    return plan


def weighted_mean_of_readings(chunks: Sequence[ActionChunk], t: float, weights_for: Callable[[int], np.ndarray], newest: int | None = None,
                              rotation_iterations: int = 3) -> Targets | None:
    """Weighted mean of the readings at ``t`` of the chunks that cover it (of the ``newest`` such
    when given), weights ``weights_for(count)`` oldest first; None when no chunk covers ``t``."""
    if _one_layout(chunks):
        read = sample_chunks(chunks, t)
        if read is None:
            return None
        stack = read[1]
        if newest is not None:
            stack = stack.select(slice(-newest, None))
        return weighted_mean_of_stack(stack, weights_for(len(stack)), rotation_iterations)
    samples = [s for s in (sample_chunk(c, t) for c in chunks) if s is not None]
    if not samples:
        return None
    if newest is not None:
        samples = samples[-newest:]
    return weighted_mean(samples, weights_for(len(samples)), rotation_iterations)


def _one_layout(chunks: Sequence[ActionChunk]) -> bool:
    if not chunks:
        return True
    first = chunks[0].layout()
    return all(c.layout() is first or c.layout() == first for c in chunks)


def _read(item: ActionChunk | Targets, t: float) -> Targets:
    if isinstance(item, Targets):
        return item
    out = sample_chunk(item, t)
    if out is None:
        raise ValueError(f"blend_readings: a chunk ({item.stamp:.6f} .. {item.end_time:.6f}) does not cover t = {t:.6f}")
    return out


def _stack(items: Sequence[ActionChunk | Targets], t: float) -> TargetStack | None:
    """All items as one stack, or None when they do not share one layout."""
    at = [i for i, x in enumerate(items) if isinstance(x, ActionChunk)]
    chunks = [items[i] for i in at]
    if not chunks or not _one_layout(chunks):
        return None
    read = sample_chunks(chunks, t)
    if read is None or len(read[0]) != len(chunks):
        return None  # the slow path names the chunk that does not cover t
    stack = read[1]
    if len(at) == len(items):
        return stack
    rot = np.empty((len(items),) + stack.rot.shape[1:])
    vec = np.empty((len(items),) + stack.vec.shape[1:])
    rot[at], vec[at] = stack.rot, stack.vec
    chunk_at = set(at)
    for i, item in enumerate(items):
        if i in chunk_at:
            continue
        one = TargetStack.from_targets(item, stack.layout)
        if one is None:
            return None
        rot[i], vec[i] = one.rot[0], one.vec[0]
    return TargetStack(stack.layout, rot, vec)
