"""Specification of the shared SE(3) helpers."""

import numpy as np
import pytest

from egoscale_ros.kinematics import se3

rng = np.random.default_rng(0)


def random_rotation() -> np.ndarray:
    return se3.quat_to_matrix(rng.normal(size=4))


@pytest.mark.parametrize("_", range(20))
def test_quaternion_round_trip(_):
    r = random_rotation()
    np.testing.assert_allclose(se3.quat_to_matrix(se3.matrix_to_quat(r)), r, atol=1e-12)


def test_rot6d_round_trip_and_orthonormalisation():
    rs = np.stack([random_rotation() for _ in range(10)])
    np.testing.assert_allclose(se3.rot6d_to_matrix(se3.matrix_to_rot6d(rs)), rs, atol=1e-12)
    noisy = se3.rot6d_to_matrix(se3.matrix_to_rot6d(rs) + 0.05 * rng.normal(size=(10, 6)))
    np.testing.assert_allclose(noisy @ np.swapaxes(noisy, -1, -2), np.broadcast_to(np.eye(3), (10, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(noisy), 1.0, atol=1e-12)


@pytest.mark.parametrize("angle", [0.0, 1e-9, 0.3, 2.0, np.pi - 1e-6, np.pi])
def test_log_exp_round_trip_including_near_pi(angle):
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    r = se3.so3_exp(angle * axis)
    np.testing.assert_allclose(se3.so3_exp(se3.so3_log(r)), r, atol=1e-9)
    assert se3.rotation_angle(r) == pytest.approx(angle, abs=1e-6)


def test_rpy_matches_urdf_convention():
    rpy = np.array([0.3, -0.2, 1.1])
    expected = se3.so3_exp([0, 0, 1.1]) @ se3.so3_exp([0, -0.2, 0]) @ se3.so3_exp([0.3, 0, 0])
    np.testing.assert_allclose(se3.rpy_to_matrix(rpy), expected, atol=1e-12)
    np.testing.assert_allclose(se3.matrix_to_rpy(expected), rpy, atol=1e-12)


def test_invert_and_interpolate():
    t0 = se3.make_transform(random_rotation(), rng.normal(size=3))
    t1 = se3.make_transform(random_rotation(), rng.normal(size=3))
    np.testing.assert_allclose(se3.invert(t0) @ t0, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(se3.interpolate_pose(t0, t1, 0.0), t0, atol=1e-9)
    np.testing.assert_allclose(se3.interpolate_pose(t0, t1, 1.0), t1, atol=1e-9)
    mid = se3.interpolate_pose(t0, t1, 0.5)
    d0 = se3.pose_error(t0, mid)[1]
    d1 = se3.pose_error(mid, t1)[1]
    assert d0 == pytest.approx(d1, abs=1e-9)


def test_weighted_mean_rotation_of_identical_rotations_is_that_rotation():
    r = random_rotation()
    np.testing.assert_allclose(se3.weighted_mean_rotation(np.stack([r, r, r]), np.array([1, 2, 3])), r, atol=1e-12)
