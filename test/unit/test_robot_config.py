"""Specification of robot config loading: strict, validated against the URDF, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from egoscale_ros import resources
from egoscale_ros.kinematics.urdf import read_urdf
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.schema import ConfigError

ROBOTS = ["g1_dex3", "h1_inspire", "r1pro_sharpa"]
VENDOR = Path(__file__).resolve().parents[2].parent / "shared" / "vendor_urdf"


@pytest.mark.parametrize("robot", ROBOTS)
def test_shipped_configs_load_and_every_commanded_joint_has_a_controller(robot):
    config = load_robot_config(robot)
    commanded = {j for c in config.controllers for j in c.joints}
    assert set(config.arm_joints + config.hand_joints) <= commanded
    assert config.policy_state_joints == config.arm_joints + config.hand_joints
    for joint in commanded:
        info = config.joint_info(joint)
        assert info.lower < info.upper, joint


def write_variant(tmp_path: Path, robot: str, edit) -> Path:
    src = resources.robot_config_path(robot)
    data = yaml.safe_load(src.read_text())
    # keep URDF paths resolvable from the temporary folder
    data["urdf"] = str(resources.resolve(data["urdf"], src.parent))
    data["extra_urdfs"] = [str(resources.resolve(p, src.parent)) for p in data.get("extra_urdfs", [])]
    edit(data)
    out = tmp_path / f"{robot}_variant.yaml"
    out.write_text(yaml.safe_dump(data))
    return out


def test_a_joint_the_urdf_lacks_is_refused_naming_field_and_joint(tmp_path):
    path = write_variant(tmp_path, "g1_dex3", lambda d: d["arms"]["left"]["joints"].__setitem__(3, "left_knee_joint"))
    with pytest.raises(ConfigError, match=r"arms\.left\.joints.*left_knee_joint"):
        load_robot_config(path)


def test_an_end_effector_frame_the_urdf_lacks_is_refused(tmp_path):
    path = write_variant(tmp_path, "g1_dex3", lambda d: d["arms"]["right"].__setitem__("ee_frame", "no_such_link"))
    with pytest.raises(ConfigError, match=r"arms\.right\.ee_frame.*no_such_link"):
        load_robot_config(path)


def test_unknown_fields_and_wrong_types_are_refused(tmp_path):
    path = write_variant(tmp_path, "g1_dex3", lambda d: d.__setitem__("controler", []))
    with pytest.raises(ConfigError, match="unknown field.*controler"):
        load_robot_config(path)
    path = write_variant(tmp_path, "g1_dex3", lambda d: d.__setitem__("control_rate_hz", "fast"))
    with pytest.raises(ConfigError, match="control_rate_hz: expected a finite number"):
        load_robot_config(path)


def test_safety_may_only_tighten_velocity(tmp_path):
    path = write_variant(tmp_path, "g1_dex3", lambda d: d["safety"].__setitem__("velocity_scale", 1.5))
    with pytest.raises(ConfigError, match="velocity_scale"):
        load_robot_config(path)


def test_rest_pose_length_must_match_the_chain(tmp_path):
    path = write_variant(tmp_path, "g1_dex3", lambda d: d["arms"]["left"].__setitem__("rest_pose", [0.0, 0.1]))
    with pytest.raises(ConfigError, match=r"arms\.left\.rest_pose: expected 7"):
        load_robot_config(path)


def test_a_joint_no_controller_carries_is_refused(tmp_path):
    def drop_right_hand(d):
        d["controllers"] = [c for c in d["controllers"] if c["name"] != "right_hand"]

    with pytest.raises(ConfigError, match="no controller output carries.*right_hand_thumb_0_joint"):
        load_robot_config(write_variant(tmp_path, "g1_dex3", drop_right_hand))


def test_missing_robot_names_the_known_ones():
    with pytest.raises(ConfigError, match="known robots: .*g1_dex3"):
        load_robot_config("no_such_robot")


def test_urdf_limits_are_read_from_the_file():
    config = load_robot_config("g1_dex3")
    info = read_urdf(config.urdf).joints["left_elbow_joint"]
    assert (info.lower, info.upper) == pytest.approx((-1.0472, 2.0944))


@pytest.mark.parametrize(
    "robot,vendor_file",
    [("g1_dex3", "unitree_g1/g1_29dof_with_hand_rev_1_0.urdf")],
)
def test_configs_accept_the_makers_full_body_urdf(robot, vendor_file):
    path = VENDOR / vendor_file
    if not path.is_file():
        pytest.skip(f"maker's URDF not available ({vendor_file}): ../shared/vendor_urdf is absent")
    config = load_robot_config(robot, urdf_override=str(path))
    assert "left_hip_pitch_joint" in config.movable_joints()  # legs come along, unused


def test_limits_in_force_are_the_urdf_tightened_by_safety(tmp_path):
    from egoscale_ros.robot.limits import joint_limits

    def tighten(d):
        d["safety"]["joints"] = {"left_elbow_joint": {"upper": 1.5, "velocity": 2.0}}
        d["safety"]["velocity_scale"] = 0.5
        d["safety"].pop("arm_velocity")  # the first-run cap is specified below

    config = load_robot_config(write_variant(tmp_path, "g1_dex3", tighten))
    limits = joint_limits(config, ["left_elbow_joint", "left_wrist_pitch_joint"])
    assert limits.upper[0] == pytest.approx(1.5)
    assert limits.lower[0] == pytest.approx(-1.0472)
    assert limits.velocity[0] == pytest.approx(2.0)
    assert limits.velocity[1] == pytest.approx(0.5 * 22.0)
    assert limits.acceleration[1] == pytest.approx(config.safety.acceleration)


def test_a_safety_override_that_loosens_the_urdf_is_refused_at_load(tmp_path):
    def loosen(d):
        d["safety"]["joints"] = {"left_elbow_joint": {"upper": 3.0}}

    with pytest.raises(ConfigError, match="left_elbow_joint.*upper 3.0 would loosen"):
        load_robot_config(write_variant(tmp_path, "g1_dex3", loosen))


# -- first-run caps, speed_scale, and configs a node would refuse or fail on ----------------------

def test_first_run_caps_bound_every_arm_and_hand_joint_and_speed_scale_only_lowers_them():
    from egoscale_ros.robot.limits import joint_limits

    for robot in resources.available_robots():
        config = load_robot_config(robot)
        limits = joint_limits(config, config.arm_joints + config.hand_joints)
        n_arm = len(config.arm_joints)
        assert limits.velocity[:n_arm].max() <= config.safety.arm_velocity <= 0.5, robot
        assert limits.velocity[n_arm:].max() <= config.safety.hand_velocity, robot
        slower = joint_limits(config, config.arm_joints, speed_scale=0.25)
        assert slower.velocity == pytest.approx(0.25 * limits.velocity[:n_arm])
    config = load_robot_config("g1_dex3")
    for bad in (1.5, 0.0, -1.0):
        with pytest.raises(ConfigError, match="velocity_scale"):
            joint_limits(config, config.arm_joints, speed_scale=bad)


def _urdf_variant(tmp_path: Path, edit_xml) -> Path:
    src = resources.resolve(yaml.safe_load(resources.robot_config_path("g1_dex3").read_text())["urdf"],
                            resources.robot_config_path("g1_dex3").parent)
    out = tmp_path / "body.urdf"
    out.write_text(edit_xml(src.read_text()))
    return out


def _set_limit(xml: str, joint: str, attr: str, value: str) -> str:
    import re

    start = xml.index(f'<joint name="{joint}"')
    end = xml.index("</joint>", start)
    block = re.sub(rf'{attr}="[^"]*"', f'{attr}="{value}"', xml[start:end], count=1)
    return xml[:start] + block + xml[end:]


@pytest.mark.parametrize("value", ["0", "0.0"])
def test_a_urdf_velocity_of_zero_is_not_unlimited(tmp_path, value):
    urdf = _urdf_variant(tmp_path, lambda x: _set_limit(x, "left_elbow_joint", "velocity", value))

    def uncapped(d):
        d["urdf"] = str(urdf)
        d["safety"].pop("arm_velocity")

    with pytest.raises(ConfigError, match="left_elbow_joint.*no velocity limit"):
        load_robot_config(write_variant(tmp_path, "g1_dex3", uncapped))
    # The config giving one (here the first-run arm cap) makes the joint usable.
    def capped(d):
        d["urdf"] = str(urdf)

    from egoscale_ros.robot.limits import joint_limits

    config = load_robot_config(write_variant(tmp_path, "g1_dex3", capped))
    assert joint_limits(config, ["left_elbow_joint"]).velocity[0] == pytest.approx(0.5)


def test_a_non_numeric_urdf_limit_is_a_clear_error(tmp_path):
    from egoscale_ros.kinematics.urdf import UrdfError

    urdf = _urdf_variant(tmp_path, lambda x: _set_limit(x, "left_elbow_joint", "upper", "two"))
    with pytest.raises((ConfigError, UrdfError), match="left_elbow_joint.*upper.*not a number"):
        load_robot_config(write_variant(tmp_path, "g1_dex3", lambda d: d.__setitem__("urdf", str(urdf))))


def test_a_controller_joint_no_arm_or_hand_owns_is_refused(tmp_path):
    def stray(d):
        d["arms"]["left"]["joints"] = d["arms"]["left"]["joints"][:-1]  # the wrist yaw leaves the arm
        d["arms"]["left"]["rest_pose"] = d["arms"]["left"]["rest_pose"][:-1] if "rest_pose" in d["arms"]["left"] \
            else d["arms"]["left"].get("rest_pose")
        d["arms"]["left"] = {k: v for k, v in d["arms"]["left"].items() if v is not None}

    with pytest.raises(ConfigError, match="belong to no arm or hand"):
        load_robot_config(write_variant(tmp_path, "g1_dex3", stray))


def test_a_joint_in_two_controllers_is_refused(tmp_path):
    def twice(d):
        arm_joint = d["arms"]["left"]["joints"][0]
        hands = next(c for c in d["controllers"] if arm_joint not in c["joints"] and c["joints"])
        arms = next(c for c in d["controllers"] if arm_joint in c["joints"])
        extra = dict(arms, name="arms_again", topic="rt/arms_again", joints=[arm_joint])
        extra.pop("options", None)
        extra["type"] = "JointState"
        d["controllers"].append(extra)
        assert hands

    with pytest.raises(ConfigError, match="also in output"):
        load_robot_config(write_variant(tmp_path, "g1_dex3", twice))


def test_the_inspire_command_slots_are_the_hand_configs_joint_order():
    """The Inspire's MotorCmds_ slots are pinky, ring, middle, index, thumb bend, thumb rotation per
    hand; the hand config states that order and the robot's hand takes it from there."""
    config = load_robot_config("h1_inspire")
    slots = next(c for c in config.controllers if c.type == "unitree_inspire").joints
    assert slots == config.hands["right"].joints + config.hands["left"].joints


def test_a_duplicate_yaml_key_is_refused(tmp_path):
    src = resources.robot_config_path("g1_dex3")
    text = src.read_text().replace("control_rate_hz:", "control_rate_hz: 10.0\ncontrol_rate_hz:", 1)
    path = tmp_path / "g1_dup.yaml"
    data_dir = src.parent
    path.write_text(text.replace("urdf: ", f"urdf: {data_dir}/", 1) if False else text)
    with pytest.raises(ConfigError, match="duplicate key 'control_rate_hz'"):
        load_robot_config(path)
