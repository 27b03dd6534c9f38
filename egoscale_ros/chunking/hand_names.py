"""Hand chunk columns ordered by joint name against the declared hand space, before any use.

A hand chunk (``trajectory_msgs/JointTrajectory``) names its columns. The smoother blends
chunks column by column, so every chunk of one side must reach it in the same joint order. Here
each side's columns are looked up by name in the declared joint list of the policy's hand (the
hand config), so a chunk with reordered names drives the same fingers as one in the declared
order, and a chunk with an unknown, missing or repeated name is refused whole. Nothing about a
refused chunk is remembered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from egoscale_ros.chunking.chunk import ChunkError


def order_hand_columns(names: Sequence[str], values: np.ndarray,
                       declared: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
    """``(H, len(names))`` values -> side -> ``(H, len(declared[side]))`` in the declared order.

    A side with no column in ``names`` is absent from the result; a side with some of its
    columns but not all is refused. Raises :class:`ChunkError` naming the offending joint.
    """
    names = [str(n) for n in names]
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(names):
        raise ChunkError(f"points have {values.shape[1:]} positions for {len(names)} joint names")
    column = {}
    for i, n in enumerate(names):
        if n in column:
            raise ChunkError(f"joint name '{n}' appears twice")
        column[n] = i
    side_of = {n: side for side, joints in declared.items() for n in joints}
    unknown = [n for n in names if n not in side_of]
    if unknown:
        raise ChunkError(f"joint name(s) {unknown[:5]} are not in the declared hand joints")
    out = {}
    for side, joints in declared.items():
        present = [j for j in joints if j in column]
        if not present:
            continue
        if len(present) != len(joints):
            missing = [j for j in joints if j not in column]
            raise ChunkError(f"{side} hand: joint(s) {missing[:5]} missing ({len(missing)} of {len(joints)})")
        out[side] = values[:, [column[j] for j in joints]]
    return out
