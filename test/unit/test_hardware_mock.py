"""Specification of the simulated joints behind mock_hardware_node."""

import numpy as np
import pytest

from egoscale_ros.hardware.mock import MockJoints
from egoscale_ros.kinematics.urdf import Mimic


def make(lag=0.05, vmax=2.0, mimic=None):
    return MockJoints(
        ["a", "b", "c"], {"a": 0.1}, lower=np.array([-1.0, -1.0, -2.0]), upper=np.array([1.0, 1.0, 2.0]),
        lag_s=lag, max_velocity=vmax, mimic=mimic,
    )


def test_starts_at_initial_positions_and_holds_without_command():
    joints = make()
    for _ in range(100):
        joints.step(0.005)
    assert joints.positions() == pytest.approx({"a": 0.1, "b": 0.0, "c": 0.0})


def test_converges_to_command_with_a_lag_and_never_faster_than_the_cap():
    joints = make(lag=0.05, vmax=2.0)
    joints.set_command({"b": 0.5})
    trace = []
    for _ in range(400):
        joints.step(0.005)
        trace.append(joints.position[1])
    steps = np.diff([0.0, *trace])
    assert np.all(np.abs(steps) <= 2.0 * 0.005 + 1e-12)
    assert trace[0] < 0.5 * 0.5  # it lags, no jump
    assert trace[-1] == pytest.approx(0.5, abs=1e-6)


def test_commands_outside_limits_are_clipped_and_bad_values_ignored():
    joints = make(lag=0.0, vmax=100.0)
    ignored = joints.set_command({"a": 5.0, "nope": 0.2, "b": float("nan")})
    assert sorted(ignored) == ["b", "nope"]
    joints.step(0.1)
    assert joints.positions()["a"] == pytest.approx(1.0)
    assert joints.positions()["b"] == 0.0


def test_mimic_joints_follow_their_source():
    joints = make(lag=0.0, vmax=100.0, mimic=[Mimic("c", "a", multiplier=1.5, offset=0.1)])
    joints.set_command({"a": 0.4})
    joints.step(0.1)
    assert joints.positions()["c"] == pytest.approx(1.5 * 0.4 + 0.1)


def test_rejects_nonsense_parameters():
    with pytest.raises(ValueError, match="max_velocity"):
        make(vmax=0.0)
