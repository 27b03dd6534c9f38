"""Read a chunk at any time: the continuous-time trajectory its discrete steps describe.

Step ``k`` is due at ``stamp + k·dt``; between two steps the wrist moves linearly in
translation and along the rotation geodesic, hand joints linearly. Outside
``[stamp, stamp + (H−1)·dt]`` the chunk says nothing (no extrapolation: a control loop should
hold, not guess).

:func:`sample_chunks` reads many chunks of one layout at once, as a control tick does: one gather
and one batched exponential map, whatever the number of chunks and sides.
:func:`sample_chunks_as_quaternions` reads the same rotations as unit quaternions, for mixing
that works on quaternions (a chain of geodesic blends), without a matrix on the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from egoscale_ros.chunking.chunk import ActionChunk, PackedColumns, packed_columns
from egoscale_ros.chunking.stack import Layout, TargetStack
from egoscale_ros.chunking.targets import Targets
from egoscale_ros.kinematics import se3

_columns = lru_cache(maxsize=None)(packed_columns)


def sample_chunk(chunk: ActionChunk, t: float) -> Targets | None:
    """Targets of ``chunk`` at time ``t``, or None when ``t`` is outside the chunk."""
    read = sample_chunks([chunk], t)
    return None if read is None else read[1].targets(0)


def sample_chunks(chunks: Sequence[ActionChunk], t: float) -> tuple[list[int], TargetStack] | None:
    """Read at ``t`` the chunks that cover it, all of the first one's layout (the smoother refuses
    others): their indices in ``chunks`` and their targets stacked; None when none covers ``t``."""
    read = _gather(chunks, t)
    if read is None:
        return None
    picked, layout, columns, both, s = read
    n_wrist = len(layout[0])
    rot = both[:, 0, columns.rot].reshape(len(picked), n_wrist, 3, 3)
    if n_wrist:
        # Same as se3.interpolate_pose, with the step's rotation log precomputed by make_chunk.
        step_rotvecs = both[:, 0, columns.step_rotvec].reshape(len(picked), n_wrist, 3)
        rot = rot @ se3.so3_exp_batch(s[:, None, None] * step_rotvecs)
    return picked, TargetStack(layout, rot, _linear(both, s, columns))


def sample_chunks_as_quaternions(chunks: Sequence[ActionChunk], t: float
                                 ) -> tuple[list[int], Layout, np.ndarray, np.ndarray] | None:
    """As :func:`sample_chunks`, with the wrist rotations as unit quaternions: (indices, layout,
    quaternions (M, W, 4), linear parts (M, D)). The rotation of step k times that of the fraction
    ``s`` of the step to k+1, ``q_k ⊗ (sin(sθ/2)·axis, cos(sθ/2))``: the same geodesic."""
    read = _gather(chunks, t)
    if read is None:
        return None
    picked, layout, columns, both, s = read
    count, n_wrist = len(picked), len(layout[0])
    quats = both[:, 0, columns.quat].reshape(count, n_wrist, 4)
    if n_wrist:
        half = s[:, None] * both[:, 0, columns.step_half_angle]  # (M, W)
        step = np.empty((count, n_wrist, 4))
        step[..., :3] = np.sin(half)[..., None] * both[:, 0, columns.step_axis].reshape(count, n_wrist, 3)
        step[..., 3] = np.cos(half)
        quats = se3.quat_multiply_batch(quats, step)
    return picked, layout, quats, _linear(both, s, columns)


def _gather(chunks: Sequence[ActionChunk], t: float
            ) -> tuple[list[int], Layout, PackedColumns, np.ndarray, np.ndarray] | None:
    """Steps k and k+1 of the chunks covering ``t``, (M, 2, columns), and the fractions s (M,)."""
    rows, fractions, picked = [], [], []
    for i, chunk in enumerate(chunks):  # ActionChunk.covers and _step, inlined: this runs per chunk and tick
        stamp = chunk.stamp
        if not stamp - 1e-9 <= t <= chunk.end_time + 1e-9:
            continue
        last = chunk.horizon - 1.0
        if last == 0.0:
            k, s = 0, 0.0
        else:  # step k and fraction s towards k+1; s is 0 on a step (to 1e-12): the step comes out exactly
            u = (t - stamp) / chunk.dt
            u = 0.0 if u < 0.0 else (last if u > last else u)
            k = min(int(u), chunk.horizon - 2)
            s = u - k
            if s <= 1e-12:
                s = 0.0
        rows.append(chunk.packed[k : k + 2])
        fractions.append(s)
        picked.append(i)
    if not picked:
        return None
    layout = chunks[picked[0]].layout()
    both = np.concatenate(rows).reshape(len(picked), 2, -1)
    return picked, layout, _columns(len(layout[0])), both, np.array(fractions)


def _linear(both: np.ndarray, s: np.ndarray, columns: PackedColumns) -> np.ndarray:
    linear = both[:, :, columns.linear]
    return (1.0 - s)[:, None] * linear[:, 0] + s[:, None] * linear[:, 1]
