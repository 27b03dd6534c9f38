"""The hand-written rotation math on the per-tick path, held against Pinocchio's as an oracle.

``se3`` keeps its own batch rotations and slerp because the smoother and the IK call them every
tick on many poses at once (Pinocchio's are one rotation per call); these specs make sure they
compute the same thing, including near 0 and near pi, where hand-written formulas usually fail.
"""

from __future__ import annotations

import numpy as np
import pinocchio as pin
import pytest

from egoscale_ros.kinematics import se3

RNG = np.random.default_rng(42)


def random_rotvecs(n: int) -> np.ndarray:
    axes = RNG.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.concatenate([[0.0, 1e-9, 1e-5, np.pi - 1e-6, np.pi - 1e-3], RNG.uniform(0, np.pi, n - 5)])
    return axes * angles[:, None]


ROTVECS = random_rotvecs(60)


def oracle_quat(rot: np.ndarray) -> np.ndarray:
    q = pin.Quaternion(rot).coeffs().copy()  # x, y, z, w
    return q if q[3] >= 0 else -q


def test_exp_and_log_agree_with_pinocchio():
    ours = se3.so3_exp_batch(ROTVECS)
    for w, r in zip(ROTVECS, ours):
        np.testing.assert_allclose(r, pin.exp3(w), atol=1e-12)
        np.testing.assert_allclose(se3.so3_exp(w), pin.exp3(w), atol=1e-12)
    for r, w in zip(ours, se3.so3_log_batch(ours)):
        np.testing.assert_allclose(se3.so3_exp(w), r, atol=1e-9)  # same rotation (log is 2pi-ambiguous at pi)
        if np.linalg.norm(w) < np.pi - 1e-2:
            np.testing.assert_allclose(w, pin.log3(r), atol=1e-9)


def test_quaternions_agree_with_pinocchio_up_to_sign():
    rots = se3.so3_exp_batch(ROTVECS)
    ours = se3.matrix_to_quat_batch(rots)
    for q, r in zip(ours, rots):
        expected = oracle_quat(r)
        assert min(np.abs(q - expected).max(), np.abs(q + expected).max()) < 1e-9
        np.testing.assert_allclose(se3.quat_to_matrix(q), r, atol=1e-9)


@pytest.mark.parametrize("s", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_slerp_agrees_with_pinocchio(s):
    r0 = se3.so3_exp_batch(ROTVECS[:-1])
    r1 = se3.so3_exp_batch(ROTVECS[1:])
    by_matrix = se3.slerp_matrix_batch(r0, r1, s)
    by_quat = se3.quat_slerp_batch(se3.matrix_to_quat_batch(r0), se3.matrix_to_quat_batch(r1), s)
    for a, b, m, q in zip(r0, r1, by_matrix, by_quat):
        if se3.rotation_angle(a.T @ b) > np.pi - 1e-3:
            continue  # two shortest arcs: any choice is right
        expected = pin.Quaternion(a).slerp(s, pin.Quaternion(b)).toRotationMatrix()
        np.testing.assert_allclose(m, expected, atol=1e-9)
        np.testing.assert_allclose(se3.quat_to_matrix(q), expected, atol=1e-9)
        np.testing.assert_allclose(se3.slerp_matrix(a, b, s), expected, atol=1e-9)


def test_rotation_angle_and_pose_error_agree_with_pinocchio_near_zero_and_pi():
    rots = se3.so3_exp_batch(ROTVECS)
    for r in rots:
        expected = float(np.linalg.norm(pin.log3(r)))
        assert se3.rotation_angle(r) == pytest.approx(expected, abs=1e-12 + 1e-9 * expected)
    a = se3.make_transform(rots[7], np.array([0.1, 0.2, 0.3]))
    b = se3.make_transform(rots[7] @ pin.exp3(np.array([0.0, 0.0, 1e-7])), np.array([0.1, 0.2, 0.3 + 1e-3]))
    dp, dr = se3.pose_error(a, b)
    assert dp == pytest.approx(1e-3) and dr == pytest.approx(1e-7, rel=1e-6)  # arccos of the trace gives ~1e-8 noise
