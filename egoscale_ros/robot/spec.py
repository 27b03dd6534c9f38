"""What a robot is, as the typed result of loading ``config/robots/<robot>.yaml``.

Plain frozen dataclasses with no loading logic: ``robot/config.py`` builds them strictly from the
YAML and checks them against the URDFs; ``robot/limits.py`` derives the joint limits in force.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from egoscale_ros.kinematics.se3 import transform_from_xyz_rpy
from egoscale_ros.kinematics.urdf import UrdfInfo, read_urdf
from egoscale_ros.schema import SIDES, ConfigError

CONTROLLER_TYPES = ("JointState", "Float64MultiArray", "JointTrajectory")


@dataclass(frozen=True)
class Offset:
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def matrix(self) -> np.ndarray:
        return transform_from_xyz_rpy(self.xyz, self.rpy)


@dataclass(frozen=True)
class IkWeights:
    position: float = 1.0
    orientation: float = 1.0
    posture: float = 1e-3  # pull toward rest_pose, resolves redundancy of 7-DoF arms


@dataclass(frozen=True)
class ArmConfig:
    side: str
    joints: tuple[str, ...]
    ee_frame: str
    ee_offset: Offset
    rest_pose: tuple[float, ...]
    ik: IkWeights


@dataclass(frozen=True)
class HandConfig:
    side: str
    type: str
    retarget: str  # name in config/hands/ or a path to a hand YAML
    joints: tuple[str, ...]  # actuated joints, in command order


@dataclass(frozen=True)
class CameraConfig:
    name: str
    frame: str  # optical frame id stamped on images
    parent_frame: str  # URDF frame the camera is mounted on
    extrinsics: Offset  # T_parent_camera
    width: int
    height: int
    rate_hz: float
    source: str  # default frame source for the demo / mock ("synthetic", device, file, URL)


@dataclass(frozen=True)
class ControllerOutput:
    name: str
    topic: str
    type: str  # one of CONTROLLER_TYPES
    joints: tuple[str, ...]
    reliable: bool = True


@dataclass(frozen=True)
class JointOverride:
    lower: float | None = None
    upper: float | None = None
    velocity: float | None = None
    acceleration: float | None = None


@dataclass(frozen=True)
class SafetyConfig:
    velocity_scale: float = 1.0  # fraction of the URDF velocity limits (≤ 1)
    acceleration: float = 20.0  # rad/s², every joint unless overridden
    joints: dict[str, JointOverride] = field(default_factory=dict)
    target_timeout_s: float = 0.5
    joint_state_timeout_s: float = 0.25


@dataclass(frozen=True)
class MockHardwareConfig:
    rate_hz: float = 200.0
    lag_s: float = 0.03  # first-order time constant toward the command
    max_velocity: float = 3.0  # rad/s cap on the simulated motion


@dataclass(frozen=True)
class RobotConfig:
    name: str
    description: str
    path: Path  # the YAML file
    urdf: Path
    base_frame: str
    embodiment: str
    control_rate_hz: float
    arms: dict[str, ArmConfig]
    hands: dict[str, HandConfig]
    cameras: tuple[CameraConfig, ...]
    controllers: tuple[ControllerOutput, ...]
    safety: SafetyConfig
    home: dict[str, float]
    mock: MockHardwareConfig
    extra_urdfs: tuple[Path, ...] = ()  # e.g. hand models when the body URDF has no hands

    @property
    def arm_joints(self) -> list[str]:
        return [j for s in SIDES if s in self.arms for j in self.arms[s].joints]

    @property
    def hand_joints(self) -> list[str]:
        return [j for s in SIDES if s in self.hands for j in self.hands[s].joints]

    @property
    def policy_state_joints(self) -> list[str]:
        """Proprioception the policy sees, in order: arm joints, then hand joints."""
        return self.arm_joints + self.hand_joints

    def urdf_info(self) -> UrdfInfo:
        return read_urdf(self.urdf)

    def all_urdfs(self) -> list[Path]:
        return [self.urdf, *self.extra_urdfs]

    def joint_info(self, name: str):
        """The URDF joint ``name`` from the body URDF or an extra (hand) URDF."""
        for p in self.all_urdfs():
            j = read_urdf(p).joints.get(name)
            if j is not None:
                return j
        raise ConfigError(f"{self.path}: joint '{name}' is in none of the URDFs {self.all_urdfs()}")

    def movable_joints(self) -> list[str]:
        """Every movable joint of every URDF of the robot (what /joint_states reports)."""
        out: list[str] = []
        for p in self.all_urdfs():
            out.extend(j for j in read_urdf(p).movable_joints if j not in out)
        return out

    def controller_for(self, joints: list[str] | tuple[str, ...]) -> list[ControllerOutput]:
        """Controller outputs that carry any of ``joints``."""
        wanted = set(joints)
        return [c for c in self.controllers if wanted.intersection(c.joints)]

    def home_position(self, joint: str) -> float:
        return self.home.get(joint, 0.0)
