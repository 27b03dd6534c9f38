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


# -- batched versions: the same results as the single-rotation functions, many at a time ----------------

# Angles where SO(3) code goes wrong: exactly 0, the series/Rodrigues switch, and approaching pi.
HARD_ANGLES = [0.0, 1e-12, 1e-9, 1e-7, 1e-6, 2e-6, 1e-3, 0.3, 2.0, np.pi - 1e-4, np.pi - 1e-7, np.pi - 1e-9,
               np.pi - 1e-12, np.pi]


def rotation_vectors() -> np.ndarray:
    """Rotation vectors at HARD_ANGLES about random axes, along coordinate axes, and random ones."""
    axes = rng.normal(size=(len(HARD_ANGLES), 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    along_axes = [a * np.eye(3)[i] for a in (np.pi, np.pi - 1e-10, 1e-9) for i in range(3)]
    return np.concatenate([np.multiply(HARD_ANGLES, axes.T).T, along_axes, rng.normal(size=(30, 3))])


def test_so3_exp_batch_matches_so3_exp_at_every_angle():
    omegas = rotation_vectors()
    expected = np.stack([se3.so3_exp(w) for w in omegas])
    np.testing.assert_allclose(se3.so3_exp_batch(omegas), expected, rtol=0, atol=1e-15)
    assert np.array_equal(se3.so3_exp_batch(np.zeros(3)), np.eye(3))  # exactly, not nearly


def test_so3_log_batch_matches_so3_log_near_0_and_near_pi():
    rots = np.stack([se3.so3_exp(w) for w in rotation_vectors()])
    expected = np.stack([se3.so3_log(r) for r in rots])
    np.testing.assert_allclose(se3.so3_log_batch(rots), expected, rtol=0, atol=1e-13)
    assert np.array_equal(se3.so3_log_batch(np.eye(3)), np.zeros(3))


def test_so3_log_batch_at_exactly_pi_reads_the_axis_like_so3_log():
    rots = np.stack([se3.so3_exp(np.pi * axis) for axis in (np.eye(3)[0], np.eye(3)[2], np.array([0.6, 0.0, 0.8]))])
    logs = se3.so3_log_batch(rots)
    np.testing.assert_allclose(logs, [se3.so3_log(r) for r in rots], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(logs, axis=1), np.pi, atol=1e-12)


def test_batch_functions_keep_leading_dimensions():
    omegas = rng.normal(size=(2, 5, 3))
    rots = se3.so3_exp_batch(omegas)
    assert rots.shape == (2, 5, 3, 3)
    np.testing.assert_allclose(rots[1, 3], se3.so3_exp(omegas[1, 3]), atol=1e-15)
    assert se3.so3_log_batch(rots).shape == (2, 5, 3)
    assert se3.matrix_to_quat_batch(rots).shape == (2, 5, 4)
    np.testing.assert_allclose(se3.so3_log_batch(rots[:, :0]), np.zeros((2, 0, 3)))


def test_matrix_to_quat_batch_matches_matrix_to_quat_up_to_the_sign_at_pi():
    rots = np.stack([se3.so3_exp(w) for w in rotation_vectors()])
    got = se3.matrix_to_quat_batch(rots)
    expected = np.stack([se3.matrix_to_quat(r) for r in rots])
    assert np.all(got[:, 3] >= 0)
    # At exactly pi, w = 0 and q, −q are the same rotation; everywhere else the sign is fixed by w > 0.
    np.testing.assert_allclose(np.abs(np.einsum("ij,ij->i", got, expected)), 1.0, atol=1e-14)
    np.testing.assert_allclose(se3.quat_to_matrix(got), rots, atol=1e-14)


def test_quat_to_matrix_normalises_and_follows_the_ros_convention():
    q = rng.normal(size=(6, 4))
    x, y, z, w = (q / np.linalg.norm(q, axis=1, keepdims=True)).T
    expected = np.stack([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]).transpose(2, 0, 1)
    np.testing.assert_allclose(se3.quat_to_matrix(q), expected, atol=1e-15)
    np.testing.assert_allclose(se3.quat_to_matrix([0.0, 0.0, np.sin(0.5), np.cos(0.5)]), se3.so3_exp([0, 0, 1.0]),
                               atol=1e-15)


def test_slerp_and_pose_interpolation_batches_match_the_single_versions():
    n = 12
    r0 = np.stack([random_rotation() for _ in range(n)])
    r1 = np.stack([random_rotation() for _ in range(n)])
    s = rng.uniform(size=n)
    expected = np.stack([se3.slerp_matrix(a, b, x) for a, b, x in zip(r0, r1, s)])
    np.testing.assert_allclose(se3.slerp_matrix_batch(r0, r1, s), expected, atol=1e-14)
    t0 = np.stack([se3.make_transform(r, rng.normal(size=3)) for r in r0])
    t1 = np.stack([se3.make_transform(r, rng.normal(size=3)) for r in r1])
    expected = np.stack([se3.interpolate_pose(a, b, 0.3) for a, b in zip(t0, t1)])
    np.testing.assert_allclose(se3.interpolate_pose_batch(t0, t1, 0.3), expected, atol=1e-14)
    np.testing.assert_array_equal(se3.interpolate_pose_batch(t0, t1, 0.0), t0)  # exactly the start


def test_slerp_batch_near_0_and_near_pi_apart():
    r0 = np.stack([random_rotation() for _ in HARD_ANGLES])
    rel = np.stack([se3.so3_exp(a * np.array([0.0, 0.6, 0.8])) for a in HARD_ANGLES])
    r1 = r0 @ rel
    got = se3.slerp_matrix_batch(r0, r1, 0.25)
    expected = np.stack([se3.slerp_matrix(a, b, 0.25) for a, b in zip(r0, r1)])
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_weighted_mean_rotation_batch_matches_the_single_version():
    sets = np.stack([np.stack([se3.so3_exp(0.3 * rng.normal(size=3)) for _ in range(7)]) for _ in range(3)])
    w = rng.uniform(0.1, 1.0, size=7)
    got = se3.weighted_mean_rotation_batch(sets, w, iterations=2)
    expected = np.stack([se3.weighted_mean_rotation(r, w, iterations=2) for r in sets])
    np.testing.assert_allclose(got, expected, atol=1e-14)
    per_set = rng.uniform(0.1, 1.0, size=(3, 7))  # one set of weights per mean
    got = se3.weighted_mean_rotation_batch(sets, per_set)
    np.testing.assert_allclose(got, [se3.weighted_mean_rotation(r, x) for r, x in zip(sets, per_set)], atol=1e-14)


def test_quaternion_slerp_is_the_matrix_geodesic():
    r0 = np.stack([random_rotation() for _ in range(10)])
    r1 = np.stack([random_rotation() for _ in range(10)])
    s = np.linspace(0.0, 1.0, 10)
    q = se3.quat_slerp_batch(se3.matrix_to_quat_batch(r0), -se3.matrix_to_quat_batch(r1), s)  # either sign of q1
    np.testing.assert_allclose(se3.quat_to_matrix(q), se3.slerp_matrix_batch(r0, r1, s), atol=1e-13)
    same = se3.quat_slerp_batch(se3.matrix_to_quat_batch(r0), se3.matrix_to_quat_batch(r0), 0.4)
    np.testing.assert_allclose(same, se3.matrix_to_quat_batch(r0), atol=1e-15)  # zero angle: no 0/0


def test_quat_slerp_chain_is_a_sequence_of_geodesic_blends():
    n, rotations_per_step = 6, 3
    rots = np.stack([[se3.so3_exp(0.8 * rng.normal(size=3)) for _ in range(rotations_per_step)] for _ in range(n)])
    fractions = [0.3, 0.0, 1e-9, 0.7, 1.0]
    expected = rots[0]
    for r, f in zip(rots[1:], fractions):
        expected = se3.slerp_matrix_batch(expected, r, f)
    got = se3.quat_slerp_chain(se3.matrix_to_quat_batch(rots), fractions)
    assert got.shape == (rotations_per_step, 4)
    np.testing.assert_allclose(se3.quat_to_matrix(got), expected, atol=1e-13)


def test_quat_slerp_chain_gives_the_same_for_few_and_many_rotations_per_step():
    # Few rotations per step run on Python floats, many on numpy: the two must agree.
    quats = se3.matrix_to_quat_batch(np.stack([[random_rotation() for _ in range(12)] for _ in range(5)]))
    fractions = [0.2, 0.9, 0.5, 0.05]
    many = se3.quat_slerp_chain(quats, fractions)
    few = np.concatenate([se3.quat_slerp_chain(quats[:, i : i + 2], fractions) for i in range(0, 12, 2)])
    np.testing.assert_allclose(few, many, atol=1e-14)
    with pytest.raises(ValueError, match="5 quaternions need 4 fractions, got 2"):
        se3.quat_slerp_chain(quats, [0.1, 0.2])


def test_quat_multiply_batch_composes_rotations_like_matrix_products():
    a = se3.matrix_to_quat_batch(np.stack([random_rotation() for _ in range(8)]))
    b = se3.matrix_to_quat_batch(np.stack([random_rotation() for _ in range(8)]))
    np.testing.assert_allclose(se3.quat_to_matrix(se3.quat_multiply_batch(a, b)),
                               se3.quat_to_matrix(a) @ se3.quat_to_matrix(b), atol=1e-14)
    np.testing.assert_array_equal(se3.quat_multiply_batch(a, [0.0, 0.0, 0.0, 1.0]), a)  # identity: exact
