"""Forward kinematics of the configured robots: the package's URDFs, arm chains, makers' URDFs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from egoscale_ros.kinematics import se3
from egoscale_ros.kinematics.pinocchio_model import BodyModel, KinematicsError
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.kinematics import RobotKinematics, ik_joint_limits

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO.parent / "shared" / "vendor_urdf"
ROBOTS = ["g1_dex3", "h1_inspire", "h1_2_inspire", "r1pro_sharpa"]


def _independent_fk(urdf: Path, base: str, frame: str, q: dict[str, float]) -> np.ndarray:
    """Pose of ``frame`` in ``base`` from the URDF text alone (origins and axes), no Pinocchio."""
    root = ET.parse(urdf).getroot()
    by_child = {j.find("child").get("link"): j for j in root.findall("joint")}

    def world(link: str) -> np.ndarray:
        joint = by_child.get(link)
        if joint is None:
            return np.eye(4)
        origin = joint.find("origin")
        xyz = [float(v) for v in origin.get("xyz", "0 0 0").split()] if origin is not None else [0, 0, 0]
        rpy = [float(v) for v in origin.get("rpy", "0 0 0").split()] if origin is not None else [0, 0, 0]
        t = world(joint.find("parent").get("link")) @ se3.transform_from_xyz_rpy(xyz, rpy)
        if joint.get("type") in ("revolute", "continuous"):
            axis = np.array([float(v) for v in joint.find("axis").get("xyz").split()])
            t = t @ se3.make_transform(se3.so3_exp(axis * q.get(joint.get("name"), 0.0)))
        return t

    return se3.invert(world(base)) @ world(frame)


@pytest.fixture(scope="module", params=ROBOTS)
def robot(request):
    config = load_robot_config(request.param)
    return config, RobotKinematics(config)


def _random_positions(config, rng) -> dict[str, float]:
    out = {}
    for name in config.urdf_info().movable_joints:
        j = config.joint_info(name)
        out[name] = float(rng.uniform(max(j.lower, -3), min(j.upper, 3)))
    return out


def test_wrist_pose_is_the_product_of_the_urdf_origins_and_joint_rotations(robot):
    config, kin = robot
    rng = np.random.default_rng(0)
    for _ in range(5):
        q = _random_positions(config, rng)
        for side, arm in config.arms.items():
            expected = _independent_fk(config.urdf, config.base_frame, arm.ee_frame, q) @ arm.ee_offset.matrix()
            np.testing.assert_allclose(kin.wrist_pose(side, q), expected, atol=1e-12)


def test_missing_joints_sit_at_the_home_pose(robot):
    config, kin = robot
    home = {name: config.home_position(name) for name in config.urdf_info().movable_joints}
    for side in config.arms:
        np.testing.assert_allclose(kin.wrist_pose(side, {}), kin.wrist_pose(side, home), atol=1e-15)


def test_arms_are_mirror_images_at_home(robot):
    """The package's URDFs are symmetric about the sagittal (x-z) plane (the links mirror as links)."""
    config, kin = robot
    mirror = np.diag([1.0, -1.0, 1.0])
    left = kin.frame_pose(config.arms["left"].ee_frame, {})
    right = kin.frame_pose(config.arms["right"].ee_frame, {})
    np.testing.assert_allclose(right[:3, 3], mirror @ left[:3, 3], atol=1e-12)
    np.testing.assert_allclose(right[:3, :3], mirror @ left[:3, :3] @ mirror, atol=1e-12)


def test_arm_chain_matches_the_full_model_with_other_joints_locked_where_measured(robot):
    config, kin = robot
    rng = np.random.default_rng(1)
    for side in config.arms:
        chain = kin.arm_chain(side)
        for _ in range(5):
            q = _random_positions(config, rng)
            chain.update_locked(q)
            arm_q = np.array([q[j] for j in chain.joint_names])
            np.testing.assert_allclose(chain.fk(arm_q), kin.wrist_pose(side, q), atol=1e-12)


