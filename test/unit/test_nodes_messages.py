"""Message conversions of the node shells (real ROS message classes, no DDS needed)."""

import numpy as np
import pytest
from trajectory_msgs.msg import MultiDOFJointTrajectoryPoint

from egoscale_ros.kinematics import se3
from egoscale_ros.nodes.wiring.stamps import (
    duration_to_sec,
    ns_to_stamp,
    sec_to_duration,
    sec_to_stamp,
    stamp_to_ns,
    stamp_to_sec,
)
from egoscale_ros.nodes.wiring.transforms import matrix_to_transform, transform_to_matrix, transforms_to_matrices


def test_batched_transform_decoding_matches_one_at_a_time():
    rng = np.random.default_rng(3)
    poses = np.array([[se3.make_transform(se3.quat_to_matrix(rng.normal(size=4)), rng.normal(size=3))
                       for _ in range(2)] for _ in range(30)])
    points = [MultiDOFJointTrajectoryPoint(transforms=[matrix_to_transform(m) for m in row]) for row in poses]
    decoded = transforms_to_matrices(points, 2)
    np.testing.assert_allclose(decoded, poses, atol=1e-12)
    np.testing.assert_allclose(decoded[4, 1], transform_to_matrix(points[4].transforms[1]), atol=1e-15)


def test_a_point_with_the_wrong_number_of_transforms_is_named():
    point = MultiDOFJointTrajectoryPoint(transforms=[matrix_to_transform(np.eye(4))])
    with pytest.raises(ValueError, match="point 0 carries 1 transforms for 2 joints"):
        transforms_to_matrices([point], 2)


def test_stamps_round_trip():
    t = 1795255557.579618657
    assert stamp_to_sec(sec_to_stamp(t)) == pytest.approx(t, abs=1e-6)
    assert duration_to_sec(sec_to_duration(0.0333)) == pytest.approx(0.0333, abs=1e-9)


def test_times_just_below_a_whole_second_carry_into_the_seconds():
    d = sec_to_duration(0.9999999999)
    assert (d.sec, d.nanosec) == (1, 0)
    s = sec_to_stamp(41.99999999995)
    assert (s.sec, s.nanosec) == (42, 0)
    assert stamp_to_ns(ns_to_stamp(1_795_255_557_579_618_657)) == 1_795_255_557_579_618_657
