"""CasADi expressions of forward kinematics, built from a Pinocchio model: the package's one builder.

The ``pin`` wheel has no ``pinocchio.casadi``; joint placements and joint axes are all that forward
kinematics needs, so the expression is assembled here from those (:func:`tree_poses`): for each
joint, its placement in its parent's frame followed by the joint motion (a rotation about the axis,
or a translation along it). An arm chain (:func:`fk_expression`) passes its placements as
*parameters*, so one compiled function stays exact when locked joints (waist, torso) move; a hand
model (``retarget.hand_model``) passes its branching tree with constant placements.

Import cost: this module imports casadi; import it only where CasADi is used.
"""

from __future__ import annotations

from collections.abc import Sequence

import casadi as ca
import numpy as np

from egoscale_ros.kinematics.chain import ArmChain
from egoscale_ros.kinematics.pinocchio_model import JointMotion

_PLACEMENT_SIZE = 12  # rotation (row-major 3×3) then translation


def placement_parameters(chain: ArmChain) -> np.ndarray:
    """The chain's current placements flattened in the layout :func:`chain_fk_function` expects."""
    return np.concatenate([np.concatenate([p[:3, :3].ravel(), p[:3, 3]]) for p in chain.placements()])


def _unpack(params, k: int):
    block = params[k * _PLACEMENT_SIZE : (k + 1) * _PLACEMENT_SIZE]
    rot = ca.reshape(block[:9], 3, 3).T  # reshape is column-major; the layout is row-major
    return rot, block[9:12]


_PRINCIPAL = {0: np.array([1.0, 0.0, 0.0]), 1: np.array([0.0, 1.0, 0.0]), 2: np.array([0.0, 0.0, 1.0])}


def axis_rotation(axis: np.ndarray, angle):
    """Rotation matrix about a unit ``axis`` by ``angle`` (Rodrigues), written out entry by entry
    for the principal axes: most joints turn about one, and it keeps the expression small."""
    c, s = ca.cos(angle), ca.sin(angle)
    if np.allclose(axis, _PRINCIPAL[0]):
        return ca.vertcat(ca.horzcat(1, 0, 0), ca.horzcat(0, c, -s), ca.horzcat(0, s, c))
    if np.allclose(axis, _PRINCIPAL[1]):
        return ca.vertcat(ca.horzcat(c, 0, s), ca.horzcat(0, 1, 0), ca.horzcat(-s, 0, c))
    if np.allclose(axis, _PRINCIPAL[2]):
        return ca.vertcat(ca.horzcat(c, -s, 0), ca.horzcat(s, c, 0), ca.horzcat(0, 0, 1))
    k = ca.DM([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return ca.DM.eye(3) + s * k + (1.0 - c) * (k @ k)


def tree_poses(parents: Sequence[int], placements: Sequence[tuple], motions: Sequence[JointMotion], q: Sequence,
               base: tuple | None = None) -> list[tuple]:
    """``(R, p)`` of every joint's frame after its motion, as CasADi expressions: the one forward
    kinematics of the package, for serial arms and branching hands alike.

    Joint ``k`` sits at ``placements[k]`` (``(R, p)``: numbers or expressions) in the frame of
    joint ``parents[k]`` (``-1``: the base, at ``base`` or the identity), then moves by
    ``q[k]`` along or about ``motions[k]``; a parent comes before its children.
    """
    root = base if base is not None else (ca.DM.eye(3), ca.DM.zeros(3, 1))
    poses: list[tuple] = []
    for k, (parent, (p_rot, p_pos), motion) in enumerate(zip(parents, placements, motions)):
        r_parent, t_parent = poses[parent] if parent >= 0 else root
        rot = r_parent @ p_rot
        pos = t_parent + r_parent @ p_pos
        if motion.kind == "prismatic":
            pos = pos + rot @ ca.DM(motion.axis) * q[k]
        else:
            rot = rot @ axis_rotation(motion.axis, q[k])
        poses.append((rot, pos))
    return poses


def fk_expression(motions: tuple[JointMotion, ...], q, params) -> tuple:
    """``(R, p)`` of the end effector in the base frame as CasADi expressions of ``q`` and the
    flattened placements ``params``."""
    n = len(motions)
    rot, pos = tree_poses(range(-1, n - 1), [_unpack(params, k) for k in range(n)], motions, q,
                          base=(ca.SX.eye(3), ca.SX.zeros(3, 1)))[-1]
    e_rot, e_pos = _unpack(params, n)
    return rot @ e_rot, pos + rot @ e_pos


def chain_fk_function(chain: ArmChain) -> ca.Function:
    """``fk(q, placements) -> (R 3×3, p 3×1)`` for ``chain`` (placements from
    :func:`placement_parameters`)."""
    q = ca.SX.sym("q", chain.n)
    params = ca.SX.sym("placements", _PLACEMENT_SIZE * (chain.n + 1))
    rot, pos = fk_expression(chain.motions, q, params)
    return ca.Function("fk", [q, params], [rot, pos], ["q", "placements"], ["R", "p"])
