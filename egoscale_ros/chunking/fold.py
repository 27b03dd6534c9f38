"""Fold an arriving chunk into the plan before it, once, so that a control tick reads one chunk.

Real-time chunking (:mod:`egoscale_ros.chunking.rtc`) executes a plan in which every chunk blends
into the plan before it. Evaluated at every tick that is a chain through every overlapping chunk
(a 1 s horizon at 30 chunks/s overlaps about 30), so its cost grows with the overlap. Folded on
arrival instead, at the new chunk's own steps, the plan is itself a chunk: step ``k`` is the
previous plan at that step's due time blended with the new chunk's step ``k``. A tick then reads
one chunk, whatever the overlap; between two steps the plan is interpolated like any chunk.

:func:`read_at_times` reads one chunk at many times in one go (what the fold needs).
"""

from __future__ import annotations

import numpy as np

from egoscale_ros.chunking.chunk import ActionChunk
from egoscale_ros.chunking.interpolation import quaternion_readings, steps_at
from egoscale_ros.kinematics import se3


def previous_plan_weights(times: np.ndarray, start: float, overlap_end: float) -> np.ndarray:
    """The decaying mask at each of ``times``: 1 up to ``start``, ``c²·(3 − 2c)`` with
    ``c = (overlap_end − t)/(overlap_end − start)`` after it, 0 from ``overlap_end`` (flat at
    both ends, see :mod:`egoscale_ros.chunking.rtc`)."""
    times = np.asarray(times, dtype=float)
    if overlap_end <= start:
        return np.where(times <= start, 1.0, 0.0)
    c = np.clip((overlap_end - times) / (overlap_end - start), 0.0, 1.0)
    # Exactly 1 and 0 at the ends: a frozen step is the previous plan's, to the last bit.
    return np.where(times <= start, 1.0, np.where(times >= overlap_end, 0.0, c * c * (3.0 - 2.0 * c)))


def read_at_times(chunk: ActionChunk, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``chunk`` at each of ``times`` (clamped to its span): wrist rotations as unit quaternions
    (T, W, 4), linear parts (T, D) in layout order, and whether the chunk covers each time (T,)."""
    times = np.asarray(times, dtype=float)
    table, columns = chunk.tables.quat, chunk.tables.columns
    k, s = steps_at((times - chunk.stamp) / chunk.dt, chunk.horizon - 1)
    quats, linear = quaternion_readings(table[k], s, columns, len(chunk.layout()[0]))
    covered = (times >= chunk.stamp - 1e-9) & (times <= chunk.end_time + 1e-9)
    return quats, linear, covered


def fold(previous: ActionChunk | None, new: ActionChunk, start: float, overlap_end: float) -> ActionChunk:
    """The plan after ``new``: at each step of ``new``, the ``previous`` plan weighted by the mask
    (:func:`previous_plan_weights`, from ``start`` to ``overlap_end``) and ``new`` by one minus it;
    translations and hand joints linearly, rotations along the geodesic. Where ``previous`` does
    not reach, ``new`` alone. Both must have one layout (the smoother refuses others)."""
    if previous is None:
        return new
    h = new.horizon
    times = new.stamp + np.arange(h) * new.dt
    kept = previous_plan_weights(times, start, overlap_end)
    prev_quats, prev_linear, covered = read_at_times(previous, times)
    kept[~covered] = 0.0
    if not kept.any():
        return new
    columns = new.tables.columns
    new_quats = new.tables.quat[:, columns.quat].reshape(prev_quats.shape)
    new_linear = new.tables.quat[:, columns.linear]
    taken = 1.0 - kept
    quats = se3.quat_slerp_batch(prev_quats, new_quats, taken[:, None])
    linear = kept[:, None] * prev_linear + taken[:, None] * new_linear
    return _chunk_from_parts(new, se3.quat_to_matrix(quats), linear)


def _chunk_from_parts(like: ActionChunk, rot: np.ndarray, linear: np.ndarray) -> ActionChunk:
    """A chunk with ``like``'s stamp, step and layout from rotations (H, W, 3, 3) and linear parts."""
    wrist_sides, hand_sides = like.layout()
    h, n_wrist = like.horizon, len(wrist_sides)
    poses = np.zeros((h, n_wrist, 4, 4))
    poses[:, :, :3, :3] = rot
    poses[:, :, :3, 3] = linear[:, : 3 * n_wrist].reshape(h, n_wrist, 3)
    poses[:, :, 3, 3] = 1.0
    wrist = {side: _frozen(poses[:, i]) for i, side in enumerate(wrist_sides)}
    hand, offset = {}, 3 * n_wrist
    for side, n in hand_sides:
        hand[side] = _frozen(linear[:, offset : offset + n])
        offset += n
    return ActionChunk(like.stamp_ns, like.dt, wrist, hand, h, hand_joint_names=like.hand_joint_names,
                       frame=like.frame)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a
