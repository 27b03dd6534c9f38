"""Robot configuration: the one YAML file that says what a robot is and how to drive it.

``config/robots/<robot>.yaml`` names the URDF (package-relative or absolute, so an operator can
point at the maker's file), the base frame, per arm the joint chain and end-effector frame, per
hand its type, model and joints, the cameras, the controller outputs, safety limits and the home
pose. Loading validates every field and refuses, at start, a file that is malformed or that names a
joint or frame its URDF lacks; every error names the file and the field.

Joint limits come from the URDF; the ``safety`` section may only tighten them (see ``limits.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from egoscale_ros import resources
from egoscale_ros.kinematics.se3 import transform_from_xyz_rpy
from egoscale_ros.robot.urdf import UrdfError, UrdfInfo, read_urdf

SIDES = ("left", "right")
HAND_TYPES = ("sharpa_wave", "dex3", "inspire")
# ROS message types of outputs run through ros2_control (or any driver taking standard topics):
# the command nodes publish these directly. Every other output type names a maker's interface,
# served by an adapter in ``egoscale_ros.interfaces`` (see its registry).
ROS_CONTROLLER_TYPES = ("JointState", "Float64MultiArray", "JointTrajectory")
CONTROLLER_TYPES = ROS_CONTROLLER_TYPES  # kept for callers that only know the ROS types
# Where the command nodes publish the joints of an output served by an adapter (JointState, named).
ADAPTER_COMMAND_PREFIX = "command/joints/"


class ConfigError(ValueError):
    """A robot config that is malformed or disagrees with its URDF."""


class _Fields:
    """Strict reader of one YAML mapping: typed access, and unknown keys are refused."""

    def __init__(self, data: Any, where: str):
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
        self.data, self.where, self.seen = data, where, set()

    def _get(self, key: str, kind, default, required: bool):
        self.seen.add(key)
        if key not in self.data or self.data[key] is None:
            if required:
                raise ConfigError(f"{self.where}.{key}: missing (required)")
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is not None and not isinstance(value, kind):
            raise ConfigError(f"{self.where}.{key}: expected {kind.__name__}, got {value!r}")
        if kind is float and not math.isfinite(value):
            raise ConfigError(f"{self.where}.{key}: must be finite, got {value!r}")
        return value

    def req(self, key: str, kind=None):
        return self._get(key, kind, None, True)

    def opt(self, key: str, kind=None, default=None):
        return self._get(key, kind, default, False)

    def sub(self, key: str, required: bool = False) -> _Fields:
        return _Fields(self._get(key, dict, {}, required), f"{self.where}.{key}")

    def names(self, key: str, required: bool = True) -> tuple[str, ...]:
        value = self._get(key, list, [], required)
        if not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{self.where}.{key}: expected a list of names, got {value!r}")
        if len(set(value)) != len(value):
            raise ConfigError(f"{self.where}.{key}: duplicate names in {value!r}")
        return tuple(value)

    def vector(self, key: str, n: int, default=None) -> tuple[float, ...]:
        value = self._get(key, list, default, default is None)
        try:
            out = tuple(float(v) for v in value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.where}.{key}: expected {n} numbers, got {value!r}") from exc
        if len(out) != n or not all(math.isfinite(v) for v in out):
            raise ConfigError(f"{self.where}.{key}: expected {n} finite numbers, got {value!r}")
        return out

    def done(self) -> None:
        extra = sorted(set(self.data) - self.seen)
        if extra:
            raise ConfigError(f"{self.where}: unknown field(s) {', '.join(extra)}")


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
    joints: tuple[str, ...]  # actuated joints, in command order
    # Where the hand model's root frame sits on the same side's arm end-effector link (ee_frame).
    # None: not stated (the hand is then not placed on the arm, e.g. for visualisation).
    mount: Offset | None = None


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
class NativeSettings:
    """The maker's own middleware (Unitree DDS), separate from ROS_DOMAIN_ID.

    ``network_interface``: the NIC facing the robot (e.g. its wired port), '' = Cyclone DDS's
    default choice; ``multicast`` off needs ``peers`` (unicast discovery).
    """

    domain_id: int = 0
    network_interface: str = ""
    multicast: bool = True
    peers: tuple[str, ...] = ()


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


def _offset(f: _Fields, key: str) -> Offset:
    sub = f.sub(key)
    off = Offset(sub.vector("xyz", 3, default=[0, 0, 0]), sub.vector("rpy", 3, default=[0, 0, 0]))
    sub.done()
    return off


def _positive(value: float, where: str) -> float:
    if value <= 0:
        raise ConfigError(f"{where}: must be > 0, got {value}")
    return value


def _parse_arm(side: str, f: _Fields) -> ArmConfig:
    joints = f.names("joints")
    rest = f.vector("rest_pose", len(joints), default=[0.0] * len(joints))
    w = f.sub("ik")
    weights = IkWeights(
        position=_positive(w.opt("position_weight", float, 1.0), f"{w.where}.position_weight"),
        orientation=w.opt("orientation_weight", float, 1.0),
        posture=w.opt("posture_weight", float, 1e-3),
    )
    w.done()
    arm = ArmConfig(side, joints, f.req("ee_frame", str), _offset(f, "ee_offset"), rest, weights)
    f.done()
    return arm


def _parse_hand(side: str, f: _Fields) -> HandConfig:
    htype = f.req("type", str)
    if htype not in HAND_TYPES:
        raise ConfigError(f"{f.where}.type: '{htype}' is not one of {', '.join(HAND_TYPES)}")
    mount = _offset(f, "mount") if f.data.get("mount") is not None else None
    hand = HandConfig(side, htype, f.opt("retarget", str, f"{htype}_{side}"), f.names("joints"), mount)
    f.done()
    return hand


def _parse_camera(f: _Fields) -> CameraConfig:
    name = f.req("name", str)
    cam = CameraConfig(
        name=name,
        frame=f.opt("frame", str, f"{name}_camera_optical_frame"),
        parent_frame=f.req("parent_frame", str),
        extrinsics=_offset(f, "extrinsics"),
        width=f.opt("width", int, 640),
        height=f.opt("height", int, 480),
        rate_hz=_positive(f.opt("rate_hz", float, 30.0), f"{f.where}.rate_hz"),
        source=f.opt("source", str, "synthetic"),
    )
    f.done()
    return cam


def _interface_kinds(what: str) -> tuple[str, ...]:
    from egoscale_ros.interfaces import registry  # the registry imports no config

    return registry.output_kinds() if what == "output" else registry.feedback_kinds()


def _qos(f: _Fields, default: str) -> bool:
    qos = f.opt("qos", str, default)
    if qos not in ("reliable", "best_effort"):
        raise ConfigError(f"{f.where}.qos: '{qos}' is not reliable or best_effort")
    return qos == "reliable"


def _parse_controller(f: _Fields) -> ControllerOutput:
    ctype = f.req("type", str)
    known = ROS_CONTROLLER_TYPES + _interface_kinds("output")
    if ctype not in known:
        raise ConfigError(f"{f.where}.type: '{ctype}' is not one of {', '.join(known)}")
    rate = f.opt("rate_hz", float)
    out = ControllerOutput(
        f.req("name", str), f.req("topic", str), ctype, f.names("joints"), _qos(f, "reliable"),
        rate_hz=_positive(rate, f"{f.where}.rate_hz") if rate is not None else None,
        options=dict(f.opt("options", dict, {})),
    )
    f.done()
    return out


def _parse_feedback(f: _Fields) -> FeedbackSource:
    kind = f.req("type", str)
    if kind not in _interface_kinds("feedback"):
        raise ConfigError(f"{f.where}.type: '{kind}' is not one of {', '.join(_interface_kinds('feedback'))}")
    joints = f.names("joints")
    source_names = f.names("source_names", required=False)
    if source_names and len(source_names) != len(joints):
        raise ConfigError(f"{f.where}.source_names: {len(source_names)} names for {len(joints)} joints")
    src = FeedbackSource(
        name=f.req("name", str),
        type=kind,
        topic=f.req("topic", str),
        joints=joints,
        source_names=source_names,
        prefix=f.opt("prefix", str, ""),
        rate_hz=f.opt("rate_hz", float, 0.0),
        timeout_s=_positive(f.opt("timeout_s", float, 0.25), f"{f.where}.timeout_s"),
        reliable=_qos(f, "best_effort"),
        options=dict(f.opt("options", dict, {})),
    )
    if src.rate_hz < 0:
        raise ConfigError(f"{f.where}.rate_hz: must be >= 0, got {src.rate_hz}")
    f.done()
    return src


def _parse_native(f: _Fields) -> NativeSettings:
    domain = f.opt("domain_id", int, 0)
    if not 0 <= domain <= 232:
        raise ConfigError(f"{f.where}.domain_id: must be in [0, 232], got {domain}")
    native = NativeSettings(domain, f.opt("network_interface", str, ""), f.opt("multicast", bool, True),
                            f.names("peers", required=False))
    f.done()
    return native


def _parse_safety(f: _Fields) -> SafetyConfig:
    scale = f.opt("velocity_scale", float, 1.0)
    if not 0 < scale <= 1:
        raise ConfigError(f"{f.where}.velocity_scale: must be in (0, 1] (config may only tighten), got {scale}")
    overrides = {}
    joints = f.sub("joints")
    for name in joints.data:
        j = joints.sub(name)
        overrides[name] = JointOverride(
            j.opt("lower", float), j.opt("upper", float), j.opt("velocity", float), j.opt("acceleration", float)
        )
        j.done()
    joints.done()
    safety = SafetyConfig(
        velocity_scale=scale,
        acceleration=_positive(f.opt("acceleration", float, 20.0), f"{f.where}.acceleration"),
        joints=overrides,
        target_timeout_s=_positive(f.opt("target_timeout_s", float, 0.5), f"{f.where}.target_timeout_s"),
        joint_state_timeout_s=_positive(
            f.opt("joint_state_timeout_s", float, 0.25), f"{f.where}.joint_state_timeout_s"
        ),
    )
    f.done()
    return safety


def parse_robot_config(data: Any, path: Path, urdf_override: str | None = None) -> RobotConfig:
    """Build a :class:`RobotConfig` from parsed YAML and check it against its URDF(s)."""
    where = path.name
    f = _Fields(data, where)
    base = path.parent
    declared_urdf = f.req("urdf", str)
    urdf = resources.resolve(urdf_override or declared_urdf, base)
    extra = tuple(resources.resolve(p, base) for p in f.names("extra_urdfs", required=False))
    arms_f, hands_f = f.sub("arms", required=True), f.sub("hands")
    arms = {s: _parse_arm(s, arms_f.sub(s)) for s in SIDES if s in arms_f.data}
    hands = {s: _parse_hand(s, hands_f.sub(s)) for s in SIDES if s in hands_f.data}
    arms_f.done()
    hands_f.done()
    if not arms:
        raise ConfigError(f"{where}.arms: at least one of left, right is required")
    cams = f.opt("cameras", list, [])
    home_f = f.sub("home")
    home = {k: float(home_f.req(k, float)) for k in home_f.data}
    mock_f = f.sub("mock_hardware")
    mock = MockHardwareConfig(
        rate_hz=_positive(mock_f.opt("rate_hz", float, 200.0), f"{mock_f.where}.rate_hz"),
        lag_s=mock_f.opt("lag_s", float, 0.03),
        max_velocity=_positive(mock_f.opt("max_velocity", float, 3.0), f"{mock_f.where}.max_velocity"),
    )
    mock_f.done()
    config = RobotConfig(
        name=f.req("name", str),
        description=f.opt("description", str, ""),
        path=path,
        urdf=urdf,
        base_frame=f.req("base_frame", str),
        embodiment=f.opt("embodiment", str, f.data.get("name", "")),
        control_rate_hz=_positive(f.opt("control_rate_hz", float, 100.0), f"{where}.control_rate_hz"),
        arms=arms,
        hands=hands,
        cameras=tuple(_parse_camera(_Fields(c, f"{where}.cameras[{i}]")) for i, c in enumerate(cams)),
        controllers=tuple(
            _parse_controller(_Fields(c, f"{where}.controllers[{i}]"))
            for i, c in enumerate(f.opt("controllers", list, []))
        ),
        safety=_parse_safety(f.sub("safety")),
        home=home,
        mock=mock,
        extra_urdfs=extra,
        feedback=tuple(
            _parse_feedback(_Fields(c, f"{where}.feedback[{i}]")) for i, c in enumerate(f.opt("feedback", list, []))
        ),
        native=_parse_native(f.sub("native")),
    )
    f.done()
    validate_against_urdf(config)
    return config


def validate_against_urdf(config: RobotConfig) -> None:
    """Refuse a config naming joints or frames that its URDFs lack (message names both)."""
    where = config.path.name
    try:
        infos = [read_urdf(p) for p in config.all_urdfs()]
    except UrdfError as exc:
        raise ConfigError(f"{where}.urdf: {exc}") from exc
    body = infos[0]

    def find_joint(name: str, field_path: str) -> None:
        for info in infos:
            if name in info.joints:
                info.require_joint(name, field_path)
                return
        raise ConfigError(f"{field_path}: joint '{name}' is not in the URDF(s) {[str(i.path) for i in infos]}")

    def find_frame(name: str, field_path: str) -> None:
        if not any(name in i.links or name in i.joints for i in infos):
            raise ConfigError(f"{field_path}: frame '{name}' is not in the URDF(s) {[str(i.path) for i in infos]}")

    try:
        body.require_frame(config.base_frame, f"{where}.base_frame")
        for side, arm in config.arms.items():
            for j in arm.joints:
                body.require_joint(j, f"{where}.arms.{side}.joints")
            body.require_frame(arm.ee_frame, f"{where}.arms.{side}.ee_frame")
    except UrdfError as exc:
        raise ConfigError(str(exc)) from exc
    for side, hand in config.hands.items():
        for j in hand.joints:
            find_joint(j, f"{where}.hands.{side}.joints")
    for i, cam in enumerate(config.cameras):
        find_frame(cam.parent_frame, f"{where}.cameras[{i}].parent_frame")
    for i, ctrl in enumerate(config.controllers):
        for j in ctrl.joints:
            find_joint(j, f"{where}.controllers[{i}].joints")
    for j in config.home:
        find_joint(j, f"{where}.home")
    for j in config.safety.joints:
        find_joint(j, f"{where}.safety.joints")
    from egoscale_ros.robot.limits import joint_limits  # limits.py builds on this module

    joint_limits(config, config.arm_joints + config.hand_joints)  # safety may only tighten the URDF
    commanded = {j for c in config.controllers for j in c.joints}
    missing = [j for j in config.arm_joints + config.hand_joints if j not in commanded]
    if config.controllers and missing:
        raise ConfigError(f"{where}.controllers: no controller output carries joint(s) {missing}")
    names = [c.name for c in config.controllers]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}.controllers: duplicate output names {names}")
    _validate_feedback(config, find_joint)
    from egoscale_ros.interfaces import registry

    registry.validate(config)  # each adapter checks its own options; errors name the field


def _validate_feedback(config: RobotConfig, find_joint) -> None:
    """Every joint from exactly one source; the sources cover every commanded joint."""
    where = config.path.name
    owner: dict[str, str] = {}
    for i, src in enumerate(config.feedback):
        for j in src.joints:
            find_joint(j, f"{where}.feedback[{i}].joints")
            if j in owner:
                raise ConfigError(
                    f"{where}.feedback[{i}].joints: joint '{j}' already comes from source '{owner[j]}' "
                    "(each joint from exactly one source)"
                )
            owner[j] = src.name
    if config.feedback:
        names = [s.name for s in config.feedback]
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}.feedback: duplicate source names {names}")
        missing = [j for j in config.arm_joints + config.hand_joints if j not in owner]
        if missing:
            raise ConfigError(f"{where}.feedback: no source measures joint(s) {missing}")


def load_robot_config(name_or_path: str | Path, urdf_override: str | None = None) -> RobotConfig:
    """Load ``config/robots/<name>.yaml`` (or a YAML path) and validate it.

    ``urdf_override`` replaces the ``urdf`` field (e.g. an operator's copy of the maker's file).
    """
    path = resources.robot_config_path(str(name_or_path))
    if not path.is_file():
        known = ", ".join(resources.available_robots())
        raise ConfigError(f"robot config not found: {path} (known robots: {known})")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML: {exc}") from exc
    return parse_robot_config(data, path, urdf_override)
