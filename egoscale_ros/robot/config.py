"""Robot configuration: the one YAML file that says what a robot is and how to drive it.

``config/robots/<robot>.yaml`` names the URDF (package-relative or absolute, so an operator can
point at the maker's file), the base frame, per arm the joint chain and end-effector frame, per
hand its type and hand config (``config/hands/``, where its joints are stated), the cameras, the controller outputs, safety limits and the home
pose. Loading validates every field and refuses, at start, a file that is malformed or that names a
joint or frame its URDF lacks; every error names the file and the field.

Joint limits come from the URDF; the ``safety`` section may only tighten them (see ``limits.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from egoscale_ros import resources
from egoscale_ros.interfaces.settings import NativeSettings
from egoscale_ros.kinematics.urdf import UrdfError, read_urdf
from egoscale_ros.retarget.config import HandConfigError, load_hand_config
from egoscale_ros.robot.limits import joint_limits
from egoscale_ros.robot.spec import (
    ROS_CONTROLLER_TYPES,
    ArmConfig,
    CameraConfig,
    ControllerOutput,
    FeedbackSource,
    HandConfig,
    IkWeights,
    JointOverride,
    MockHardwareConfig,
    Offset,
    RobotConfig,
    SafetyConfig,
)
from egoscale_ros.schema import HAND_TYPES, SIDES, ConfigError, Fields, load_yaml


def _offset(f: Fields, key: str) -> Offset:
    sub = f.sub(key)
    off = Offset(sub.vector("xyz", 3, default=[0, 0, 0]), sub.vector("rpy", 3, default=[0, 0, 0]))
    sub.done()
    return off


def _positive(value: float, where: str) -> float:
    if value <= 0:
        raise ConfigError(f"{where}: must be > 0, got {value}")
    return value


def _parse_arm(side: str, f: Fields) -> ArmConfig:
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


def _parse_hand(side: str, f: Fields) -> HandConfig:
    htype = f.req("type", str)
    if htype not in HAND_TYPES:
        raise ConfigError(f"{f.where}.type: '{htype}' is not one of {', '.join(HAND_TYPES)}")
    if "joints" in f.data:
        raise ConfigError(f"{f.where}.joints: a hand's joints are stated once, in its hand config "
                          f"(config/hands/); remove them here")
    mount = _offset(f, "mount") if f.data.get("mount") is not None else None
    retarget = f.opt("retarget", str, f"{htype}_{side}")
    f.done()
    try:
        model = load_hand_config(retarget, side)
    except HandConfigError as exc:
        raise ConfigError(f"{f.where}.retarget: {exc}") from exc
    if model.hand != htype:
        raise ConfigError(f"{f.where}.type: '{htype}' but its hand config {model.path.name} is for '{model.hand}'")
    return HandConfig(side, htype, retarget, model.joints, mount, model)


def _parse_camera(f: Fields) -> CameraConfig:
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


def _qos(f: Fields, default: str) -> bool:
    qos = f.opt("qos", str, default)
    if qos not in ("reliable", "best_effort"):
        raise ConfigError(f"{f.where}.qos: '{qos}' is not reliable or best_effort")
    return qos == "reliable"


def _parse_controller(f: Fields) -> ControllerOutput:
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


def _parse_feedback(f: Fields) -> FeedbackSource:
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


def _parse_native(f: Fields) -> NativeSettings:
    domain = f.opt("domain_id", int, 0)
    if not 0 <= domain <= 232:
        raise ConfigError(f"{f.where}.domain_id: must be in [0, 232], got {domain}")
    native = NativeSettings(domain, f.opt("network_interface", str, ""), f.opt("multicast", bool, True),
                            f.names("peers", required=False))
    f.done()
    return native


def _optional_positive(value: float | None, where: str) -> float | None:
    return None if value is None else _positive(value, where)


def _parse_safety(f: Fields) -> SafetyConfig:
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
        arm_velocity=_optional_positive(f.opt("arm_velocity", float), f"{f.where}.arm_velocity"),
        hand_velocity=_optional_positive(f.opt("hand_velocity", float), f"{f.where}.hand_velocity"),
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
    f = Fields(data, where)
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
        cameras=tuple(_parse_camera(Fields(c, f"{where}.cameras[{i}]")) for i, c in enumerate(cams)),
        controllers=tuple(
            _parse_controller(Fields(c, f"{where}.controllers[{i}]"))
            for i, c in enumerate(f.opt("controllers", list, []))
        ),
        safety=_parse_safety(f.sub("safety")),
        home=home,
        mock=mock,
        extra_urdfs=extra,
        feedback=tuple(
            _parse_feedback(Fields(c, f"{where}.feedback[{i}]")) for i, c in enumerate(f.opt("feedback", list, []))
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
    joint_limits(config, config.arm_joints + config.hand_joints)  # safety may only tighten the URDF
    commanded = {j for c in config.controllers for j in c.joints}
    missing = [j for j in config.arm_joints + config.hand_joints if j not in commanded]
    if config.controllers and missing:
        raise ConfigError(f"{where}.controllers: no controller output carries joint(s) {missing}")
    _validate_ownership(config)
    names = [c.name for c in config.controllers]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}.controllers: duplicate output names {names}")
    _validate_feedback(config, find_joint)
    from egoscale_ros.interfaces import registry

    registry.validate(config)  # each adapter checks its own options; errors name the field


def _validate_ownership(config: RobotConfig) -> None:
    """Each controller joint is commanded by exactly one node through exactly one output: the arm
    IK owns the arm joints, the hand retargeting the hand joints, and a node publishes an output
    whole — so a joint of no arm or hand, a joint in two outputs, or an output mixing arm and
    hand joints would fail in a node at run time; refuse it here, naming the output."""
    where = config.path.name
    arms, hands = set(config.arm_joints), set(config.hand_joints)
    owner: dict[str, str] = {}
    for i, ctrl in enumerate(config.controllers):
        stray = [j for j in ctrl.joints if j not in arms and j not in hands]
        if stray:
            raise ConfigError(f"{where}.controllers[{i}] ({ctrl.name}): joint(s) {stray} belong to no arm or "
                              f"hand, so no node commands them")
        if arms.intersection(ctrl.joints) and hands.intersection(ctrl.joints):
            raise ConfigError(f"{where}.controllers[{i}] ({ctrl.name}): mixes arm and hand joints; the arm IK "
                              f"and the hand retargeting each publish their own outputs")
        for j in ctrl.joints:
            if j in owner:
                raise ConfigError(f"{where}.controllers[{i}] ({ctrl.name}): joint '{j}' is also in output "
                                  f"'{owner[j]}'; each joint goes out on one output")
            owner[j] = ctrl.name


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
    return parse_robot_config(load_yaml(path), path, urdf_override)
