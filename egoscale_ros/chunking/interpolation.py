"""Read a chunk at any time: the continuous-time trajectory its discrete steps describe.

Step ``k`` is due at ``stamp + k·dt``; between two steps the wrist moves linearly in
translation and along the rotation geodesic, hand joints linearly. Outside
``[stamp, stamp + (H−1)·dt]`` the chunk says nothing (no extrapolation: a control loop should
hold, not guess).
"""

from __future__ import annotations

import math

from egoscale_ros.chunking.chunk import ActionChunk
from egoscale_ros.chunking.targets import Targets
from egoscale_ros.kinematics import se3


def sample_chunk(chunk: ActionChunk, t: float) -> Targets | None:
    """Targets of ``chunk`` at time ``t``, or None when ``t`` is outside the chunk."""
    if not chunk.covers(t):
        return None
    if chunk.horizon == 1:
        k, s = 0, 0.0
    else:
        u = min(max((t - chunk.stamp) / chunk.dt, 0.0), chunk.horizon - 1.0)
        k = min(int(math.floor(u)), chunk.horizon - 2)
        s = u - k
    if s <= 1e-12 or chunk.horizon == 1:
        return Targets({side: a[k].copy() for side, a in chunk.wrist.items()},
                       {side: a[k].copy() for side, a in chunk.hand.items()})
    # Same as se3.interpolate_pose, with the step's rotation log precomputed by make_chunk.
    wrist = {
        side: se3.make_transform(a[k, :3, :3] @ se3.so3_exp(s * chunk.wrist_step_rotvecs[side][k]),
                                 (1.0 - s) * a[k, :3, 3] + s * a[k + 1, :3, 3])
        for side, a in chunk.wrist.items()
    }
    hand = {side: (1.0 - s) * a[k] + s * a[k + 1] for side, a in chunk.hand.items()}
    return Targets(wrist, hand)
