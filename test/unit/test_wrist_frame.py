"""One wrist frame for every robot: ``ee_frame · ee_offset`` is the hand's common wrist frame.

A policy's wrist actions mean the same motion on every robot only if "the wrist" is the same
frame on each: origin at the wrist, x toward the fingers, y toward the thumb side, exactly as the
hand retargeting defines it on the hand's own keypoints. Each robot config states the rotation
from its end-effector link to that frame (``arms.<side>.ee_offset``) and where the hand sits on
the link (``hands.<side>.mount``). These specs place the hand model on the arm with the robot's
own forward kinematics and compare, in several arm poses; where the maker publishes the robot
with its hands attached, they compare against the maker's own model as well.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from egoscale_ros import resources
from egoscale_ros.kinematics import se3
from egoscale_ros.kinematics.pinocchio_model import BodyModel
from egoscale_ros.retarget.config import load_hand_config
from egoscale_ros.retarget.keypoints import wrist_frame_rotation
from egoscale_ros.retarget.objective import reference_pose
from egoscale_ros.retarget.retargeter import hand_model_for
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.kinematics import RobotKinematics

VENDOR = Path(__file__).resolve().parents[2].parent / "shared" / "vendor_urdf"
ROBOTS = resources.available_robots()
MAX_ANGLE = np.radians(2.0)  # configs state the rotation to 4 decimals


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1.0, 1.0)))


def _hand_points_in_base(config, kin, side: str, q: dict[str, float]) -> dict[str, np.ndarray]:
    """The hand's keypoints (its reference pose) in the base frame, the hand placed by its mount."""
    arm, hand = config.arms[side], config.hands[side]
    hand_cfg = load_hand_config(hand.retarget, side)
    model = hand_model_for(hand_cfg)
    pts = model.point_positions(reference_pose(hand_cfg, model))
    base_T_root = kin.frame_pose(arm.ee_frame, q) @ hand.mount.matrix()
    return {name: base_T_root[:3, :3] @ p + base_T_root[:3, 3] for name, p in zip(model.point_names, pts)}


def _arm_poses(config, rng, n: int = 4) -> list[dict[str, float]]:
    poses = [{}]
    for _ in range(n):
        q = {}
        for name in config.arm_joints:
            j = config.joint_info(name)
            q[name] = float(rng.uniform(max(j.lower, -1.5), min(j.upper, 1.5)))
        poses.append(q)
    return poses


@pytest.fixture(scope="module", params=ROBOTS)
def robot(request):
    config = load_robot_config(request.param)
    return config, RobotKinematics(config)


def test_every_robot_config_places_each_hand_on_its_arm(robot):
    config, _ = robot
    for side, hand in config.hands.items():
        assert side in config.arms, f"{config.name}: the {side} hand has no arm"
        assert hand.mount is not None, f"{config.name}.hands.{side}.mount: where the hand sits on the arm is not stated"


def test_common_wrist_frame_is_the_hands_wrist_frame_in_every_arm_pose(robot):
    """x toward the middle finger's knuckle, y toward the thumb side, at the hand's wrist."""
    config, kin = robot
    rng = np.random.default_rng(0)
    for side in config.hands:
        hand_cfg = load_hand_config(config.hands[side].retarget, side)
        for q in _arm_poses(config, rng):
            at = _hand_points_in_base(config, kin, side, q)
            expected = wrist_frame_rotation(
                at["wrist"], [at[n] for n in hand_cfg.wrist_forward],
                (at[hand_cfg.wrist_lateral[0]], at[hand_cfg.wrist_lateral[1]]),
            )  # rows: the hand's wrist axes in the base frame
            common = kin.wrist_pose(side, q)
            for axis, name in ((0, "x"), (1, "y")):
                angle = _angle(common[:3, axis], expected[axis])
                assert angle < MAX_ANGLE, (
                    f"{config.name} {side}: the common wrist frame's {name} axis is {np.degrees(angle):.1f} deg "
                    f"off the hand's (fix arms.{side}.ee_offset.rpy)"
                )
            gap = np.linalg.norm(common[:3, 3] - at["wrist"])
            assert gap < 0.02, f"{config.name} {side}: the wrist frame is {gap * 100:.1f} cm from the hand's wrist"


