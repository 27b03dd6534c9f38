"""Per-tick targets and the two ways of mixing them: a two-way blend and a weighted mean.

Wrist poses mix linearly in translation and geodesically in rotation (via
:mod:`egoscale_ros.kinematics.se3`), hand joints linearly — the same rules as interpolation
between steps, so every execution mode produces targets of one consistent kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from egoscale_ros.kinematics import se3


@dataclass(frozen=True)
class Targets:
    """What the smoother outputs each tick: ``wrist[side]`` 4×4 in the base frame, ``hand[side]`` (n,)."""

    wrist: dict[str, np.ndarray]
    hand: dict[str, np.ndarray]

    def is_finite(self) -> bool:
        return all(np.isfinite(a).all() for a in (*self.wrist.values(), *self.hand.values()))


def blend(a: Targets, b: Targets, alpha: float) -> Targets:
    """``a`` at alpha 0, ``b`` at alpha 1; sides present in only one of them are taken from ``b``
    if there, else from ``a``."""
    alpha = float(min(1.0, max(0.0, alpha)))
    if alpha == 1.0:
        return Targets({**a.wrist, **b.wrist}, {**a.hand, **b.hand})
    wrist = {**a.wrist, **b.wrist}
    common = sorted(a.wrist.keys() & b.wrist.keys())
    if common:  # all wrists in one vectorised call
        poses = se3.interpolate_pose_batch(np.stack([a.wrist[s] for s in common]),
                                           np.stack([b.wrist[s] for s in common]), alpha)
        wrist.update(zip(common, poses))
    hand = {**a.hand, **b.hand}
    for side in a.hand.keys() & b.hand.keys():
        hand[side] = (1.0 - alpha) * a.hand[side] + alpha * b.hand[side]
    return Targets(wrist, hand)


def weighted_mean(samples: Sequence[Targets], weights: Sequence[float]) -> Targets:
    """Weighted mean per side over the samples that have that side (weights renormalised);
    rotations by the weighted quaternion mean (:func:`~egoscale_ros.kinematics.se3.quat_weighted_mean`)."""
    if len(samples) == 1:
        return samples[0]
    w_all = np.asarray(weights, dtype=float)
    wrist: dict[str, np.ndarray] = {}
    for side in {s for sample in samples for s in sample.wrist}:
        idx = [i for i, sample in enumerate(samples) if side in sample.wrist]
        poses = np.stack([samples[i].wrist[side] for i in idx])
        w = w_all[idx] / w_all[idx].sum()
        rot = se3.quat_to_matrix(se3.quat_weighted_mean(se3.matrix_to_quat_batch(poses[:, :3, :3]), w))
        wrist[side] = se3.make_transform(rot, np.einsum("i,ij->j", w, poses[:, :3, 3]))
    hand: dict[str, np.ndarray] = {}
    for side in {s for sample in samples for s in sample.hand}:
        idx = [i for i, sample in enumerate(samples) if side in sample.hand]
        w = w_all[idx] / w_all[idx].sum()
        hand[side] = np.einsum("i,ij->j", w, np.stack([samples[i].hand[side] for i in idx]))
    return Targets(wrist, hand)
