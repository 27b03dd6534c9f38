"""The 21 human hand keypoints (MediaPipe / OpenPose / MANO-21 order) and the hand's wrist frame.

Retargeting compares hands through these named points: a robot hand config says which of its
frames plays each keypoint, a human source delivers them directly. Points are compared in the
*wrist frame*, defined the same way for every hand so that a human hand, a Sharpa Wave and a Dex3-1
line up without per-pair calibration:

- origin at the wrist keypoint;
- x from the wrist toward the ``forward`` keypoint(s) (the middle finger's MCP for a human hand);
- y in the palm plane, perpendicular to x, toward the thumb side (from the ``lateral`` pair's
  second point toward its first: pinky MCP -> index MCP for a human hand);
- z = x × y. Because the definition is geometric, z is palmar on a left hand and dorsal on a
  right hand; hands of the same side always agree, which is all retargeting needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KEYPOINT_NAMES: tuple[str, ...] = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
KEYPOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
FINGERTIPS: tuple[str, ...] = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip")

# How the wrist frame is found on a human hand (and the default for robot hands).
HUMAN_FORWARD: tuple[str, ...] = ("middle_mcp",)
HUMAN_LATERAL: tuple[str, str] = ("index_mcp", "pinky_mcp")


def keypoint_index(name: str, where: str = "keypoint") -> int:
    """Index of a keypoint name; the error lists the valid names."""
    try:
        return KEYPOINT_INDEX[name]
    except KeyError:
        raise ValueError(f"{where}: '{name}' is not a hand keypoint (one of {', '.join(KEYPOINT_NAMES)})") from None


def wrist_frame_rotation(
    wrist: np.ndarray, forward: Sequence[np.ndarray], lateral: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Rotation whose rows are the wrist frame's x, y, z axes, expressed in the points' frame.

    ``forward``: points whose mean sets x (from ``wrist``); ``lateral``: (thumb-side point,
    other point) whose difference, made perpendicular to x, sets y. Raises ValueError on
    degenerate geometry (coincident or collinear points) rather than returning NaN.
    """
    x = np.mean(np.asarray(forward, dtype=float), axis=0) - np.asarray(wrist, dtype=float)
    nx = np.linalg.norm(x)
    if not np.isfinite(nx) or nx < 1e-6:
        raise ValueError("wrist frame: the forward point(s) coincide with the wrist")
    x = x / nx
    y = np.asarray(lateral[0], dtype=float) - np.asarray(lateral[1], dtype=float)
    y = y - (y @ x) * x
    ny = np.linalg.norm(y)
    if not np.isfinite(ny) or ny < 1e-6:
        raise ValueError("wrist frame: the lateral points are collinear with the forward direction")
    y = y / ny
    return np.stack([x, y, np.cross(x, y)])


def to_wrist_frame(
    points: np.ndarray,
    forward: Sequence[str] = HUMAN_FORWARD,
    lateral: tuple[str, str] = HUMAN_LATERAL,
) -> np.ndarray:
    """Express 21 keypoints given in any frame (a camera's, a tracker's) in their own wrist frame."""
    pts = np.asarray(points, dtype=float)
    rot = wrist_frame_rotation(
        pts[0], [pts[keypoint_index(n)] for n in forward], (pts[keypoint_index(lateral[0])], pts[keypoint_index(lateral[1])])
    )
    return (pts - pts[0]) @ rot.T


def check_keypoints(points: np.ndarray, where: str = "keypoints") -> np.ndarray:
    """Validate a (21, 3) keypoint array (finite, right shape); returns it as float64."""
    arr = np.asarray(points, dtype=float)
    if arr.shape != (NUM_KEYPOINTS, 3):
        raise ValueError(f"{where}: expected shape ({NUM_KEYPOINTS}, 3), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = sorted({KEYPOINT_NAMES[i] for i in np.argwhere(~np.isfinite(arr))[:, 0]})
        raise ValueError(f"{where}: non-finite values at {', '.join(bad)}")
    return arr
