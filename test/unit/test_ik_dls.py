"""The main arm IK solver (damped least squares) as a specification: exact, within limits, robust."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.ik.dls import DlsSolver
from egoscale_ros.ik.problem import IkTask
from egoscale_ros.kinematics import se3
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.kinematics import RobotKinematics


def _arm(robot: str, side: str = "left", **task_overrides):
    config = load_robot_config(robot)
    chain = RobotKinematics(config).arm_chain(side)
    task = IkTask.from_arm_config(config.arms[side], **task_overrides)
    home = np.array([config.home_position(j) for j in chain.joint_names])
    return chain, task, home


def _within_limits(chain, q) -> bool:
    return bool(np.all(q >= chain.lower) and np.all(q <= chain.upper) and np.all(np.isfinite(q)))


@pytest.mark.parametrize("robot", ["g1_dex3", "r1pro_sharpa"])
def test_warm_start_reaches_every_reachable_target_exactly(robot):
    chain, task, _ = _arm(robot)
    solver = DlsSolver(chain, task)
    rng = np.random.default_rng(0)
    for _ in range(60):
        q_true = rng.uniform(chain.lower, chain.upper)
        seed = chain.clip(q_true + rng.uniform(-0.05, 0.05, chain.n))
        result = solver.solve(chain.fk(q_true), seed)
        assert result.converged
        assert result.position_error < 1e-4 and result.rotation_error < 1e-3
        assert _within_limits(chain, result.q)
        dp, dr = se3.pose_error(chain.fk(result.q), chain.fk(q_true))
        assert dp == pytest.approx(result.position_error, abs=1e-12)


@pytest.mark.parametrize("robot", ["g1_dex3", "r1pro_sharpa"])
def test_cold_start_from_home_reaches_at_least_95_percent_with_restarts(robot):
    chain, task, home = _arm(robot)
    rng = np.random.default_rng(1)
    targets = [chain.fk(rng.uniform(chain.lower, chain.upper)) for _ in range(60)]
    with_restarts = DlsSolver(chain, task, restarts=16)
    single = DlsSolver(chain, task, restarts=0)
    ok = [with_restarts.solve(t, home).converged for t in targets]
    ok_single = [single.solve(t, home).converged for t in targets]
    assert np.mean(ok) >= 0.95
    assert np.mean(ok) > np.mean(ok_single), "restarts are what gets a cold start out of local minima"


def test_unreachable_target_gives_the_best_pose_within_limits_never_nan():
    chain, task, home = _arm("g1_dex3")
    target = se3.make_transform(trans=np.array([3.0, 2.0, 1.0]))
    result = DlsSolver(chain, task, restarts=2).solve(target, home)
    assert not result.converged
    assert _within_limits(chain, result.q)
    reach = np.linalg.norm(chain.fk(home)[:3, 3] - target[:3, 3])
    assert result.position_error < reach, "it still moves toward the target"


def test_a_time_budget_stops_restarts_for_control_loops():
    chain, task, home = _arm("g1_dex3")
    unreachable = se3.make_transform(trans=np.array([3.0, 2.0, 1.0]))
    assert DlsSolver(chain, task, restarts=5).solve(unreachable, home).descents == 6
    assert DlsSolver(chain, task, restarts=5, time_budget_s=0.0).solve(unreachable, home).descents == 1


def test_with_continuity_a_failed_solve_stays_on_the_seeds_branch():
    chain, task, home = _arm("g1_dex3")
    unreachable = se3.make_transform(trans=np.array([3.0, 2.0, 1.0]))
    own = DlsSolver(chain, task, restarts=0).solve(unreachable, home)
    kept = DlsSolver(chain, task, restarts=8, continuity=True).solve(unreachable, home)
    np.testing.assert_array_equal(kept.q, own.q)
    assert kept.descents == 9


def test_targets_beyond_the_joint_limits_are_answered_within_the_limits():
    chain, task, home = _arm("g1_dex3")
    solver = DlsSolver(chain, task, restarts=0)
    rng = np.random.default_rng(2)
    for _ in range(20):
        # Configurations up to 0.5 rad outside the limits: their poses may be unreachable.
        q = rng.uniform(chain.lower - 0.5, chain.upper + 0.5)
        result = solver.solve(chain.fk(q), home)
        assert _within_limits(chain, result.q)


def test_redundancy_drifts_toward_the_rest_pose_while_the_hand_tracks():
    chain, task, _ = _arm("g1_dex3")
    rest = np.array(task.rest_pose)
    home_hand = chain.fk(rest)
    # Another arm configuration with the hand exactly where the rest pose puts it: walk along the
    # arm's self-motion (the Jacobian's null space), then let the solver remove the drift.
    no_posture = DlsSolver(chain, task, restarts=0, posture_gain=0.0)
    q = rest.copy()
    for _ in range(12):
        null = np.linalg.svd(chain.pose_and_jacobian(q)[2])[2][-1]
        q = q + 0.05 * np.sign(null[2] or 1.0) * null
    other = no_posture.solve(home_hand, q)
    assert other.converged and np.linalg.norm(other.q - rest) > 0.3
    start_distance = np.linalg.norm(other.q - rest)
    for solver, should_drift in ((no_posture, False), (DlsSolver(chain, task, restarts=0), True)):
        q = other.q
        for k in range(300):  # the hand moving slowly on a 1 cm circle, streamed at the control rate
            target = home_hand.copy()
            target[:3, 3] += 0.01 * np.array([np.cos(k / 20) - 1, np.sin(k / 20), 0.0])
            result = solver.solve(target, q)
            assert result.converged
            q = result.q
        distance = np.linalg.norm(q - rest)
        assert (distance < 0.5 * start_distance) == should_drift


def test_warm_solve_is_a_few_iterations():
    """Speed is benchmarked, not tested; the iteration count is what the code controls."""
    chain, task, _ = _arm("g1_dex3")
    solver = DlsSolver(chain, task)
    rng = np.random.default_rng(3)
    iterations = []
    for _ in range(50):
        q_true = rng.uniform(chain.lower, chain.upper)
        result = solver.solve(chain.fk(q_true), chain.clip(q_true + rng.uniform(-0.05, 0.05, chain.n)))
        iterations.append(result.iterations)
    assert np.median(iterations) <= 4


def test_position_only_task_on_a_four_joint_arm_is_exact():
    chain, task, home = _arm("h1_inspire", orientation_weight=0.0)
    solver = DlsSolver(chain, task)
    rng = np.random.default_rng(4)
    for _ in range(40):
        q_true = rng.uniform(chain.lower, chain.upper)
        result = solver.solve(chain.fk(q_true), home)
        assert result.converged and result.position_error < 1e-4


def test_four_joint_arm_puts_position_before_orientation():
    chain, task, home = _arm("h1_inspire")
    assert task.position_first and task.uses_orientation
    solver = DlsSolver(chain, task)
    rng = np.random.default_rng(5)
    for _ in range(20):
        q_true = rng.uniform(chain.lower, chain.upper)
        reachable = chain.fk(q_true)
        # A full pose the arm can reach: position and orientation both matched.
        warm = solver.solve(reachable, chain.clip(q_true + 0.05))
        assert warm.position_error < 1e-4 and warm.rotation_error < 1e-2
        # The same position with an orientation it cannot reach: position still exact.
        turned = reachable.copy()
        turned[:3, :3] = reachable[:3, :3] @ se3.so3_exp(np.array([0.0, 0.0, 1.2]))
        result = solver.solve(turned, warm.q)
        assert result.position_error < 1e-4
        assert result.converged, "for a position-first arm, success is decided by position"


def test_non_finite_or_malformed_target_is_refused_clearly():
    chain, task, home = _arm("g1_dex3")
    solver = DlsSolver(chain, task)
    bad = np.eye(4)
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        solver.solve(bad, home)
    with pytest.raises(ValueError, match="4x4"):
        solver.solve(np.eye(3), home)


def test_restarts_are_reproducible():
    chain, task, home = _arm("g1_dex3")
    target = chain.fk(np.array([-2.5, 2.0, 2.0, -0.8, 1.5, -1.2, 1.0]))
    a = DlsSolver(chain, task, seed=7).solve(target, home)
    b = DlsSolver(chain, task, seed=7).solve(target, home)
    np.testing.assert_array_equal(a.q, b.q)
