"""CasADi forward kinematics built from a chain's placements and axes equals Pinocchio's."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.kinematics import RobotKinematics

ca = pytest.importorskip("casadi")
from egoscale_ros.kinematics.casadi_fk import chain_fk_function, placement_parameters  # noqa: E402


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
