"""What one arm IK solve is, shared by every solver: the task, its tolerances, and the result.

The task: bring the arm's end effector to a target pose in the base frame, position weighted by
``position_weight`` and orientation by ``orientation_weight`` (0 = position only), joints within
limits; redundancy (7-DoF arms) is resolved toward ``rest_pose``. An arm with fewer than six joints
cannot reach arbitrary 6-D poses: there, position has strict priority and orientation is matched
as well as the remaining freedom allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from egoscale_ros.kinematics import se3
from egoscale_ros.kinematics.chain import ArmChain


@dataclass(frozen=True)
class IkTask:
    """Weights and tolerances of an arm's IK (``rest_pose`` in the chain's joint order)."""

    rest_pose: np.ndarray
    position_weight: float = 1.0
    orientation_weight: float = 1.0
    posture_weight: float = 1e-3
    position_tolerance: float = 1e-5  # m: a descent stops below this ...
    rotation_tolerance: float = 1e-4  # rad ... and this
    success_position: float = 1e-3  # m: a result within these counts as reached
    success_rotation: float = math.radians(1.0)
    # Strict priority of position over orientation (arms with fewer than six joints): orientation
    # is then matched only as well as the remaining freedom allows and does not decide success.
    position_first: bool = False

    @property
    def uses_orientation(self) -> bool:
        return self.orientation_weight > 0.0

    @classmethod
    def from_arm_config(cls, arm, **overrides) -> IkTask:
        """Task of an ``ArmConfig`` (weights and rest pose from the robot config)."""
        values = dict(
            rest_pose=np.array(arm.rest_pose, dtype=float),
            position_weight=arm.ik.position,
            orientation_weight=arm.ik.orientation,
            posture_weight=arm.ik.posture,
            position_first=len(arm.joints) < 6,
        )
        values.update(overrides)
        return cls(**values)


@dataclass
class IkResult:
    """Joint positions (always finite and within the chain's limits) and how well they do."""

    q: np.ndarray
    position_error: float  # m
    rotation_error: float  # rad
    converged: bool  # within the task's success tolerances (position only when orientation is unweighted)
    iterations: int = 0  # summed over descents
    descents: int = 1  # 1 + restarts used
    extra: dict = field(default_factory=dict)


def check_target(target) -> np.ndarray:
    """``target`` as a finite 4×4 float array, or a ValueError that says what is wrong with it."""
    t = np.asarray(target, dtype=float)
    if t.shape != (4, 4):
        raise ValueError(f"IK target: expected a 4x4 pose, got shape {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError("IK target: pose has non-finite values")
    rot = t[:3, :3]
    if np.abs(rot @ rot.T - np.eye(3)).max() > 1e-6:
        raise ValueError("IK target: rotation part is not orthonormal")
    return t


def pose_errors(chain: ArmChain, q: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Position (m) and rotation (rad) error of ``chain`` at ``q`` against ``target``."""
    return se3.pose_error(chain.fk(q), target)


def reached(task: IkTask, position_error: float, rotation_error: float) -> bool:
    if position_error > task.success_position:
        return False
    return not task.uses_orientation or task.position_first or rotation_error <= task.success_rotation


def task_cost(task: IkTask, position_error: float, rotation_error: float) -> float:
    """Scalar to rank candidate solutions: the weighted squared task error (orientation scaled
    down by 1e-3 for a position-first arm, so position decides)."""
    orientation = (task.orientation_weight * rotation_error) ** 2
    if task.position_first:
        orientation *= 1e-3
    return (task.position_weight * position_error) ** 2 + orientation


def finalize(chain: ArmChain, task: IkTask, q: np.ndarray, target: np.ndarray, iterations: int,
             descents: int) -> IkResult:
    """Clip ``q`` to the limits (never NaN: a non-finite value falls back to the rest pose) and
    measure the result."""
    if not np.isfinite(q).all():
        q = np.where(np.isfinite(q), q, task.rest_pose)
    q = chain.clip(q)
    dp, dr = pose_errors(chain, q, target)
    return IkResult(q, dp, dr, reached(task, dp, dr), iterations, descents)
