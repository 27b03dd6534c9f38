"""A chunk's per-step tables, computed once when it arrives, so that reading it at a tick is a lookup.

Between steps ``k`` and ``k+1`` a wrist moves linearly in translation and along the rotation
geodesic ``R(s) = R_k · exp(s·ω_k)``, ``ω_k = log(R_kᵀ R_{k+1}) = θ_k·a_k``, ``s ∈ [0, 1)``.
Written out (Rodrigues, ``K_k`` the cross-product matrix of the unit axis ``a_k``):

    R(s) = R_k + sin(sθ_k)·R_k K_k + (1 − cos(sθ_k))·R_k K_k²

and as a unit quaternion (``q_k`` of ``R_k``, ``p_k = q_k ⊗ (a_k, 0)``):

    q(s) = q_k ⊗ (sin(sθ_k/2)·a_k, cos(sθ_k/2)) = cos(sθ_k/2)·q_k + sin(sθ_k/2)·p_k.

Everything but the sines and cosines of ``s·θ_k`` belongs to step ``k`` and not to the time, so
it is tabulated here: a reading is then a few coefficients times one row of a table.

* :attr:`StepTables.pose` ``(H, 2 + 2W, 16W + Dₕ)``: per step the basis of a reading as 4×4
  poses then hand joints; coefficients ``(1, s, sin(sθ_1), 1 − cos(sθ_1), …)`` — the step, its
  change to the next step (translations and hand joints), then per wrist ``R_k K_k`` and ``R_k K_k²``.
* :attr:`StepTables.quat` ``(H, 9W + 2D)``: per step ``θ_k/2`` (W), ``q_k`` (4W), ``p_k`` (4W),
  the linear parts (``D = 3W + Dₕ``: translations, then hand joints) and their change to the next
  step; the columns are named by :func:`quat_columns`. A reading's coefficients are
  ``(cos(sθ_1/2), …, sin(sθ_1/2), …, 1, s)`` for the ``q``, ``p``, linear and change columns.

The last step has no successor: its step rotation and changes are zero, so a reading at the last
step's due time (``s = 0``) is that step exactly, as it is at every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from egoscale_ros.kinematics import se3


@dataclass(frozen=True)
class QuatColumns:
    """Where each part of a step lies in a row of :attr:`StepTables.quat`, for W wrists."""

    half_angle: slice  #: W halves of the step angles θ_k/2
    quat: slice  #: W rotations as unit quaternions (x, y, z, w), w >= 0 at step 0, then each step's
    #: in the hemisphere of the step before (q_k · q_{k+1} >= 0): readings of a chunk never flip sign
    quat_turned: slice  #: W quaternions p_k = q_k ⊗ (a_k, 0)
    linear: slice  #: the linear parts: W translations (3 each), then the hand joints
    linear_change: slice  #: the linear parts' change to the next step


@cache
def quat_columns(n_wrist: int, n_linear: int) -> QuatColumns:
    """Column slices of :attr:`StepTables.quat` for ``n_wrist`` wrists and ``n_linear`` linear parts."""
    w, d = n_wrist, n_linear
    return QuatColumns(slice(0, w), slice(w, 5 * w), slice(5 * w, 9 * w), slice(9 * w, 9 * w + d),
                       slice(9 * w + d, 9 * w + 2 * d))


@dataclass(frozen=True)
class StepTables:
    """The tables of one chunk (read-only arrays); see the module's docstring."""

    pose: np.ndarray
    quat: np.ndarray
    half_angles: np.ndarray  #: (H, W): θ_k/2
    linear_steps: np.ndarray  #: (H, 2D): per step the linear parts, then their change to the next step
    #: per step, the W step angles θ_k as Python floats (a single reading takes their sines in Python)
    angles: tuple[tuple[float, ...], ...]
    #: per step and wrist, ``(θ_k/2, q_k, p_k)`` as 9 Python floats, for mixing a few readings on floats
    rotation_floats: tuple[tuple[tuple[float, ...], ...], ...]
    columns: QuatColumns


