"""geometry_msgs/Transform <-> 4x4 homogeneous matrices, one at a time or a trajectory in one batch."""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Transform

from egoscale_ros.kinematics import se3

# joint_names of wrist chunks and targets -> arm side
SIDE_OF_WRIST = {"left_wrist": "left", "right_wrist": "right"}


def transform_to_matrix(msg: Transform) -> np.ndarray:
    q = msg.rotation
    t = msg.translation
    return se3.make_transform(se3.quat_to_matrix(np.array([q.x, q.y, q.z, q.w])), np.array([t.x, t.y, t.z]))


def transforms_to_matrices(points: list, per_point: int) -> np.ndarray:
    """``(len(points), per_point, 4, 4)`` poses of MultiDOFJointTrajectory points, in one batch.

    Raises ValueError when a point does not carry ``per_point`` transforms.
    """
    rows = []
    for k, p in enumerate(points):
        if len(p.transforms) != per_point:
            raise ValueError(f"point {k} carries {len(p.transforms)} transforms for {per_point} joints")
        rows.append([(t.translation.x, t.translation.y, t.translation.z,
                      t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w) for t in p.transforms])
    values = np.array(rows, dtype=float).reshape(len(points), per_point, 7)
    poses = np.zeros((len(points), per_point, 4, 4))
    poses[..., :3, :3] = se3.quat_to_matrix(values[..., 3:])
    poses[..., :3, 3] = values[..., :3]
    poses[..., 3, 3] = 1.0
    return poses


def matrix_to_transform(m: np.ndarray) -> Transform:
    msg = Transform()
    msg.translation.x, msg.translation.y, msg.translation.z = (float(v) for v in m[:3, 3])
    q = se3.matrix_to_quat(m[:3, :3])
    msg.rotation.x, msg.rotation.y, msg.rotation.z, msg.rotation.w = (float(v) for v in q)
    return msg