def test_arm_chain_jacobian_matches_finite_differences(robot):
    config, kin = robot
    chain = kin.arm_chain("left")
    q = np.random.default_rng(2).uniform(-0.5, 0.5, chain.n)
    rot, pos, jac = chain.pose_and_jacobian(q)
    np.testing.assert_allclose(chain.fk(q)[:3, 3], pos, atol=1e-15)
    eps = 1e-7
    for k in range(chain.n):
        dq = np.zeros(chain.n)
        dq[k] = eps
        t1 = chain.fk(q + dq)
        np.testing.assert_allclose((t1[:3, 3] - pos) / eps, jac[:3, k], atol=1e-6)
        np.testing.assert_allclose(se3.so3_log(t1[:3, :3] @ rot.T) / eps, jac[3:, k], atol=1e-6)


def test_camera_frame_pose_composes_with_the_configured_extrinsics(robot):
    config, kin = robot
    for cam in config.cameras:
        pose = kin.frame_pose(cam.parent_frame, {}) @ cam.extrinsics.matrix()
        assert pose[2, 3] > kin.wrist_pose("left", {})[2, 3], "the head camera sits above the hands"
        forward = pose[:3, 2]  # optical z
        assert forward[0] > 0.3 and forward[2] < 0, "the head camera looks forward and down"


def test_ik_limits_are_the_urdf_limits():
    config = load_robot_config("g1_dex3")
    lower, upper = ik_joint_limits(config, config.arms["left"].joints)
    assert lower[0] == pytest.approx(-3.0892) and upper[0] == pytest.approx(2.6704)
    assert lower[1] == pytest.approx(-1.5882) and upper[1] == pytest.approx(2.2515)
    lower, upper = ik_joint_limits(config, config.arms["right"].joints)
    assert lower[1] == pytest.approx(-2.2515) and upper[1] == pytest.approx(1.5882)


def test_ik_limits_are_tightened_by_the_safety_config_like_the_gate():
    import yaml

    from egoscale_ros.robot.config import parse_robot_config

    path = load_robot_config("g1_dex3").path
    data = yaml.safe_load(path.read_text())
    data.setdefault("safety", {})["joints"] = {"left_elbow_joint": {"upper": 1.0}}
    config = parse_robot_config(data, path)
    chain = RobotKinematics(config).arm_chain("left")
    assert chain.upper[3] == pytest.approx(1.0) and chain.lower[3] == pytest.approx(-1.0472)


def test_unknown_frame_and_non_serial_chain_are_refused_by_name():
    config = load_robot_config("g1_dex3")
    kin = RobotKinematics(config)
    with pytest.raises(KinematicsError, match="no_such_frame"):
        kin.frame_pose("no_such_frame", {})
    from egoscale_ros.kinematics.chain import ArmChain

    with pytest.raises(KinematicsError, match="right_elbow_joint"):
        ArmChain(kin.body, ["left_shoulder_pitch_joint", "right_elbow_joint"], "pelvis", "left_hand_palm_link")
    with pytest.raises(KinematicsError, match="not after the last arm joint"):
        ArmChain(kin.body, ["left_shoulder_pitch_joint"], "pelvis", "right_hand_palm_link")


def test_non_finite_joint_position_is_refused_by_name():
    kin = RobotKinematics(load_robot_config("g1_dex3"))
    with pytest.raises(KinematicsError, match="left_elbow_joint"):
        kin.wrist_pose("left", {"left_elbow_joint": float("nan")})


# --- the makers' URDFs (test data; skipped when absent) -----------------------------------------

VENDOR_BODIES = [
    ("g1_dex3", "unitree_g1/g1_29dof_with_hand_rev_1_0.urdf", "torso_link"),
    ("h1_inspire", "unitree_h1/h1_with_hand.urdf", "torso_link"),
    ("h1_2_inspire", "unitree_h1_2/h1_2.urdf", "torso_link"),
    ("r1pro_sharpa", "galaxea_r1_pro/r1_pro.urdf", "torso_link4"),
]


@pytest.mark.parametrize(("robot_name", "rel", "torso"), VENDOR_BODIES)
def test_chains_on_the_makers_full_body_urdfs_match_their_full_models(robot_name, rel, torso):
    path = VENDOR / rel
    if not path.is_file():
        pytest.skip(f"makers' URDFs not available ({VENDOR} absent)")
    config = load_robot_config(robot_name)
    kin = RobotKinematics(config, urdf=path)
    body = BodyModel(path)
    rng = np.random.default_rng(3)
    for side in config.arms:
        chain = kin.arm_chain(side)
        for _ in range(5):
            q = {n: float(rng.uniform(-0.5, 0.5)) for n in body.joint_names}
            chain.update_locked(q)
            arm_q = np.array([q[j] for j in chain.joint_names])
            np.testing.assert_allclose(chain.fk(arm_q), kin.wrist_pose(side, q), atol=1e-12)


