"""Where retargeting input comes from, turned into the 21 keypoints in the common wrist frame.

- :class:`HumanKeypointSource`: 21 human keypoints (MediaPipe / MANO order), in the wrist frame
  already or in any frame (``estimate_frame=True`` finds the wrist frame from the points).
- :class:`HandJointSource`: joint angles of a robot hand (the policy's Sharpa Wave 22 space),
  turned into keypoints by that hand's forward kinematics.

Pass-through (source and target are the same hand) is decided by the retargeter, which then maps
joints by name instead of asking a source for keypoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from egoscale_ros.retarget.config import HandRetargetConfig
from egoscale_ros.retarget.hand_model import HandModel
from egoscale_ros.retarget.keypoints import KEYPOINT_INDEX, NUM_KEYPOINTS, check_keypoints, to_wrist_frame
from egoscale_ros.retarget.objective import WristFrame


def joint_vector(names: Sequence[str], values: Mapping[str, float] | np.ndarray | Sequence[float], where: str) -> np.ndarray:
    """Joint positions in the order of ``names`` from a name -> value mapping or an array.

    A mapping may hold more joints (e.g. both hands); a missing or non-finite joint is an error
    that names it. An array must have exactly ``len(names)`` finite values.
    """
    if isinstance(values, Mapping):
        missing = [n for n in names if n not in values]
        if missing:
            raise ValueError(f"{where}: missing joint(s) {', '.join(missing)}")
        out = np.array([values[n] for n in names], dtype=float)
    else:
        out = np.asarray(values, dtype=float).reshape(-1) if np.ndim(values) else np.array([values], dtype=float)
        if out.shape != (len(names),):
            raise ValueError(f"{where}: expected {len(names)} joint positions, got {out.size}")
    bad = [names[i] for i in np.flatnonzero(~np.isfinite(out))]
    if bad:
        raise ValueError(f"{where}: non-finite value for joint(s) {', '.join(bad)}")
    return out


class HumanKeypointSource:
    """21 human keypoints; ``scale`` is 1 (a human hand is the reference size)."""

    kind = "keypoints"
    hand = "human"
    joint_names: list[str] = []
    scale = 1.0

    def __init__(self, estimate_frame: bool = False):
        self.estimate_frame = estimate_frame

    def keypoints(self, points: np.ndarray) -> np.ndarray:
        pts = check_keypoints(points, "source keypoints")
        return to_wrist_frame(pts) if self.estimate_frame else pts


class HandJointSource:
    """Keypoints of a robot hand from its joint angles (forward kinematics of its config)."""

    kind = "hand"

    def __init__(self, config: HandRetargetConfig, model: HandModel | None = None, compile: str = "auto"):
        self.config = config
        self.hand = config.hand
        self.side = config.side
        self.scale = config.scale
        points = {name: config.keypoints[name] for name in config.keypoints}
        self.model = model or HandModel(config.urdf, config.root_frame, list(config.joints), points, list(config.mimic))
        self.joint_names = list(config.joints)
        self.wrist = WristFrame(config, self.model)
        self._rows = np.array([KEYPOINT_INDEX[n] for n in self.model.point_names], dtype=int)
        self._points = self.model.fast_points(f"source_points_{config.name}", compile)

    def joints(self, values) -> np.ndarray:
        return joint_vector(self.joint_names, values, f"source {self.config.name}")

    def keypoints_from_joints(self, q: np.ndarray) -> np.ndarray:
        """(21, 3) keypoints in the wrist frame; keypoints this hand lacks are NaN."""
        out = np.full((NUM_KEYPOINTS, 3), np.nan)
        out[self._rows] = self.wrist.to_wrist(self._points(q))
        return out
