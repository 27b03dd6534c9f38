"""Specification of joint limits: consistent, built from the URDF, and only ever tightened."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from egoscale_ros.safety.limits import JointLimits, LimitsError


def arm() -> JointLimits:
    return JointLimits(("shoulder", "elbow", "wrist"), [-3.0, -1.0, -1.6], [2.6, 2.1, 1.6], [37.0, 37.0, 22.0],
                       [math.inf] * 3)


@dataclass
class Override:  # shaped like a robot config's per-joint override
    lower: float | None = None
    upper: float | None = None
    velocity: float | None = None
    acceleration: float | None = None


def test_tightening_narrows_ranges_scales_speed_and_caps_acceleration():
    limits = arm().tightened({"elbow": {"upper": 1.5, "lower": -0.5}, "wrist": Override(velocity=5.0)},
                             velocity_scale=0.5, acceleration=15.0)
    np.testing.assert_allclose(limits.lower, [-3.0, -0.5, -1.6])
    np.testing.assert_allclose(limits.upper, [2.6, 1.5, 1.6])
    np.testing.assert_allclose(limits.velocity, [18.5, 18.5, 5.0])
    np.testing.assert_allclose(limits.acceleration, [15.0, 15.0, 15.0])


@pytest.mark.parametrize(
    ("overrides", "kwargs", "needle"),
    [
        ({"elbow": {"upper": 2.5}}, {}, "joint 'elbow': upper 2.5 would loosen the limit 2.1"),
        ({"shoulder": Override(lower=-3.5)}, {}, "joint 'shoulder': lower -3.5 would loosen the limit -3.0"),
        ({"wrist": {"velocity": 30.0}}, {}, "joint 'wrist': velocity 30.0 would loosen the limit 22.0"),
        ({"wrist": {"velocity": 12.0}}, {"velocity_scale": 0.5}, "joint 'wrist': velocity 12.0 would loosen the limit 11.0"),
        ({}, {"velocity_scale": 1.5}, "velocity_scale must be in"),
        ({"elbow": {"lower": 1.0, "upper": 0.5}}, {}, "joint 'elbow': tightened range"),
        ({"knee": {"upper": 0.0}}, {}, "joint 'knee' is not among the limited joints"),
        ({"elbow": {"velocity": 0.0}}, {}, "joint 'elbow': velocity limit must be > 0"),
    ],
)
def test_loosening_or_nonsense_is_refused_naming_joint_and_field(overrides, kwargs, needle):
    with pytest.raises(LimitsError, match=needle):
        arm().tightened(overrides, **kwargs)


def test_acceleration_cap_cannot_loosen_an_existing_one():
    capped = arm().tightened(acceleration=10.0)
    with pytest.raises(LimitsError, match="acceleration 20.0 would loosen the limit 10.0"):
        capped.tightened(acceleration=20.0)
    assert capped.tightened(acceleration=5.0).acceleration.max() == 5.0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"lower": [0.0, 0.0, 2.0]}, "joint 'wrist': lower 2.0 > upper 1.6"),
        ({"velocity": [1.0, -1.0, 1.0]}, "joint 'elbow': velocity limit must be > 0"),
        ({"upper": [1.0, 1.0]}, "upper: 2 values for 3 joints"),
        ({"acceleration": [1.0, np.nan, 1.0]}, "joint 'elbow': acceleration is NaN"),
    ],
)
def test_inconsistent_limits_are_refused(kwargs, needle):
    base = {"lower": arm().lower, "upper": arm().upper, "velocity": arm().velocity, "acceleration": [1.0] * 3}
    with pytest.raises(LimitsError, match=needle):
        JointLimits(arm().names, **{**base, **kwargs})


def test_subset_reorders_and_within_checks():
    limits = arm().subset(["wrist", "shoulder"])
    assert limits.names == ("wrist", "shoulder")
    np.testing.assert_allclose(limits.upper, [1.6, 2.6])
    assert limits.within([0.0, 0.0]) and not limits.within([1.7, 0.0])
    np.testing.assert_allclose(limits.clip([5.0, -5.0]), [1.6, -3.0])


def test_from_the_packages_g1_urdf_with_continuous_joints_unbounded():
    from egoscale_ros.kinematics.urdf import read_urdf
    from egoscale_ros.resources import share_dir

    info = read_urdf(share_dir() / "urdf" / "g1_upper_body.urdf")
    names = ["left_shoulder_pitch_joint", "left_elbow_joint", "left_wrist_pitch_joint"]
    limits = JointLimits.from_joints(info.joints, names, acceleration=15.0)
    np.testing.assert_allclose(limits.lower, [-3.0892, -1.0472, -1.614430], atol=1e-6)
    np.testing.assert_allclose(limits.velocity, [37.0, 37.0, 22.0])
    with pytest.raises(LimitsError, match="joint 'left_knee_joint' has no limits"):
        JointLimits.from_joints(info.joints, ["left_knee_joint"])
    free = JointLimits(("spin",), [-math.inf], [math.inf], [2.0], [math.inf])
    assert free.within([1e9])
