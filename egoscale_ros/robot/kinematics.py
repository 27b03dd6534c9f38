"""Forward kinematics of a configured robot: wrist and frame poses in its base frame, arm chains.

This is what the policy node (wrist pose at observation time, camera extrinsics) and the wrist IK
node (one :class:`ArmChain` per arm) build on. Joint positions come as name → value maps (what a
``joint_states`` message holds); joints not given sit at the config's home pose.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from egoscale_ros.kinematics.chain import ArmChain
from egoscale_ros.kinematics.pinocchio_model import BodyModel, KinematicsError
from egoscale_ros.robot.limits import joint_limits
from egoscale_ros.robot.spec import RobotConfig


def ik_joint_limits(config: RobotConfig, joints: list[str] | tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Position limits for ``joints``: the limits in force (the URDF's, tightened by the config's
    safety section), the same the safety gate applies. Continuous joints are unbounded (±inf)."""
    limits = joint_limits(config, list(joints))
    return np.array(limits.lower, dtype=float), np.array(limits.upper, dtype=float)


class RobotKinematics:
    """Kinematics of ``config``'s body URDF (``urdf`` overrides it, e.g. a maker's full-body file)."""

    def __init__(self, config: RobotConfig, urdf: str | Path | None = None):
        self.config = config
        self.base_frame = config.base_frame
        self.body = BodyModel(urdf or config.urdf, config.home)
        self._base_fid = self.body.frame_id(self.base_frame)
        self._ee = {}
        for side, arm in config.arms.items():
            self._ee[side] = (self.body.frame_id(arm.ee_frame), arm.ee_offset.matrix())

    @property
    def sides(self) -> list[str]:
        return list(self.config.arms)

    def _arm(self, side: str):
        arm = self.config.arms.get(side)
        if arm is None:
            raise KinematicsError(f"{self.config.name}: no arm '{side}' (arms: {', '.join(self.config.arms)})")
        return arm

    def _base_to(self, fid: int, joint_positions: Mapping[str, float]) -> np.ndarray:
        data = self.body.frame_placements(joint_positions)
        return data.oMf[self._base_fid].actInv(data.oMf[fid]).homogeneous

    def frame_pose(self, frame: str, joint_positions: Mapping[str, float]) -> np.ndarray:
        """Pose (4×4) of URDF frame ``frame`` in the base frame."""
        return self._base_to(self.body.frame_id(frame), joint_positions)

    def wrist_pose(self, side: str, joint_positions: Mapping[str, float]) -> np.ndarray:
        """Pose (4×4) of arm ``side``'s end effector (ee_frame · ee_offset) in the base frame."""
        self._arm(side)
        fid, offset = self._ee[side]
        return self._base_to(fid, joint_positions) @ offset

    def arm_chain(self, side: str, locked: Mapping[str, float] | None = None) -> ArmChain:
        """A new serial chain model of arm ``side`` with IK limits, other joints at ``locked``/home."""
        arm = self._arm(side)
        lower, upper = ik_joint_limits(self.config, arm.joints)
        return ArmChain(
            self.body, arm.joints, self.base_frame, arm.ee_frame, self._ee[side][1], lower, upper, locked
        )

    def home_positions(self) -> dict[str, float]:
        """Every body joint at its home value (config home, else 0 within limits)."""
        return self.body.values({})

    def rest_pose(self, side: str) -> np.ndarray:
        return np.array(self._arm(side).rest_pose, dtype=float)

