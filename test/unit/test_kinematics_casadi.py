"""CasADi forward kinematics built from a chain's placements and axes equals Pinocchio's."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.kinematics import RobotKinematics

ca = pytest.importorskip("casadi")
from egoscale_ros.kinematics.casadi_fk import (  # noqa: E402
    axis_rotation,
    chain_fk_function,
    placement_parameters,
    tree_poses,
)
from egoscale_ros.kinematics.pinocchio_model import JointMotion  # noqa: E402


@pytest.mark.parametrize("robot", ["g1_dex3", "h1_inspire", "r1pro_sharpa"])
def test_casadi_fk_matches_pinocchio_to_1e_12(robot):
    kin = RobotKinematics(load_robot_config(robot))
    rng = np.random.default_rng(0)
    for side in ("left", "right"):
        chain = kin.arm_chain(side)
        fk = chain_fk_function(chain)
        for _ in range(10):
            q = rng.uniform(chain.lower, chain.upper)
            rot, pos = fk(q, placement_parameters(chain))
            pose = chain.fk(q)
            np.testing.assert_allclose(np.array(rot), pose[:3, :3], atol=1e-12)
            np.testing.assert_allclose(np.array(pos).ravel(), pose[:3, 3], atol=1e-12)


def test_casadi_fk_follows_locked_joints_through_its_parameters():
    """One compiled function stays exact when the waist moves: placements are parameters."""
    kin = RobotKinematics(load_robot_config("g1_dex3"))
    chain = kin.arm_chain("left")
    fk = chain_fk_function(chain)
    q = np.full(chain.n, 0.2)
    before = np.array(fk(q, placement_parameters(chain))[1]).ravel()
    chain.update_locked({"waist_yaw_joint": 0.5, "waist_pitch_joint": 0.3})
    rot, pos = fk(q, placement_parameters(chain))
    np.testing.assert_allclose(np.array(pos).ravel(), chain.fk(q)[:3, 3], atol=1e-12)
    assert np.linalg.norm(np.array(pos).ravel() - before) > 0.05


@pytest.mark.parametrize("axis", [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, -1], [0.6, 0.0, 0.8]])
def test_joint_rotations_equal_pinocchios_exponential_map_for_principal_and_other_axes(axis):
    # The principal axes are written out entry by entry: a sign slip there (say -s for s) would
    # turn one finger or arm joint the wrong way and nothing else would notice. Pinocchio's exp3 is
    # the oracle (it is in every test leg; scipy is not).
    import pinocchio as pin

    axis = np.asarray(axis, dtype=float)
    for angle in (-2.5, -0.3, 0.0, 0.7, 3.0):
        got = np.array(ca.DM(axis_rotation(axis, angle)))
        np.testing.assert_allclose(got, pin.exp3(angle * axis), atol=1e-14)


def test_a_branching_tree_composes_each_joint_on_its_own_parent():
    # joint 0 turns about z at the base; joints 1 and 2 both hang off joint 0 (a branch), 2 slides
    placements = [(np.eye(3), np.zeros(3)), (np.eye(3), np.array([1.0, 0, 0])), (np.eye(3), np.array([0, 2.0, 0]))]
    motions = [JointMotion("revolute", np.array([0, 0, 1.0])), JointMotion("revolute", np.array([1.0, 0, 0])),
               JointMotion("prismatic", np.array([0, 0, 1.0]))]
    poses = tree_poses([-1, 0, 0], [(ca.DM(r), ca.DM(p)) for r, p in placements], motions, [np.pi / 2, 0.4, 0.5])
    np.testing.assert_allclose(np.array(poses[1][1]).ravel(), [0, 1, 0], atol=1e-12)  # x offset turned onto y
    np.testing.assert_allclose(np.array(poses[2][1]).ravel(), [-2, 0, 0.5], atol=1e-12)  # a sibling, not a child of 1
