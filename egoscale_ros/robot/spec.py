"""What a robot is, as the typed result of loading ``config/robots/<robot>.yaml``.

Plain frozen dataclasses with no loading logic: ``robot/config.py`` builds them strictly from the
YAML and checks them against the URDFs; ``robot/limits.py`` derives the joint limits in force.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from egoscale_ros.interfaces.settings import NativeSettings
from egoscale_ros.kinematics.se3 import transform_from_xyz_rpy
from egoscale_ros.kinematics.urdf import UrdfInfo, read_urdf
from egoscale_ros.retarget.config import HandRetargetConfig
from egoscale_ros.schema import SIDES, ConfigError

# ROS message types of outputs run through ros2_control (or any driver taking standard topics):
# the command nodes publish these directly. Every other output type names a maker's interface,
# served by an adapter in ``egoscale_ros.interfaces`` (see its registry).
ROS_CONTROLLER_TYPES = ("JointState", "Float64MultiArray", "JointTrajectory")
CONTROLLER_TYPES = ROS_CONTROLLER_TYPES  # kept for callers that only know the ROS types
# Where the command nodes publish the joints of an output served by an adapter (JointState, named).
ADAPTER_COMMAND_PREFIX = "command/joints/"


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
    # ee_frame · ee_offset is the common wrist frame every policy and IK target refers to: origin
    # at the wrist, x toward the fingers, y toward the thumb side (as the hand retargeting defines it).
    ee_offset: Offset
    rest_pose: tuple[float, ...]
    ik: IkWeights


@dataclass(frozen=True)
class HandConfig:
    side: str
    type: str
    retarget: str  # name in config/hands/ or a path to a hand YAML
    # Actuated joints, in command order: read from the hand config (stated there once, never in
    # the robot YAML), so the robot, its retargeting and the policy's hand space cannot disagree.
    joints: tuple[str, ...]
    # Where the hand model's root frame sits on the same side's arm end-effector link (ee_frame).
    # None: not stated (the hand is then not placed on the arm, e.g. for visualisation).
    mount: Offset | None = None
    model: HandRetargetConfig | None = field(default=None, repr=False, compare=False)  # the hand config read


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
    """One controller output: a ROS type (ros2_control) or a maker's interface kind.

    ``topic`` is where the robot receives it (``upper_body_controller/commands``, ``rt/arm_sdk``);
    ``options`` are the interface's own settings, validated by its adapter.
    """

    name: str
    topic: str
    type: str  # one of ROS_CONTROLLER_TYPES or an interface kind of the registry
    joints: tuple[str, ...]
    reliable: bool = True
    rate_hz: float | None = None  # send rate of an adapter (None: the robot's control rate)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_ros(self) -> bool:
        """True when the command nodes publish this output themselves (no adapter)."""
        return self.type in ROS_CONTROLLER_TYPES

    @property
    def ros_topic(self) -> str:
        """Topic the command nodes publish this output's joints on."""
        return self.topic if self.is_ros else ADAPTER_COMMAND_PREFIX + self.name

    @property
    def ros_type(self) -> str:
        """ROS message type on :attr:`ros_topic`."""
        return self.type if self.is_ros else "JointState"


@dataclass(frozen=True)
class FeedbackSource:
    """One declared source of measured joints; together the sources make ``joint_states``.

    Each joint comes from exactly one source. ``joints`` are URDF names in the source's own order
    (the order unnamed messages are mapped by); ``source_names`` (same length) or ``prefix`` map
    the names the source uses to URDF names.
    """

    name: str
    type: str  # a feedback kind of the interface registry
    topic: str
    joints: tuple[str, ...]
    source_names: tuple[str, ...] = ()
    prefix: str = ""
    rate_hz: float = 0.0  # expected rate (0: unknown); preflight warns below half of it
    timeout_s: float = 0.25  # silent for longer: the source is reported stale
    reliable: bool = False
    options: dict[str, Any] = field(default_factory=dict)


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
    arm_velocity: float | None = None  # rad/s cap on every arm joint (None: URDF × velocity_scale)
    hand_velocity: float | None = None  # rad/s cap on every hand joint
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
    feedback: tuple[FeedbackSource, ...] = ()  # empty: the robot publishes joint_states itself
    native: NativeSettings = field(default_factory=NativeSettings)

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

    @property
    def adapter_outputs(self) -> tuple[ControllerOutput, ...]:
        """Outputs served by an interface adapter (robot_interface_node), not by the command nodes."""
        return tuple(c for c in self.controllers if not c.is_ros)

    @property
    def needs_interface_node(self) -> bool:
        return bool(self.feedback or self.adapter_outputs)