def test_fingers_lie_along_x_and_the_thumb_on_the_y_side(robot):
    """The meaning, checked on the fingertips rather than on the frame's own definition."""
    config, kin = robot
    for side in config.hands:
        at = _hand_points_in_base(config, kin, side, {})
        common = kin.wrist_pose(side, {})
        origin, x, y = at["wrist"], common[:3, 0], common[:3, 1]
        tips = [n for n in ("index_tip", "middle_tip", "ring_tip", "pinky_tip") if n in at]
        for tip in tips:
            assert (at[tip] - origin) @ x > 0.05, f"{config.name} {side}: {tip} is not ahead of the wrist along x"
        thumb = (at["thumb_tip"] - origin) @ y
        # A Dex3-1 thumb opposes the two fingers midway, so "thumb side" is "not on the -y side".
        assert thumb > -0.005, f"{config.name} {side}: the thumb is on the -y side"
        assert thumb > (at[tips[-1]] - origin) @ y, f"{config.name} {side}: the thumb is not on +y of the outer finger"


def test_left_and_right_wrist_frames_are_mirror_images_with_the_thumb_kept(robot):
    """Mirroring maps the thumb side onto the thumb side, so z = x × y flips: right = M·left·diag(1, 1, -1)."""
    config, kin = robot
    if set(config.arms) != {"left", "right"}:
        pytest.skip("one-armed robot")
    mirror = np.diag([1.0, -1.0, 1.0])
    left, right = kin.wrist_pose("left", {}), kin.wrist_pose("right", {})
    np.testing.assert_allclose(right[:3, :3], mirror @ left[:3, :3] @ np.diag([1.0, 1.0, -1.0]), atol=2e-4)


# --- against the makers' models with the hands attached (test data; skipped when absent) ------

VENDOR_WITH_HANDS = [
    ("g1_dex3", "unitree_g1/g1_29dof_with_hand_rev_1_0.urdf"),
    ("h1_inspire", "unitree_h1/h1_with_hand.urdf"),
    ("h1_2_inspire", "unitree_h1_2/h1_2.urdf"),
]


@pytest.mark.parametrize(("robot_name", "rel"), VENDOR_WITH_HANDS)
def test_common_wrist_frame_matches_the_makers_hand_on_the_makers_arm(robot_name, rel):
    path = VENDOR / rel
    if not path.is_file():
        pytest.skip(f"makers' URDFs not available ({VENDOR} absent)")
    config = load_robot_config(robot_name)
    kin = RobotKinematics(config, urdf=path)
    body = BodyModel(path)
    rng = np.random.default_rng(1)
    for side in config.hands:
        hand_cfg = load_hand_config(config.hands[side].retarget, side)
        frame_of = {name: hand_cfg.keypoints[name].frame for name in ("wrist", *hand_cfg.wrist_forward, *hand_cfg.wrist_lateral)}
        for arm_q in _arm_poses(config, rng, n=2):
            q = {j: config.home_position(j) for j in config.arm_joints} | arm_q
            data = body.frame_placements(q)
            at = {k: data.oMf[body.frame_id(f)].translation.copy() for k, f in frame_of.items()}
            base = data.oMf[body.frame_id(config.base_frame)].homogeneous
            at = {k: (se3.invert(base) @ np.append(p, 1.0))[:3] for k, p in at.items()}
            theirs = wrist_frame_rotation(
                at["wrist"], [at[n] for n in hand_cfg.wrist_forward],
                (at[hand_cfg.wrist_lateral[0]], at[hand_cfg.wrist_lateral[1]]),
            )
            ours = kin.wrist_pose(side, q)
            assert _angle(ours[:3, 0], theirs[0]) < MAX_ANGLE
            assert _angle(ours[:3, 1], theirs[1]) < np.radians(6.0)  # the makers' knuckles differ slightly