def build_step_tables(rotations: np.ndarray, translations: np.ndarray, step_rotvecs: np.ndarray,
                      hands: Sequence[np.ndarray]) -> StepTables:
    """Tables of a chunk from its W wrists' rotations ``(H, W, 3, 3)``, translations ``(H, W, 3)``,
    step rotation vectors ``(H−1, W, 3)`` (step ``k`` to ``k+1`` in step ``k``'s frame) and hands
    ``(H, n)`` each, all in layout order."""
    h, n_wrist = rotations.shape[:2]
    hand = np.concatenate([np.asarray(a, dtype=float).reshape(h, -1) for a in hands], axis=1) if hands \
        else np.zeros((h, 0))
    n_hand = hand.shape[1]
    omega = np.zeros((h, n_wrist, 3))  # zero after the last step
    omega[: h - 1] = step_rotvecs
    theta = np.sqrt(np.einsum("...i,...i->...", omega, omega))
    axis = np.divide(omega, theta[..., None], out=np.zeros_like(omega), where=theta[..., None] > 0)
    cross = np.zeros((h, n_wrist, 3, 3))
    cross[..., 0, 1], cross[..., 0, 2], cross[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    cross[..., 1, 0], cross[..., 2, 0], cross[..., 2, 1] = axis[..., 2], -axis[..., 1], axis[..., 0]
    turn = rotations @ cross

    linear = np.concatenate([translations.reshape(h, 3 * n_wrist), hand], axis=1)
    change = np.zeros_like(linear)
    change[: h - 1] = linear[1:] - linear[:-1]

    width = 16 * n_wrist + n_hand
    pose = np.zeros((h, 2 + 2 * n_wrist, width))
    base = np.zeros((h, n_wrist, 4, 4))
    base[..., :3, :3] = rotations
    base[..., :3, 3] = translations
    base[..., 3, 3] = 1.0
    pose[:, 0, : 16 * n_wrist] = base.reshape(h, -1)
    pose[:, 0, 16 * n_wrist :] = hand
    moved = np.zeros((h, n_wrist, 4, 4))
    moved[..., :3, 3] = change[:, : 3 * n_wrist].reshape(h, n_wrist, 3)
    pose[:, 1, : 16 * n_wrist] = moved.reshape(h, -1)
    pose[:, 1, 16 * n_wrist :] = change[:, 3 * n_wrist :]
    for i in range(n_wrist):
        block = slice(16 * i, 16 * i + 16)
        sin_part = np.zeros((h, 4, 4))
        sin_part[:, :3, :3] = turn[:, i]
        cos_part = np.zeros((h, 4, 4))
        cos_part[:, :3, :3] = turn[:, i] @ cross[:, i]
        pose[:, 2 + 2 * i, block] = sin_part.reshape(h, 16)
        pose[:, 3 + 2 * i, block] = cos_part.reshape(h, 16)

    quats = se3.matrix_to_quat_batch(rotations) if n_wrist else np.zeros((h, 0, 4))
    if h > 1:  # one sign along the chunk: each step's quaternion in the hemisphere of the step before
        flips = np.where(np.einsum("hwi,hwi->hw", quats[1:], quats[:-1]) < 0.0, -1.0, 1.0)
        quats[1:] *= np.cumprod(flips, axis=0)[..., None]
    turned = se3.quat_multiply_batch(quats, np.concatenate([axis, np.zeros((h, n_wrist, 1))], axis=-1))
    quat = np.concatenate([0.5 * theta, quats.reshape(h, -1), turned.reshape(h, -1), linear, change], axis=1)
    floats = np.concatenate([0.5 * theta[..., None], quats, turned], axis=-1).tolist()  # (H, W, 9)
    return StepTables(_freeze(pose), _freeze(quat), _freeze(0.5 * theta),
                      _freeze(np.concatenate([linear, change], axis=1)),
                      tuple(tuple(row) for row in theta.tolist()),
                      tuple(tuple(tuple(w) for w in step) for step in floats), quat_columns(n_wrist, linear.shape[1]))


def _freeze(arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr
