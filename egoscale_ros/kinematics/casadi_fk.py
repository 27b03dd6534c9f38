"""CasADi expressions of an arm chain's forward kinematics, built from its Pinocchio model.

The ``pin`` wheel has no ``pinocchio.casadi``; the chain's joint placements and joint axes are all
that forward kinematics needs, so the expression is assembled here from those: for each joint, the
constant placement followed by the joint motion (Rodrigues rotation about the axis, or a
translation along it), then the end-effector placement. The placements enter as *parameters*, so
one compiled function stays exact when locked joints (waist, torso) move.

Import cost: this module imports casadi; import it only where CasADi is used.
"""

from __future__ import annotations

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


def _motion(motion: JointMotion, qk):
    """Rotation and translation of one joint's motion for position ``qk``."""
    axis = motion.axis
    if motion.kind == "prismatic":
        return ca.SX.eye(3), ca.DM(axis) * qk
    k = ca.DM([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return ca.SX.eye(3) + ca.sin(qk) * k + (1.0 - ca.cos(qk)) * (k @ k), ca.SX.zeros(3, 1)


def fk_expression(motions: tuple[JointMotion, ...], q, params) -> tuple:
    """``(R, p)`` of the end effector in the base frame as CasADi expressions of ``q`` and the
    flattened placements ``params``."""
    rot, pos = ca.SX.eye(3), ca.SX.zeros(3, 1)
    for k, motion in enumerate(motions):
        p_rot, p_pos = _unpack(params, k)
        pos = pos + rot @ p_pos
        rot = rot @ p_rot
        m_rot, m_pos = _motion(motion, q[k])
        pos = pos + rot @ m_pos
        rot = rot @ m_rot
    e_rot, e_pos = _unpack(params, len(motions))
    return rot @ e_rot, pos + rot @ e_pos


def chain_fk_function(chain: ArmChain) -> ca.Function:
    """``fk(q, placements) -> (R 3×3, p 3×1)`` for ``chain`` (placements from
    :func:`placement_parameters`)."""
    q = ca.SX.sym("q", chain.n)
    params = ca.SX.sym("placements", _PLACEMENT_SIZE * (chain.n + 1))
    rot, pos = fk_expression(chain.motions, q, params)
    return ca.Function("fk", [q, params], [rot, pos], ["q", "placements"], ["R", "p"])
