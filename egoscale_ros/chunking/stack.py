"""Many targets of one layout as a few arrays, and their weighted mean, vectorised.

A control tick reads every buffered chunk at ``t`` and mixes the readings. Kept as
:class:`~egoscale_ros.chunking.targets.Targets` (a dict of small arrays per reading) that costs a
few numpy calls per side and reading; stacked here it costs a few calls per tick, with the
results of :func:`~egoscale_ros.chunking.targets.weighted_mean` (to rounding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from egoscale_ros.chunking.targets import Targets
from egoscale_ros.kinematics import se3

#: (wrist sides, ((hand side, joint count), ...)), sorted: what :meth:`ActionChunk.layout` returns
Layout = tuple[tuple[str, ...], tuple[tuple[str, int], ...]]

_BOTTOM_ROW = np.array([0.0, 0.0, 0.0, 1.0])


@dataclass(frozen=True)
class TargetStack:
    """M targets sharing one layout: ``rot`` (M, W, 3, 3) for the W wrists and ``vec`` (M, D), the
    linear parts — wrist translations (3 each), then hand joints — in layout order."""

    layout: Layout
    rot: np.ndarray
    vec: np.ndarray

    def __len__(self) -> int:
        return self.vec.shape[0]

    def select(self, index) -> TargetStack:
        """The targets at ``index`` (a slice or index array along M)."""
        return TargetStack(self.layout, self.rot[index], self.vec[index])

    def targets(self, i: int) -> Targets:
        """Target ``i`` as :class:`Targets` (fresh arrays)."""
        return stack_to_targets(self.layout, self.rot[i], self.vec[i].copy())

    @staticmethod
    def from_targets(targets: Targets, layout: Layout) -> TargetStack | None:
        """A stack of one, or None when ``targets`` do not have exactly ``layout``'s sides and sizes."""
        wrist_sides, hand_sides = layout
        if (sorted(targets.wrist) != list(wrist_sides) or sorted(targets.hand) != [s for s, _ in hand_sides]
                or any(np.shape(targets.hand[s]) != (n,) for s, n in hand_sides)
                or any(np.shape(targets.wrist[s]) != (4, 4) for s in wrist_sides)):
            return None
        poses = np.array([targets.wrist[s] for s in wrist_sides], dtype=float).reshape(-1, 4, 4)
        vec = np.concatenate([poses[:, :3, 3].reshape(-1), *(np.asarray(targets.hand[s], float) for s, _ in hand_sides)])
        return TargetStack(layout, poses[None, :, :3, :3], vec[None])


def stack_to_targets(layout: Layout, rot: np.ndarray, vec: np.ndarray) -> Targets:
    """One target from its rotations (W, 3, 3) and linear parts (D,); the arrays returned are views
    into one new pose array and into ``vec``."""
    wrist_sides, hand_sides = layout
    n_wrist = len(wrist_sides)
    poses = np.empty((n_wrist, 4, 4))
    poses[:, :3, :3] = rot
    poses[:, :3, 3] = vec[: 3 * n_wrist].reshape(n_wrist, 3)
    poses[:, 3] = _BOTTOM_ROW
    hand, offset = {}, 3 * n_wrist
    for side, n in hand_sides:
        hand[side] = vec[offset : offset + n]
        offset += n
    return Targets(dict(zip(wrist_sides, poses)), hand)


def weighted_mean_of_stack(stack: TargetStack, weights: Sequence[float], rotation_iterations: int = 3) -> Targets:
    """:func:`~egoscale_ros.chunking.targets.weighted_mean` of the stacked targets: the weighted
    mean of the linear parts, the weighted Karcher mean of each wrist's rotations."""
    if len(stack) == 1:
        return stack.targets(0)
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    rot = stack.rot
    if rot.shape[1]:
        # (W, M, 3, 3): one Karcher mean per wrist, all wrists in one call.
        rot = se3.weighted_mean_rotation_batch(np.swapaxes(rot, 0, 1), w, rotation_iterations)
    else:
        rot = rot[0]
    return stack_to_targets(stack.layout, rot, w @ stack.vec)