def test_g1_arm_matches_the_makers_arm_relative_to_the_torso():
    """Our G1 URDF was written from published figures: the arm must agree with the maker's."""
    path = VENDOR / "unitree_g1/g1_29dof_with_hand_rev_1_0.urdf"
    if not path.is_file():
        pytest.skip(f"makers' URDFs not available ({VENDOR} absent)")
    config = load_robot_config("g1_dex3")
    ours, theirs = RobotKinematics(config), RobotKinematics(config, urdf=path)
    rng = np.random.default_rng(4)
    for _ in range(5):
        q = {j: float(rng.uniform(-1, 1)) for j in config.arm_joints}
        for side in ("left", "right"):
            a = se3.invert(ours.frame_pose("torso_link", q)) @ ours.frame_pose(f"{side}_hand_palm_link", q)
            b = se3.invert(theirs.frame_pose("torso_link", q)) @ theirs.frame_pose(f"{side}_hand_palm_link", q)
            dp, dr = se3.pose_error(a, b)
            assert dp < 5e-4 and dr < 2e-4


# The package's URDFs written from published figures: (robot, maker's file, torso, arm links
# compared, tolerances in m / rad). R1 Pro and H1-2 use the maker's figures to full precision.
AGREEING_BODIES = [
    ("h1_2_inspire", "unitree_h1_2/h1_2.urdf", "torso_link", "{side}_wrist_yaw_link", 2e-6, 1e-6),
    ("r1pro_sharpa", "galaxea_r1_pro/r1_pro.urdf", "torso_link4", "{side}_arm_link7", 2e-5, 1e-6),
]


@pytest.mark.parametrize(("robot_name", "rel", "torso", "link", "tol_p", "tol_r"), AGREEING_BODIES)
def test_arms_match_the_makers_arms_relative_to_the_torso(robot_name, rel, torso, link, tol_p, tol_r):
    path = VENDOR / rel
    if not path.is_file():
        pytest.skip(f"makers' URDFs not available ({VENDOR} absent)")
    config = load_robot_config(robot_name)
    ours, theirs = RobotKinematics(config), RobotKinematics(config, urdf=path)
    rng = np.random.default_rng(5)
    for _ in range(8):
        q = {j: float(rng.uniform(-1.5, 1.5)) for j in config.arm_joints}
        for side in ("left", "right"):
            frame = link.format(side=side)
            a = se3.invert(ours.frame_pose(torso, q)) @ ours.frame_pose(frame, q)
            b = se3.invert(theirs.frame_pose(torso, q)) @ theirs.frame_pose(frame, q)
            dp, dr = se3.pose_error(a, b)
            assert dp < tol_p and dr < tol_r, f"{robot_name} {frame}: {dp * 1000:.3f} mm, {dr:.2e} rad off the maker's"


@pytest.mark.parametrize(("robot_name", "rel", "torso", "link", "tol_p", "tol_r"), AGREEING_BODIES)
def test_joint_limits_axes_and_the_torso_match_the_makers(robot_name, rel, torso, link, tol_p, tol_r):
    path = VENDOR / rel
    if not path.is_file():
        pytest.skip(f"makers' URDFs not available ({VENDOR} absent)")
    from egoscale_ros.kinematics.urdf import read_urdf

    config = load_robot_config(robot_name)
    ours, theirs = read_urdf(config.urdf), read_urdf(path)
    for name in ours.movable_joints:
        a, b = ours.joints[name], theirs.joints[name]
        assert (a.lower, a.upper) == pytest.approx((b.lower, b.upper), abs=1e-9), name
        assert a.velocity == pytest.approx(b.velocity, abs=1e-9), name
    base = config.base_frame
    q = {j: 0.3 for j in ours.movable_joints}
    a = se3.invert(RobotKinematics(config).frame_pose(base, q)) @ RobotKinematics(config).frame_pose(torso, q)
    b = se3.invert(RobotKinematics(config, urdf=path).frame_pose(base, q)) @ RobotKinematics(config, urdf=path).frame_pose(torso, q)
    assert se3.pose_error(a, b)[0] < 3e-4  # the maker's 0.1 mm lateral torso offsets are left out


