"""Mix chunks read at one time, the way the execution modes do: a chain of blends, a weighted mean.

When every chunk has one layout (always, behind the smoother, which refuses others) the chunks
are read and mixed as stacked arrays: a handful of vectorised calls per tick. Otherwise each
chunk is read and mixed as :class:`~egoscale_ros.chunking.targets.Targets`, side by side, with
the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from egoscale_ros.chunking.chunk import ActionChunk
from egoscale_ros.chunking.interpolation import sample_chunk, sample_chunks, sample_chunks_as_quaternions
from egoscale_ros.chunking.stack import Layout, TargetStack, stack_to_targets, weighted_mean_of_stack
from egoscale_ros.chunking.targets import Targets, blend, weighted_mean
from egoscale_ros.kinematics import se3


def blend_readings(items: Sequence[ActionChunk | Targets], alphas: Sequence[float], t: float) -> Targets:
    """``plan = items[0]``, then ``plan = blend(plan, items[i], alphas[i])`` for i ≥ 1, where a
    chunk stands for its reading at ``t`` (every chunk given must cover ``t``); ``alphas[0]`` is
    not used. The result is fresh arrays, also when it is one of the items unchanged."""
    if len(items) != len(alphas) or not items:
        raise ValueError(f"blend_readings: {len(items)} items and {len(alphas)} alphas (need as many, >= 1)")
    chain = _plan(alphas)
    if not chain.steps:
        return _read(items[chain.start], t, copy=True)
    read = _read_as_quaternions([items[chain.start], *(items[i] for i in chain.steps)], t)
    if read is None:
        plan = _read(items[0], t)
        for item, alpha in zip(items[1:], alphas[1:]):
            plan = blend(plan, _read(item, t), alpha)
        return plan
    layout, quats, vec = read
    rot = se3.quat_to_matrix(se3.quat_slerp_chain(quats, chain.fractions)) if layout[0] else np.zeros((0, 3, 3))
    return stack_to_targets(layout, rot, np.array(chain.weights) @ vec)


def weighted_mean_of_readings(chunks: Sequence[ActionChunk], t: float, weights_for: Callable[[int], np.ndarray],
                              newest: int | None = None, rotation_iterations: int = 3) -> Targets | None:
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


@dataclass(frozen=True)
class _Chain:
    """A chain of blends reduced to what matters: the last item blended in at alpha 1 (``start``,
    earlier items no longer count), the items blended after it with alpha > 0 (``steps``, with
    their ``fractions``), and the weights of start and steps in the linear parts, which fold into
    one weighted sum: ``alpha_i · Π_{j>i} (1 − alpha_j)``."""

    start: int
    steps: list[int]
    fractions: list[float]
    weights: list[float]


def _plan(alphas: Sequence[float]) -> _Chain:
    clipped = [1.0] + [min(1.0, max(0.0, float(a))) for a in alphas[1:]]  # as blend() clips
    start = max(i for i, a in enumerate(clipped) if a == 1.0)
    steps = [i for i in range(start + 1, len(clipped)) if clipped[i] > 0.0]
    fractions = [clipped[i] for i in steps]
    weights, rest = [], 1.0
    for a in reversed(fractions):
        weights.append(a * rest)
        rest *= 1.0 - a
    weights.append(rest)
    return _Chain(start, steps, fractions, weights[::-1])


def _one_layout(chunks: Sequence[ActionChunk]) -> bool:
    if not chunks:
        return True
    first = chunks[0].layout()
    return all(c.layout() is first or c.layout() == first for c in chunks)


def _read(item: ActionChunk | Targets, t: float, copy: bool = False) -> Targets:
    if isinstance(item, Targets):
        if copy:
            return Targets({s: a.copy() for s, a in item.wrist.items()}, {s: a.copy() for s, a in item.hand.items()})
        return item
    out = sample_chunk(item, t)
    if out is None:
        raise ValueError(f"blend_readings: a chunk ({item.stamp:.6f} .. {item.end_time:.6f}) does not cover t = {t:.6f}")
    return out


def _read_as_quaternions(items: Sequence[ActionChunk | Targets], t: float
                         ) -> tuple[Layout, np.ndarray, np.ndarray] | None:
    """(layout, wrist quaternions (n, W, 4), linear parts (n, D)) of the items at ``t``, or None
    when they do not share one layout."""
    at = [i for i, x in enumerate(items) if isinstance(x, ActionChunk)]
    chunks = [items[i] for i in at]
    if not chunks or not _one_layout(chunks):
        return None
    read = sample_chunks_as_quaternions(chunks, t)
    if read is None or len(read[0]) != len(chunks):
        return None  # the slow path names the chunk that does not cover t
    _, layout, quats, vec = read
    if len(at) == len(items):
        return layout, quats, vec
    all_quats = np.empty((len(items),) + quats.shape[1:])
    all_vec = np.empty((len(items),) + vec.shape[1:])
    all_quats[at], all_vec[at] = quats, vec
    chunk_at = set(at)
    for i, item in enumerate(items):
        if i in chunk_at:
            continue
        one = TargetStack.from_targets(item, layout)
        if one is None:
            return None
        all_quats[i], all_vec[i] = se3.matrix_to_quat_batch(one.rot[0]), one.vec[0]
    return layout, all_quats, all_vec
