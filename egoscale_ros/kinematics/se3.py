"""SE(3)/SO(3) helpers on plain numpy arrays, shared by policy decoding, chunk smoothing and IK.

Conventions: rotations are 3×3 matrices, poses are 4×4 homogeneous transforms ``T_parent_child``,
quaternions are ``(x, y, z, w)`` as in ROS messages, rot6d is the first two *columns* of the
rotation matrix concatenated ``(r11, r21, r31, r12, r22, r32)`` (Zhou et al., CVPR 2019).
Functions accept batches where noted (leading dimensions ``...``).
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def skew(v: np.ndarray) -> np.ndarray:
    """3-vector → 3×3 cross-product matrix."""
    x, y, z = v
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])


def rpy_to_matrix(rpy: np.ndarray) -> np.ndarray:
    """URDF roll-pitch-yaw (fixed axes x, y, z) → rotation matrix ``Rz(yaw) Ry(pitch) Rx(roll)``."""
    r, p, y = (float(a) for a in rpy)
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def matrix_to_rpy(rot: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rpy_to_matrix` (pitch in [-pi/2, pi/2])."""
    pitch = np.arctan2(-rot[2, 0], np.hypot(rot[0, 0], rot[1, 0]))
    roll = np.arctan2(rot[2, 1], rot[2, 2])
    yaw = np.arctan2(rot[1, 0], rot[0, 0])
    return np.array([roll, pitch, yaw])


def make_transform(rot: np.ndarray | None = None, trans: np.ndarray | None = None) -> np.ndarray:
    """Build a 4×4 transform from a rotation matrix and a translation (either may be omitted)."""
    t = np.eye(4)
    if rot is not None:
        t[:3, :3] = rot
    if trans is not None:
        t[:3, 3] = trans
    return t


def transform_from_xyz_rpy(xyz, rpy=(0.0, 0.0, 0.0)) -> np.ndarray:
    """4×4 transform of a URDF-style origin."""
    return make_transform(rpy_to_matrix(np.asarray(rpy, dtype=float)), np.asarray(xyz, dtype=float))


def invert(t: np.ndarray) -> np.ndarray:
    """Inverse of a rigid transform (batched over leading dims)."""
    out = np.zeros_like(t)
    rt = np.swapaxes(t[..., :3, :3], -1, -2)
    out[..., :3, :3] = rt
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", rt, t[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Quaternion ``(x, y, z, w)`` → rotation matrix (normalises; batched)."""
    q = np.asarray(q, dtype=float)
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), _EPS)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    m = np.empty(q.shape[:-1] + (3, 3))
    m[..., 0, 0] = 1 - 2 * (y * y + z * z)
    m[..., 0, 1] = 2 * (x * y - z * w)
    m[..., 0, 2] = 2 * (x * z + y * w)
    m[..., 1, 0] = 2 * (x * y + z * w)
    m[..., 1, 1] = 1 - 2 * (x * x + z * z)
    m[..., 1, 2] = 2 * (y * z - x * w)
    m[..., 2, 0] = 2 * (x * z - y * w)
    m[..., 2, 1] = 2 * (y * z + x * w)
    m[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return m


def matrix_to_quat(rot: np.ndarray) -> np.ndarray:
    """Rotation matrix → unit quaternion ``(x, y, z, w)`` with ``w >= 0`` (single matrix)."""
    m = np.asarray(rot, dtype=float)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = np.array([(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s])
    else:
        i = int(np.argmax([m[0, 0], m[1, 1], m[2, 2]]))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(max(1.0 + m[i, i] - m[j, j] - m[k, k], _EPS))
        q = np.zeros(4)
        q[i] = 0.25 * s
        q[j] = (m[j, i] + m[i, j]) / s
        q[k] = (m[k, i] + m[i, k]) / s
        q[3] = (m[k, j] - m[j, k]) / s
    q /= np.linalg.norm(q)
    return q if q[3] >= 0 else -q


def rot6d_to_matrix(r6: np.ndarray) -> np.ndarray:
    """rot6d (first two columns) → rotation matrix by Gram–Schmidt (batched over leading dims)."""
    r6 = np.asarray(r6, dtype=float)
    a1, a2 = r6[..., 0:3], r6[..., 3:6]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), _EPS)
    a2p = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = a2p / np.maximum(np.linalg.norm(a2p, axis=-1, keepdims=True), _EPS)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


def matrix_to_rot6d(rot: np.ndarray) -> np.ndarray:
    """Rotation matrix → rot6d (batched)."""
    rot = np.asarray(rot, dtype=float)
    return np.concatenate([rot[..., :, 0], rot[..., :, 1]], axis=-1)


def so3_exp(omega: np.ndarray) -> np.ndarray:
    """Rotation vector → rotation matrix (Rodrigues)."""
    omega = np.asarray(omega, dtype=float)
    theta = float(np.linalg.norm(omega))
    k = skew(omega)
    if theta < 1e-8:
        return np.eye(3) + k + 0.5 * k @ k
    return np.eye(3) + np.sin(theta) / theta * k + (1 - np.cos(theta)) / theta**2 * k @ k


def so3_log(rot: np.ndarray) -> np.ndarray:
    """Rotation matrix → rotation vector, accurate near 0 and near pi."""
    r = np.asarray(rot, dtype=float)
    vee = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    sin_theta = 0.5 * float(np.linalg.norm(vee))
    # atan2 keeps full precision at both ends where arccos of the trace loses it.
    theta = float(np.arctan2(sin_theta, 0.5 * (np.trace(r) - 1.0)))
    if theta < 1e-6:
        return 0.5 * vee
    if sin_theta < 1e-9:
        # At pi the antisymmetric part vanishes: read the axis from the symmetric part (≈ a aᵀ).
        b = 0.25 * (r + r.T) + 0.5 * np.eye(3)
        i = int(np.argmax(np.diag(b)))
        axis = b[:, i] / np.linalg.norm(b[:, i])
        return theta * axis
    return theta * vee / (2.0 * sin_theta)


def rotation_angle(rot: np.ndarray) -> float:
    """Angle (rad) of a rotation matrix."""
    return float(np.arccos(np.clip((np.trace(rot) - 1.0) / 2.0, -1.0, 1.0)))


def slerp_matrix(r0: np.ndarray, r1: np.ndarray, s: float) -> np.ndarray:
    """Geodesic interpolation between two rotations, ``s`` in [0, 1]."""
    return r0 @ so3_exp(s * so3_log(r0.T @ r1))


def interpolate_pose(t0: np.ndarray, t1: np.ndarray, s: float) -> np.ndarray:
    """Pose interpolation: linear in translation, geodesic in rotation."""
    return make_transform(slerp_matrix(t0[:3, :3], t1[:3, :3], s), (1 - s) * t0[:3, 3] + s * t1[:3, 3])


def pose_error(current: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Position error (m) and rotation error (rad) between two poses."""
    dp = float(np.linalg.norm(target[:3, 3] - current[:3, 3]))
    return dp, rotation_angle(current[:3, :3].T @ target[:3, :3])


def weighted_mean_rotation(rotations: np.ndarray, weights: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Weighted Karcher mean of rotations (N×3×3), a few Gauss–Newton steps from the heaviest one."""
    weights = np.asarray(weights, dtype=float)
    weights = weights / weights.sum()
    mean = rotations[int(np.argmax(weights))]
    for _ in range(iterations):
        delta = sum(w * so3_log(mean.T @ r) for w, r in zip(weights, rotations))
        mean = mean @ so3_exp(delta)
    return mean
