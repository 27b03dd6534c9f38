"""Targets of one layout as a few arrays, and back.

The modes mix readings as arrays — wrist rotations and linear parts (wrist translations, 3 each,
then hand joints) in layout order — and hand :class:`~egoscale_ros.chunking.targets.Targets`
(a dict of small arrays per side) to the node; these convert between the two.
"""

from __future__ import annotations

import numpy as np

from egoscale_ros.chunking.targets import Targets

#: (wrist sides, ((hand side, joint count), ...)), sorted: what :meth:`ActionChunk.layout` returns
Layout = tuple[tuple[str, ...], tuple[tuple[str, int], ...]]

def targets_to_arrays(targets: Targets, layout: Layout) -> tuple[np.ndarray, np.ndarray] | None:
    """Rotations (W, 3, 3) and linear parts (D,) of ``targets``, or None when they do not have
    exactly ``layout``'s sides and sizes."""
    wrist_sides, hand_sides = layout
    if (sorted(targets.wrist) != list(wrist_sides) or sorted(targets.hand) != [s for s, _ in hand_sides]
            or any(np.shape(targets.hand[s]) != (n,) for s, n in hand_sides)
            or any(np.shape(targets.wrist[s]) != (4, 4) for s in wrist_sides)):
        return None
    poses = np.array([targets.wrist[s] for s in wrist_sides], dtype=float).reshape(-1, 4, 4)
    vec = np.concatenate([poses[:, :3, 3].reshape(-1), *(np.asarray(targets.hand[s], float) for s, _ in hand_sides)])
    return poses[:, :3, :3], vec


def targets_from_poses(layout: Layout, poses: np.ndarray, vec: np.ndarray) -> Targets:
    """One target from its wrist poses (W, 4, 4) and linear parts (D,) (the wrist translations in
    them are not read again); the arrays returned are views into ``poses`` and ``vec``."""
    wrist_sides, hand_sides = layout
    hand, offset = {}, 3 * len(wrist_sides)
    for side, n in hand_sides:
        hand[side] = vec[offset : offset + n]
        offset += n
    return Targets(dict(zip(wrist_sides, poses)), hand)
