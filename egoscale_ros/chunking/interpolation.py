"""Read a chunk at any time: the continuous-time trajectory its discrete steps describe.

Step ``k`` is due at ``stamp + k·dt``; between two steps the wrist moves linearly in
translation and along the rotation geodesic, hand joints linearly. Outside
``[stamp, stamp + (H−1)·dt]`` the chunk says nothing (no extrapolation: a control loop should
hold, not guess).

:func:`sample_chunks` reads many chunks of one layout at once, as a control tick does: one gather
and one batched exponential map, whatever the number of chunks and sides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from egoscale_ros.chunking.chunk import ActionChunk
from egoscale_ros.chunking.stack import TargetStack
from egoscale_ros.chunking.targets import Targets
from egoscale_ros.kinematics import se3


def sample_chunk(chunk: ActionChunk, t: float) -> Targets | None:
    """Targets of ``chunk`` at time ``t``, or None when ``t`` is outside the chunk."""
    read = sample_chunks([chunk], t)
    return None if read is None else read[1].targets(0)


def sample_chunks(chunks: Sequence[ActionChunk], t: float) -> tuple[list[int], TargetStack] | None:
    """Read at ``t`` the chunks that cover it, all of the first one's layout (the smoother refuses
    others): their indices in ``chunks`` and their targets stacked; None when none covers ``t``."""
    rows, fractions, picked = [], [], []
    for i, chunk in enumerate(chunks):
        if chunk.covers(t):
            k, s = _step(chunk, t)
            rows.append(chunk.packed[k : k + 2])
            fractions.append(s)
            picked.append(i)
    if not picked:
        return None
    layout = chunks[picked[0]].layout()
    n_wrist = len(layout[0])
    count = len(picked)
    both = np.concatenate(rows).reshape(count, 2, -1)  # (M, 2, 12·W + D): steps k and k+1
    s = np.array(fractions)
    rot = both[:, 0, : 9 * n_wrist].reshape(count, n_wrist, 3, 3)
    if n_wrist:
        # Same as se3.interpolate_pose, with the step's rotation log precomputed by make_chunk.
        step_rotvecs = both[:, 0, 9 * n_wrist : 12 * n_wrist].reshape(count, n_wrist, 3)
        rot = rot @ se3.so3_exp_batch(s[:, None, None] * step_rotvecs)
    linear = both[:, :, 12 * n_wrist :]
    vec = (1.0 - s)[:, None] * linear[:, 0] + s[:, None] * linear[:, 1]
    return picked, TargetStack(layout, rot, vec)


def _step(chunk: ActionChunk, t: float) -> tuple[int, float]:
    """Step ``k`` and fraction ``s`` towards step k+1 at ``t``; ``s`` is 0 on a step (to 1e-12),
    so that the step itself comes out exactly."""
    if chunk.horizon == 1:
        return 0, 0.0
    u = min(max((t - chunk.stamp) / chunk.dt, 0.0), chunk.horizon - 1.0)
    k = min(int(math.floor(u)), chunk.horizon - 2)
    s = u - k
    return k, 0.0 if s <= 1e-12 else s
