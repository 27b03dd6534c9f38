"""Specification of the joint command limiter: no jump from the measured pose, and position,
velocity and acceleration limits that hold over long random target sequences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from egoscale_ros.safety.limiter import JointCommandLimiter, braking_speed
from egoscale_ros.safety.limits import JointLimits

DT = 0.004  # 250 Hz
TOL = 1e-9


def limits(acc: float = 15.0) -> JointLimits:
    return JointLimits(("a", "b", "c", "d"), [-3.0, -1.0, -1.6, 0.0], [2.6, 2.1, 1.6, 1.7],
                       [3.0, 2.0, 1.0, 4.0], [acc, acc, 2 * acc, acc])


def run(limiter: JointCommandLimiter, targets, dts) -> np.ndarray:
    return np.array([limiter.step(tgt, dt) for tgt, dt in zip(targets, dts)])


def check_motion(commands: np.ndarray, start: np.ndarray, lim: JointLimits, dts: np.ndarray) -> None:
    q = np.vstack([start, commands])
    v = np.diff(q, axis=0) / dts[:, None]
    assert np.all(np.abs(v) <= lim.velocity + TOL), "velocity limit exceeded"
    v_prev = np.vstack([np.zeros(lim.size), v[:-1]])
    assert np.all(np.abs(v - v_prev) <= lim.acceleration * dts[:, None] + 1e-6), "acceleration limit exceeded"
    assert all(lim.within(c, 1e-12) for c in commands), "position limit exceeded"


def test_the_first_command_is_the_measured_pose_even_with_a_far_target():
    limiter = JointCommandLimiter(limits())
    measured = np.array([0.5, -0.2, 0.1, 1.0])
    np.testing.assert_array_equal(limiter.reset(measured), measured)
    first = limiter.step(np.array([-3.0, 2.0, 1.6, 0.0]), DT)
    # One tick from rest can move at most a·dt² — not toward the target in one jump.
    assert np.all(np.abs(first - measured) <= limits().acceleration * DT * DT + TOL)


@pytest.mark.parametrize("seed", range(3))
def test_limits_hold_over_long_random_target_sequences(seed):
    rng = np.random.default_rng(seed)
    lim = limits()
    limiter = JointCommandLimiter(lim)
    start = rng.uniform(lim.lower, lim.upper)
    limiter.reset(start)
    n = 2500
    # Piecewise-constant targets that jump anywhere (also far outside the limits) every few ticks.
    targets = np.repeat(rng.uniform(lim.lower - 1.0, lim.upper + 1.0, size=(n // 25, lim.size)), 25, axis=0)
    dts = np.full(n, DT)
    check_motion(run(limiter, targets, dts), start, lim, dts)


def test_limits_hold_with_jittery_ticks_and_smooth_noisy_targets():
    rng = np.random.default_rng(7)
    lim = limits()
    limiter = JointCommandLimiter(lim)
    start = np.zeros(lim.size) + [0, 0, 0, 0.5]
    limiter.reset(start)
    n = 3000
    t = np.cumsum(rng.uniform(0.001, 0.03, size=n))  # irregular ticks
    targets = np.clip(np.sin(t[:, None] * [1.0, 2.0, 3.0, 5.0]) * 2.0 + rng.normal(0, 0.05, (n, 4)), -5, 5)
    dts = np.diff(np.concatenate([[0.0], t]))
    check_motion(run(limiter, targets, dts), start, lim, dts)


def test_a_reachable_target_is_reached_without_overshoot():
    lim = limits()
    limiter = JointCommandLimiter(lim)
    limiter.reset(np.zeros(4))
    goal = np.array([1.0, -0.5, 0.3, 1.2])
    commands = run(limiter, [goal] * 2000, [DT] * 2000)
    np.testing.assert_allclose(commands[-1], goal, atol=1e-12)
    np.testing.assert_allclose(limiter.velocity, 0.0, atol=1e-12)
    progress = commands * np.sign(goal)
    assert np.all(np.diff(progress, axis=0) >= -1e-15), "moved away from the goal (overshoot)"
    assert np.all(progress <= np.abs(goal) + 1e-12)


def test_a_target_outside_the_limits_stops_at_the_limit():
    lim = limits()
    limiter = JointCommandLimiter(lim)
    limiter.reset(np.array([2.5, 2.0, 1.5, 1.6]))
    commands = run(limiter, [np.array([10.0, 10.0, 10.0, 10.0])] * 500, [DT] * 500)
    np.testing.assert_allclose(commands[-1], lim.upper, atol=1e-12)
    assert np.all(commands <= lim.upper + 1e-12)


def test_braking_to_a_stop_respects_the_acceleration_limit():
    lim = limits()
    limiter = JointCommandLimiter(lim)
    limiter.reset(np.array([-2.0, -0.8, -1.0, 0.1]))
    run(limiter, [np.array([2.0, 2.0, 1.5, 1.6])] * 60, [DT] * 60)  # get moving
    moving = limiter.velocity
    assert np.all(np.abs(moving) > 0.1)
    before = limiter.position
    commands = run(limiter, [None] * 200, [DT] * 200)
    v = np.diff(np.vstack([before, commands]), axis=0) / DT
    assert np.all(np.abs(np.diff(np.vstack([moving, v]), axis=0)) <= lim.acceleration * DT + 1e-6)
    np.testing.assert_allclose(limiter.velocity, 0.0, atol=1e-12)
    np.testing.assert_allclose(commands[-1], commands[-2], atol=1e-15)


def test_freeze_stops_at_once_and_holds():
    limiter = JointCommandLimiter(limits())
    limiter.reset(np.zeros(4))
    run(limiter, [np.ones(4)] * 50, [DT] * 50)
    last = limiter.position
    np.testing.assert_array_equal(limiter.freeze(), last)
    np.testing.assert_array_equal(limiter.velocity, np.zeros(4))


def test_a_start_outside_the_limits_moves_back_in_without_jumping():
    lim = limits()
    limiter = JointCommandLimiter(lim)
    outside = np.array([2.8, 0.0, 0.0, 0.5])  # joint a beyond its upper limit 2.6
    limiter.reset(outside)
    commands = run(limiter, [np.array([2.8, 0, 0, 0.5])] * 400, [DT] * 400)
    assert abs(commands[0, 0] - 2.8) < 1e-3
    assert np.all(np.diff(commands[:, 0]) <= 1e-12)
    assert commands[-1, 0] == pytest.approx(2.6, abs=1e-9)


def test_no_time_means_no_motion_and_late_ticks_are_bounded():
    limiter = JointCommandLimiter(limits(acc=math.inf), max_dt=0.05)
    limiter.reset(np.zeros(4))
    np.testing.assert_array_equal(limiter.step(np.ones(4), 0.0), np.zeros(4))
    np.testing.assert_array_equal(limiter.step(np.ones(4), -1.0), np.zeros(4))
    late = limiter.step(np.full(4, 1.7), 10.0)  # a 10 s stall moves at most v·max_dt
    np.testing.assert_allclose(late, limits().velocity * 0.05)


def test_bad_inputs_raise_naming_the_joint():
    limiter = JointCommandLimiter(limits())
    with pytest.raises(RuntimeError, match="not started"):
        limiter.step(np.zeros(4), DT)
    with pytest.raises(ValueError, match="3 values for 4 joints"):
        limiter.reset(np.zeros(3))
    limiter.reset(np.zeros(4))
    with pytest.raises(ValueError, match="non-finite value for joint 'c'"):
        limiter.step(np.array([0.0, 0.0, np.nan, 0.0]), DT)


@pytest.mark.parametrize("seed", range(3))
def test_from_the_braking_speed_a_joint_stops_in_time_whatever_the_tick_lengths(seed):
    rng = np.random.default_rng(seed)
    a = 10.0
    for d in (0.0, 1e-4, 0.05, 0.3, 2.0):
        dt = rng.uniform(0.001, 0.02)
        speed = float(braking_speed(np.array([d]), np.array([a]), dt)[0])
        travelled = speed * dt
        while speed > 0:  # then slow down as hard as allowed, on irregular ticks
            dt = rng.uniform(0.001, 0.02)
            speed = max(0.0, speed - a * dt)
            travelled += speed * dt
        assert travelled <= d + 1e-12
    assert float(braking_speed(np.array([0.1]), np.array([math.inf]), 0.01)[0]) == pytest.approx(10.0)
    assert braking_speed(np.array([-1.0]), np.array([5.0]), 0.01)[0] == 0.0
    # Close to a limit the envelope is nearly distance/dt: approaching is not needlessly slow.
    assert float(braking_speed(np.array([1e-6]), np.array([10.0]), 0.004)[0]) == pytest.approx(1e-6 / 0.004, rel=0.01)