def test_r1pro_arm_joint4_keeps_the_makers_range():
    """An earlier version of the package allowed 20 degrees past the maker's elbow limit."""
    from egoscale_ros.kinematics.urdf import read_urdf

    info = read_urdf(load_robot_config("r1pro_sharpa").urdf)
    for side in ("left", "right"):
        j = info.joints[f"{side}_arm_joint4"]
        assert (j.lower, j.upper) == (-1.7453, 0.3491)


def test_mimic_joints_follow_their_leader_unless_measured():
    hand = REPO / "urdf" / "hands" / "inspire_left.urdf"
    body = BodyModel(hand)
    info = body.info.joints
    mimic = next(n for n, j in info.items() if j.mimic_joint)
    leader, mult, off = info[mimic].mimic_joint, info[mimic].mimic_multiplier, info[mimic].mimic_offset
    assert body.values({leader: 0.8})[mimic] == pytest.approx(mult * 0.8 + off)
    assert body.values({leader: 0.8, mimic: 0.1})[mimic] == pytest.approx(0.1)


TOY_ARM = """<?xml version="1.0"?>
<robot name="toy">
  <link name="base"/><link name="a"/><link name="b"/><link name="c"/><link name="tool"/>
  <joint name="spin" type="continuous"><parent link="base"/><child link="a"/>
    <origin xyz="0 0 0.3" rpy="0 0 0.2"/><axis xyz="0 0 1"/></joint>
  <joint name="slide" type="prismatic"><parent link="a"/><child link="b"/>
    <origin xyz="0.1 0 0" rpy="0.3 0 0"/><axis xyz="0.6 0 0.8"/><limit lower="-0.2" upper="0.2" effort="1" velocity="1"/></joint>
  <joint name="tilt" type="revolute"><parent link="b"/><child link="c"/>
    <origin xyz="0 0.2 0" rpy="0 0 0"/><axis xyz="0 -1 0"/><limit lower="-1" upper="1" effort="1" velocity="1"/></joint>
  <joint name="flange" type="fixed"><parent link="c"/><child link="tool"/><origin xyz="0.15 0 0.05" rpy="0 0.4 0"/></joint>
</robot>
"""


def test_continuous_prismatic_and_unaligned_joints_in_a_chain(tmp_path):
    from egoscale_ros.kinematics.chain import ArmChain

    urdf = tmp_path / "toy.urdf"
    urdf.write_text(TOY_ARM)
    body = BodyModel(urdf)
    chain = ArmChain(body, ["spin", "slide", "tilt"], "base", "tool")
    q = np.array([2.5, 0.15, -0.7])
    data = body.frame_placements(dict(zip(chain.joint_names, q)))
    expected = data.oMf[body.frame_id("tool")].homogeneous
    np.testing.assert_allclose(chain.fk(q), expected, atol=1e-12)
    # Independent check of the prismatic joint: it moves the tool along its (rotated) axis.
    moved = chain.fk(q + np.array([0.0, 0.05, 0.0]))[:3, 3] - chain.fk(q)[:3, 3]
    assert np.linalg.norm(moved) == pytest.approx(0.05)
    assert chain.lower[0] == -np.inf and chain.upper[1] == np.inf  # limits are given by the caller


def test_casadi_fk_handles_continuous_prismatic_and_unaligned_joints(tmp_path):
    pytest.importorskip("casadi")
    from egoscale_ros.kinematics.casadi_fk import chain_fk_function, placement_parameters
    from egoscale_ros.kinematics.chain import ArmChain

    urdf = tmp_path / "toy.urdf"
    urdf.write_text(TOY_ARM)
    chain = ArmChain(BodyModel(urdf), ["spin", "slide", "tilt"], "base", "tool")
    fk = chain_fk_function(chain)
    for q in (np.array([2.5, 0.15, -0.7]), np.array([-1.0, -0.2, 0.9])):
        rot, pos = fk(q, placement_parameters(chain))
        np.testing.assert_allclose(np.array(rot), chain.fk(q)[:3, :3], atol=1e-12)
        np.testing.assert_allclose(np.array(pos).ravel(), chain.fk(q)[:3, 3], atol=1e-12)
