"""Mix chunks read at one time along a chain of blends, the way the ``latest`` mode crossfades.

When every item has one layout (always, behind the smoother, which refuses others) the chain
runs on Python floats — a few readings of two wrists are a few dozen scalar operations, where
numpy's per-call cost would dominate — and the linear parts in one small matrix product.
Otherwise each item is read and mixed as :class:`~egoscale_ros.chunking.targets.Targets`, side
by side, with the same results.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from egoscale_ros.chunking.chunk import ActionChunk
from egoscale_ros.chunking.interpolation import quaternions_at, sample_chunk, step_at
from egoscale_ros.chunking.stack import Layout, targets_from_poses, targets_to_arrays
from egoscale_ros.chunking.targets import Targets, blend
from egoscale_ros.kinematics import se3


def blend_readings(items: Sequence[ActionChunk | Targets], alphas: Sequence[float], t: float) -> Targets:
    """``plan = items[0]``, then ``plan = blend(plan, items[i], alphas[i])`` for i ≥ 1, where a
    chunk stands for its reading at ``t`` (every chunk given must cover ``t``); ``alphas[0]`` is
    not used. The result is fresh arrays, also when it is one of the items unchanged."""
    if len(items) != len(alphas) or not items:
        raise ValueError(f"blend_readings: {len(items)} items and {len(alphas)} alphas (need as many, >= 1)")
    start, steps, fractions, weights = _plan(alphas)
    if not steps:
        return _read(items[start], t, copy=True)
    read = _read_as_floats([items[start], *(items[i] for i in steps)], t)
    if read is None:
        plan = _read(items[0], t)
        for item, alpha in zip(items[1:], alphas[1:]):
            plan = blend(plan, _read(item, t), alpha)
        return plan
    layout, rotations, linear, step_fractions = read
    quats = [se3.slerp_chain_of_floats(per_item, fractions) for per_item in rotations]
    coefficients = []
    for weight, s in zip(weights, step_fractions):  # item i's linear part is L_i + s_i·ΔL_i
        coefficients += (weight, weight * s)
    vec = np.array(coefficients) @ linear
    flat = [c for q in quats for c in q]
    return targets_from_poses(layout, se3.poses_from_quats(flat, vec[: 3 * len(quats)].tolist()), vec)


def _plan(alphas: Sequence[float]) -> tuple[int, list[int], list[float], list[float]]:
    """A chain of blends reduced to what matters: the last item blended in at alpha 1 (``start``,
    earlier items no longer count), the items blended after it with alpha > 0 (``steps``, with
    their ``fractions``), and the weights of start and steps in the linear parts, which fold into
    one weighted sum: ``alpha_i · Π_{j>i} (1 − alpha_j)``."""
    start, steps, fractions = 0, [], []
    for i in range(1, len(alphas)):
        a = float(alphas[i])  # clipped to [0, 1], as blend() clips
        if a >= 1.0:
            start, steps, fractions = i, [], []
        elif a > 0.0:
            steps.append(i)
            fractions.append(a)
    weights, rest = [], 1.0
    for a in reversed(fractions):
        weights.append(a * rest)
        rest *= 1.0 - a
    weights.append(rest)
    return start, steps, fractions, weights[::-1]


def _read(item: ActionChunk | Targets, t: float, copy: bool = False) -> Targets:
    if isinstance(item, Targets):
        if copy:
            return Targets({s: a.copy() for s, a in item.wrist.items()}, {s: a.copy() for s, a in item.hand.items()})
        return item
    out = sample_chunk(item, t)
    if out is None:
        raise ValueError(f"blend_readings: a chunk ({item.stamp:.6f} .. {item.end_time:.6f}) does not cover t = {t:.6f}")
    return out


def _read_as_floats(items: Sequence[ActionChunk | Targets], t: float
                    ) -> tuple[Layout, list[list[tuple[float, ...]]], np.ndarray, list[float]] | None:
    """The items at ``t``: (layout, per wrist the items' rotations as unit quaternions (x, y, z, w)
    on floats, the items' linear parts and their changes to the next step as rows (2n, D), the
    items' fractions of a step); None when they do not share one layout or a chunk does not
    cover ``t`` (the side-by-side path then names it)."""
    layout = None
    for item in items:
        if isinstance(item, ActionChunk):
            layout = item.layout()
            break
    if layout is None:
        return None
    readings, blocks, fractions = [], [], []
    for item in items:
        if isinstance(item, Targets):
            arrays = targets_to_arrays(item, layout)
            if arrays is None:
                return None
            readings.append([tuple(q) for q in se3.matrix_to_quat_batch(arrays[0]).tolist()])
            blocks.append(np.concatenate([arrays[1], np.zeros_like(arrays[1])]))
            fractions.append(0.0)
            continue
        step = step_at(item, t) if item.layout() is layout else None
        if step is None:
            return None
        k, s = step
        readings.append(quaternions_at(item, k, s))
        blocks.append(item.tables.linear_steps[k])
        fractions.append(s)
    linear = np.array(blocks).reshape(2 * len(items), -1)
    return layout, [list(per_wrist) for per_wrist in zip(*readings)], linear, fractions
