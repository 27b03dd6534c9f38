"""What a target hand should match: its keypoint vectors (or positions) against the source's.

Vector retargeting matches robot vectors between keypoints (wrist -> tip, tip -> tip, ...) to the
source's, scaled; position retargeting matches keypoint positions relative to the wrist. Both are
expressed in the target hand's root frame: the source keypoints arrive in the common wrist frame
(:mod:`keypoints`) and are rotated into the target through the target's own wrist frame, found
once at its reference pose.

The pinch prior (DexPilot in spirit) lives here too: it changes the targets and weights of
fingertip pairs that the source is pinching.
"""

from __future__ import annotations

import casadi as ca
import numpy as np

from egoscale_ros.retarget.config import HandRetargetConfig
from egoscale_ros.retarget.hand_model import HandModel
from egoscale_ros.retarget.keypoints import KEYPOINT_INDEX, wrist_frame_rotation


def reference_pose(config: HandRetargetConfig, model: HandModel) -> np.ndarray:
    """The pose the wrist frame is measured at: config values, else 0 clipped into the limits."""
    q = np.array([config.reference_pose.get(j, 0.0) for j in model.joint_names])
    return model.clip(q)


class WristFrame:
    """Where the common wrist frame sits in a hand's root frame (fixed: measured at the reference pose)."""

    def __init__(self, config: HandRetargetConfig, model: HandModel):
        pts = model.point_positions(reference_pose(config, model))
        at = {name: pts[i] for i, name in enumerate(model.point_names)}
        self.origin = at["wrist"]
        self.rotation = wrist_frame_rotation(
            at["wrist"], [at[n] for n in config.wrist_forward], (at[config.wrist_lateral[0]], at[config.wrist_lateral[1]])
        )  # rows: wrist-frame axes in root coordinates

    def to_wrist(self, points_root: np.ndarray) -> np.ndarray:
        return (points_root - self.origin) @ self.rotation.T

    def vectors_to_root(self, vectors_wrist: np.ndarray) -> np.ndarray:
        return vectors_wrist @ self.rotation

    def points_to_root(self, points_wrist: np.ndarray) -> np.ndarray:
        return points_wrist @ self.rotation + self.origin


class PinchState:
    """Hysteresis of the pinch prior: which fingertip pairs the source is pinching."""

    def __init__(self, n_pairs: int):
        self.engaged = np.zeros(n_pairs, dtype=bool)

    def update(self, distances: np.ndarray, engage: float, release: float) -> np.ndarray:
        ok = np.isfinite(distances)
        self.engaged = ok & np.where(self.engaged, distances < release, distances < engage)
        return self.engaged

    def reset(self) -> None:
        self.engaged[:] = False


class RetargetObjective:
    """The terms of one target hand: robot expressions and, per frame, their targets and weights."""

    def __init__(self, config: HandRetargetConfig, model: HandModel):
        self.config = config
        self.model = model
        self.wrist = WristFrame(config, model)
        point = {name: i for i, name in enumerate(model.point_names)}
        if config.type == "vector":
            self.origin_points = np.array([point[t.origin] for t in config.vectors])
            self.task_points = np.array([point[t.task] for t in config.vectors])
            self.source_origin = np.array([KEYPOINT_INDEX[t.origin] for t in config.vectors])
            self.source_task = np.array([KEYPOINT_INDEX[t.task] for t in config.vectors])
            self.base_weights = np.array([t.weight for t in config.vectors], dtype=float)
        else:
            self.origin_points = None
            self.task_points = np.array([point[t.keypoint] for t in config.points])
            self.source_origin = None
            self.source_task = np.array([KEYPOINT_INDEX[t.keypoint] for t in config.points])
            self.base_weights = np.array([t.weight for t in config.points], dtype=float)
        self.n_terms = len(self.base_weights)
        pinch = config.pinch
        if pinch is not None and config.type == "vector":
            pairs = [(t.origin, t.task) for t in config.vectors]
            self.pinch_terms = np.array([pairs.index(p) for p in pinch.pairs], dtype=int)
        else:
            self.pinch_terms = np.zeros(0, dtype=int)
        self.pinch_state = PinchState(len(self.pinch_terms))

    def robot_terms(self, q: ca.SX) -> ca.SX:
        """(n_terms, 3) CasADi expression of the robot's vectors (or positions), root frame."""
        pts = self.model.casadi_points(q)
        task = ca.vertcat(*[pts[int(i), :] for i in self.task_points])
        if self.origin_points is None:
            return task
        origin = ca.vertcat(*[pts[int(i), :] for i in self.origin_points])
        return task - origin

    def targets(self, keypoints_wrist: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Targets (n_terms, 3) in the root frame and weights (n_terms,) for one frame.

        ``keypoints_wrist``: (21, 3) source keypoints in the wrist frame; rows of NaN (a keypoint
        the source does not have) give their terms zero weight.
        """
        weights = self.base_weights.copy()
        if self.source_origin is None:
            wrist_pts = scale * keypoints_wrist[self.source_task]
            targets = self.wrist.points_to_root(wrist_pts)
        else:
            raw = keypoints_wrist[self.source_task] - keypoints_wrist[self.source_origin]
            vec = scale * raw
            if len(self.pinch_terms):
                pinch = self.config.pinch
                dist = np.linalg.norm(raw[self.pinch_terms], axis=1)
                engaged = self.pinch_state.update(dist, pinch.engage_distance, pinch.release_distance)
                idx = self.pinch_terms[engaged]
                # Keep the direction, take the source's absolute gap (× distance_scale).
                vec[idx] = raw[idx] * pinch.distance_scale
                weights[idx] *= pinch.weight_gain
            targets = self.wrist.vectors_to_root(vec)
        missing = ~np.all(np.isfinite(targets), axis=1)
        if missing.any():
            targets[missing] = 0.0
            weights[missing] = 0.0
        return targets, weights
