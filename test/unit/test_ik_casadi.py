"""The CasADi/IPOPT reference solver keeps the same contract as the main solver."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.ik.problem import IkTask
from egoscale_ros.kinematics import se3
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.kinematics import RobotKinematics

pytest.importorskip("casadi")
from egoscale_ros.ik.casadi_solver import CasadiSolver


def _arm(robot: str, **overrides):
    config = load_robot_config(robot)
    chain = RobotKinematics(config).arm_chain("left")
    return chain, IkTask.from_arm_config(config.arms["left"], **overrides)


@pytest.mark.parametrize("robot", ["g1_dex3", "r1pro_sharpa"])
def test_warm_start_is_exact_and_within_limits(robot):
    chain, task = _arm(robot)
    solver = CasadiSolver(chain, task, restarts=2)
    rng = np.random.default_rng(0)
    for _ in range(8):
        q_true = rng.uniform(chain.lower, chain.upper)
        result = solver.solve(chain.fk(q_true), chain.clip(q_true + rng.uniform(-0.05, 0.05, chain.n)))
        assert result.converged
        assert result.position_error < 1e-4 and result.rotation_error < 1e-3
        assert np.all(result.q >= chain.lower) and np.all(result.q <= chain.upper)


def test_solver_follows_the_locked_joints_without_rebuilding():
    config = load_robot_config("g1_dex3")
    chain = RobotKinematics(config).arm_chain("left")
    solver = CasadiSolver(chain, IkTask.from_arm_config(config.arms["left"]), restarts=0)
    chain.update_locked({"waist_yaw_joint": 0.4, "waist_pitch_joint": 0.2})
    q_true = np.array([0.2, 0.3, 0.1, 0.8, 0.1, 0.2, -0.1])
    result = solver.solve(chain.fk(q_true), q_true + 0.05)
    assert result.converged


def test_unreachable_target_gives_a_finite_answer_within_limits():
    chain, task = _arm("g1_dex3")
    result = CasadiSolver(chain, task, restarts=0).solve(
        se3.make_transform(trans=np.array([3.0, 2.0, 1.0])), np.zeros(chain.n)
    )
    assert not result.converged
    assert np.all(np.isfinite(result.q))
    assert np.all(result.q >= chain.lower) and np.all(result.q <= chain.upper)


def test_position_only_four_joint_arm():
    chain, task = _arm("h1_inspire", orientation_weight=0.0)
    solver = CasadiSolver(chain, task, restarts=4)
    rng = np.random.default_rng(1)
    for _ in range(5):
        q_true = rng.uniform(chain.lower, chain.upper)
        result = solver.solve(chain.fk(q_true), np.zeros(chain.n))
        assert result.converged and result.position_error < 1e-4
