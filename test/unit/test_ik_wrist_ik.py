"""Both-arm IK as the node runs it: measured joints in, arm joint positions out."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.ik.wrist_ik import WristIk
from egoscale_ros.kinematics import se3
from egoscale_ros.robot.config import load_robot_config


@pytest.fixture(scope="module")
def config():
    return load_robot_config("g1_dex3")


def _q(config, left, right) -> dict[str, float]:
    return {**dict(zip(config.arms["left"].joints, left)), **dict(zip(config.arms["right"].joints, right))}


def test_output_is_every_arm_joint_in_config_order_and_reaches_both_targets(config):
    ik = WristIk(config)
    assert ik.joint_names == config.arm_joints
    goal = _q(config, [-0.3, 0.4, 0.1, 0.9, 0.2, 0.3, -0.2], [-0.3, -0.4, -0.1, 0.9, -0.2, 0.3, 0.2])
    targets = {s: ik.kinematics.wrist_pose(s, goal) for s in ("left", "right")}
    q = ik.solve(targets, {})
    solved = dict(zip(ik.joint_names, q))
    for side in ("left", "right"):
        dp, dr = se3.pose_error(ik.kinematics.wrist_pose(side, solved), targets[side])
        assert dp < 1e-4 and dr < 1e-3
    assert ik.stats.solves == 2 and ik.stats.failures == 0


def test_measured_waist_is_folded_in_so_targets_stay_in_the_base_frame(config):
    ik = WristIk(config)
    measured = {"waist_yaw_joint": 0.4, "waist_pitch_joint": 0.2}
    goal = {**measured, **_q(config, [0.0, 0.3, 0.0, 0.8, 0.0, 0.0, 0.0], [0.0, -0.3, 0.0, 0.8, 0.0, 0.0, 0.0])}
    target = ik.kinematics.wrist_pose("left", goal)
    q = ik.solve({"left": target}, measured)
    solved = {**measured, **dict(zip(ik.joint_names, q))}
    dp, _ = se3.pose_error(ik.kinematics.wrist_pose("left", solved), target)
    assert dp < 1e-4
    # With the waist ignored (at home) the same joints would put the hand elsewhere.
    dp_home, _ = se3.pose_error(ik.kinematics.wrist_pose("left", dict(zip(ik.joint_names, q))), target)
    assert dp_home > 0.05


def test_first_solve_starts_from_the_measured_arm_then_from_its_previous_solution(config):
    ik = WristIk(config)
    measured = _q(config, [0.1] * 7, [-0.1] * 7)
    assert np.allclose(ik.solve({}, measured), [0.1] * 7 + [-0.1] * 7), "no target: hold the measured pose"
    target = ik.kinematics.wrist_pose("left", _q(config, [0.2] * 7, [0.0] * 7))
    first = ik.solve({"left": target}, measured)
    assert np.allclose(ik.solve({}, measured), first), "no new target: keep the previous solution"
    ik.reset()
    assert np.allclose(ik.solve({}, measured), [0.1] * 7 + [-0.1] * 7)


def test_unreachable_target_is_counted_and_answered_within_limits(config):
    ik = WristIk(config)
    far = se3.make_transform(trans=np.array([2.0, 1.0, 0.5]))
    q = ik.solve({"left": far}, {})
    lower, upper = ik.chains["left"].lower, ik.chains["left"].upper
    assert np.isfinite(q).all() and np.all(q[:7] >= lower) and np.all(q[:7] <= upper)
    assert ik.stats.failures == 1


def test_malformed_target_names_the_arm_and_unknown_solver_is_refused(config):
    ik = WristIk(config)
    bad = np.eye(4)
    bad[1, 3] = np.inf
    with pytest.raises(ValueError, match="right wrist"):
        ik.solve({"right": bad}, {})
    with pytest.raises(ValueError, match="not one of dls, casadi"):
        WristIk(config, solver="newton")
