"""Read a chunk at any time: the continuous-time trajectory its discrete steps describe.

Step ``k`` is due at ``stamp + k·dt``; between two steps the wrist moves linearly in
translation and along the rotation geodesic, hand joints linearly. Outside
``[stamp, stamp + (H−1)·dt]`` the chunk says nothing (no extrapolation: a control loop should
hold, not guess).

The readers use the chunk's per-step tables (:mod:`egoscale_ros.chunking.step_tables`), so a
reading is a lookup and a few products, whatever the horizon: :func:`sample_chunk` reads one
chunk as targets (4×4 poses, from one small matrix product); :func:`quaternions_at` gives one
reading's rotations as quaternions on floats, for mixing a few readings (the ``latest``
crossfade); :func:`quaternion_readings` reads rows of the quaternion table, one chunk at many
times (folding, :mod:`egoscale_ros.chunking.fold`). The temporal ensemble reads all its chunks at
once from their stacked tables (:mod:`egoscale_ros.chunking.stacked`).
"""

from __future__ import annotations

import math

import numpy as np

from egoscale_ros.chunking.chunk import ActionChunk
from egoscale_ros.chunking.step_tables import QuatColumns
from egoscale_ros.chunking.targets import Targets

#: a reading within this fraction of a step from a step is that step, exactly
STEP_SNAP = 1e-12


def step_at(chunk: ActionChunk, t: float) -> tuple[int, float] | None:
    """Step ``k`` and fraction ``s ∈ [0, 1)`` towards step ``k+1`` at time ``t``; None when the
    chunk does not cover ``t``. On a step (to :data:`STEP_SNAP`) ``s`` is 0: the step comes out exactly."""
    stamp = chunk.stamp
    if not stamp - 1e-9 <= t <= chunk.end_time + 1e-9:
        return None
    u = (t - stamp) / chunk.dt
    last = chunk.horizon - 1
    if u <= 0.0:
        return 0, 0.0
    if u >= last:
        return last, 0.0
    k = int(u)
    s = u - k
    if s <= STEP_SNAP:
        return k, 0.0
    if s >= 1.0 - STEP_SNAP:
        return k + 1, 0.0
    return k, s


def steps_at(u: np.ndarray, last) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`step_at` from ``u`` (M,), the times in steps since the stamps, and
    ``last`` (scalar or (M,)), the chunks' last steps: steps ``k`` (M,) and fractions ``s`` (M,)."""
    u = np.minimum(np.maximum(u, 0.0), last)
    k = np.minimum((u + STEP_SNAP).astype(np.intp), last)  # within STEP_SNAP below a step: that step
    s = u - k
    s[s <= STEP_SNAP] = 0.0
    return k, s


def sample_chunk(chunk: ActionChunk, t: float) -> Targets | None:
    """Targets of ``chunk`` at time ``t`` (fresh arrays), or None when ``t`` is outside the chunk."""
    step = step_at(chunk, t)
    if step is None:
        return None
    k, s = step
    tables = chunk.tables
    basis = tables.pose[k]
    if s == 0.0:
        out = basis[0].copy()
    else:
        coefficients = [1.0, s]
        for theta in tables.angles[k]:
            angle = s * theta
            coefficients += (math.sin(angle), 1.0 - math.cos(angle))
        out = np.array(coefficients) @ basis
    wrist_sides, hand_sides = chunk.layout()
    n_wrist = len(wrist_sides)
    wrist = dict(zip(wrist_sides, out[: 16 * n_wrist].reshape(n_wrist, 4, 4))) if n_wrist else {}
    hand, offset = {}, 16 * n_wrist
    for side, n in hand_sides:
        hand[side] = out[offset : offset + n]
        offset += n
    return Targets(wrist, hand)


def quaternions_at(chunk: ActionChunk, k: int, s: float) -> list[tuple[float, float, float, float]]:
    """The chunk's wrist rotations at fraction ``s`` of step ``k`` as unit quaternions on Python
    floats, ``q_k ⊗ (sin(sθ/2)·a, cos(sθ/2)) = cos(sθ/2)·q_k + sin(sθ/2)·p_k``, in layout order:
    for mixing a few readings, where numpy's per-call cost would dominate."""
    out = []
    for half, qx, qy, qz, qw, px, py, pz, pw in chunk.tables.rotation_floats[k]:
        if s:
            c, n = math.cos(s * half), math.sin(s * half)
            out.append((c * qx + n * px, c * qy + n * py, c * qz + n * pz, c * qw + n * pw))
        else:
            out.append((qx, qy, qz, qw))
    return out


def quaternion_readings(rows: np.ndarray, s: np.ndarray, columns: QuatColumns, n_wrist: int
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Readings from rows of quaternion tables (M, C) at fractions ``s`` (M,) of their steps:
    wrist rotations as unit quaternions (M, W, 4) and linear parts (M, D)."""
    count = len(s)
    half = rows[:, columns.half_angle] * s[:, None]  # (M, W)
    quats = (np.cos(half)[..., None] * rows[:, columns.quat].reshape(count, n_wrist, 4)
             + np.sin(half)[..., None] * rows[:, columns.quat_turned].reshape(count, n_wrist, 4))
    return quats, rows[:, columns.linear] + s[:, None] * rows[:, columns.linear_change]
