"""The main arm IK solver: damped least squares (Levenberg–Marquardt) on the pose error.

Each iteration linearises the end-effector pose with the chain's Jacobian (Pinocchio, C++) and
solves the damped normal equations for a joint step:

    (Jᵀ W J + λ I) Δq = Jᵀ W e + λ μ (q_rest − q)

``e`` is the position error and the rotation vector ``log(R_target Rᵀ)``, both in base-frame axes;
``W`` weights position and orientation. The damping ``λ`` shrinks with the squared error
(Sugihara's error-damped LM), so the step is Gauss–Newton near the target — exact, quadratic
convergence — and cautious far from it or near singularities.

Posture: the rest-pose term is scaled by ``λ``. In the task's row space it vanishes with the error
(no bias on the answer); in the task's null space ``λ (JᵀWJ + λI)⁻¹`` is the projector onto that
null space, so a redundant arm moves toward the rest pose without disturbing the end effector.
That step is taken once per descent (the first iteration, bounded by ``max_posture_step``): a
null-space step is exact only to first order, and repeating it every iteration would keep
re-opening the error that the Gauss–Newton steps close. Warm-started solves across control ticks
therefore drift toward the rest pose at a bounded rate.

Joint limits: a step that would leave the limits is clamped there and the remaining joints are
re-solved with the clamped ones fixed (an active set, a few passes), so every iterate is within
the limits. Arms with fewer than six joints put position first: orientation is solved in the null
space of the position task.

Speed: the loop is written for few Python-level operations per iteration (a warm solve is 2–3
iterations); the chain model holds only the arm's joints.
"""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin

from egoscale_ros.ik.multistart import MultiStart
from egoscale_ros.ik.problem import IkResult, IkTask, check_target, reached
from egoscale_ros.kinematics.chain import ArmChain

try:  # The gufunc behind np.linalg.solve without its per-call checks: ~4x faster on 7×7 systems.
    from numpy.linalg._umath_linalg import solve1 as _solve
except ImportError:  # pragma: no cover - other numpy builds
    _solve = np.linalg.solve

_LWA = pin.ReferenceFrame.LOCAL_WORLD_ALIGNED


class DlsSolver:
    """Damped least-squares IK for one arm chain, with restarts on failure (see ``multistart``).

    ``max_iterations`` bounds each descent; a descent also stops when its error has not improved
    for ``patience`` iterations (a local minimum: better to restart). ``restarts`` bounds the extra
    descents after a failed one. ``posture_gain`` is the fraction of the way to the rest pose taken
    in the null space per solve (scaled by the task's posture weight relative to its default 1e-3),
    at most ``max_posture_step`` rad per joint. ``max_step`` bounds one iteration's step (rad).
    ``time_budget_s`` (optional, for control loops) stops restarting once a solve took that long;
    ``continuity`` keeps the seed's own descent unless a restart reaches the target.
    """

    name = "dls"

    def __init__(
        self,
        chain: ArmChain,
        task: IkTask,
        max_iterations: int = 40,
        restarts: int = 16,
        damping: float = 1.0,
        min_damping: float = 1e-10,
        max_step: float = 0.4,
        posture_gain: float = 0.05,
        max_posture_step: float = 0.02,
        patience: int = 6,
        seed: int = 0,
        time_budget_s: float | None = None,
        continuity: bool = False,
    ):
        self.chain, self.task = chain, task
        self.max_iterations, self.max_step, self.patience = max_iterations, max_step, patience
        self.damping, self.min_damping = damping, min_damping
        self.posture_gain = min(1.0, posture_gain * task.posture_weight / 1e-3)
        self.max_posture_step = max_posture_step
        self.multistart = MultiStart(chain, task, restarts, seed, time_budget_s, continuity)
        n = chain.n
        self._zeros, self._eye = np.zeros(n), np.eye(n)
        self._rest = np.asarray(task.rest_pose, dtype=float)
        if self._rest.shape != (n,):
            raise ValueError(f"rest_pose has {self._rest.size} values, the arm has {n} joints")
        self._prioritised = task.uses_orientation and task.position_first
        if task.uses_orientation and not self._prioritised:
            self._w = np.array([task.position_weight] * 3 + [task.orientation_weight] * 3)
        else:
            self._w = np.full(3, task.position_weight)
        self._wcol = self._w[:, None]

    def solve(self, target: np.ndarray, seed: np.ndarray) -> IkResult:
        """Joint positions that bring the end effector to ``target`` (4×4, base frame), starting
        at ``seed``. Never raises on an unreachable target: returns the best found within the
        limits, ``converged`` False."""
        target = check_target(target)
        return self.multistart.run(lambda q0: self._descend(target, q0), seed)

    # -- one local descent ---------------------------------------------------------------------

    def _descend(self, target: np.ndarray, q: np.ndarray) -> IkResult:
        task = self.task
        orient = task.uses_orientation
        q, ep2, eo2, iterations, exact = self._iterate(target, q, orient, self._prioritised, self._w)
        if self._prioritised and ep2 >= task.position_tolerance**2:
            # Orientation steps in the position task's null space are exact only to first order:
            # finish with position alone (small minimum-norm steps that barely turn the hand).
            q, ep2, eo2, more, exact = self._iterate(target, q, False, False, self._w[:3], polish=True)
            iterations += more
        pe = math.sqrt(ep2)
        if exact and orient:
            re = math.sqrt(eo2)
        else:
            re = float(np.linalg.norm(pin.log3(self.chain.fk(q)[:3, :3].T @ target[:3, :3])))
        return IkResult(q, pe, re, reached(task, pe, re), iterations, 1)

    def _iterate(self, target, q, orient: bool, prioritised: bool, w: np.ndarray, polish: bool = False):
        """Iterate from ``q``; returns the best iterate ``(q, ‖e_p‖², ‖e_o‖², iterations, exact)``
        (``exact``: the errors were measured at that ``q``, orientation included when ``orient``)."""
        chain, task = self.chain, self.task
        model, data, fid = chain.model, chain.data, chain.ee_frame_id
        lo, hi, wcol = chain.lower, chain.upper, w[:, None]
        t_rot, t_pos = target[:3, :3], target[:3, 3]
        tol_p2, tol_r2 = task.position_tolerance**2, task.rotation_tolerance**2
        wp2, wo2 = task.position_weight**2, (task.orientation_weight**2 if orient else 0.0)
        max_step2, damping, min_damping = self.max_step**2, self.damping, self.min_damping
        diag = slice(None, None, chain.n + 1)
        log3, jacobian, concat = pin.log3, pin.computeFrameJacobian, np.concatenate
        best = (math.inf, q, math.inf, math.inf)  # cost, q, position error², rotation error²
        stalled, it = 0, 0
        max_iterations = 10 if polish else self.max_iterations
        for it in range(1, max_iterations + 1):
            jac = jacobian(model, data, q, fid, _LWA)
            placement = data.oMf[fid]
            ep = t_pos - placement.translation
            ep2 = ep @ ep
            if orient:
                eo = log3(t_rot @ placement.rotation.T)
                eo2 = eo @ eo
            else:
                eo, eo2 = None, 0.0
            if ep2 < tol_p2 and eo2 < tol_r2:
                best = (0.0, q, ep2, eo2)
                break
            cost = wp2 * ep2 + wo2 * eo2
            if cost < 0.999 * best[0]:
                best, stalled = (cost, q, ep2, eo2), 0
            else:
                stalled += 1
                if stalled >= self.patience:
                    break
            if prioritised:
                dq = self._prioritised_step(jac, ep, eo, ep2)
            else:
                e = concat((ep, eo)) * w if orient else ep * w
                jw = (jac if orient else jac[:3]) * wcol
                lam = damping * (e @ e) + min_damping
                a = jw.T @ jw
                a.flat[diag] += lam
                post = self._posture(q, lam) if it == 1 and not polish else self._zeros
                dq = _solve(a, jw.T @ e + post)
                q_new = q + dq
                clipped = np.minimum(np.maximum(q_new, lo), hi)
                if (clipped != q_new).any():
                    dq = self._active_set(jw, e, q, lam, post, clipped != q_new, clipped)
            step2 = dq @ dq
            if not step2 < 1e300:  # NaN or inf: a numerically singular step, stop here
                break
            if step2 > max_step2:
                dq *= math.sqrt(max_step2 / step2)
            q = np.minimum(np.maximum(q + dq, lo), hi)
            if step2 < 1e-20:
                break
        else:
            # Out of iterations: the last step's landing point may beat the best iterate seen.
            pose = chain.fk(q)
            ep = t_pos - pose[:3, 3]
            eo = log3(t_rot @ pose[:3, :3].T)
            if wp2 * (ep @ ep) + wo2 * (eo @ eo) <= best[0]:
                return q, ep @ ep, eo @ eo, it, True
        return best[1], best[2], best[3], it, orient

    def _posture(self, q: np.ndarray, lam: float) -> np.ndarray:
        if self.posture_gain <= 0:
            return self._zeros
        toward_rest = self.posture_gain * (self._rest - q)
        big = np.abs(toward_rest).max()
        if big > self.max_posture_step:
            toward_rest *= self.max_posture_step / big
        return lam * toward_rest

    def _active_set(self, jw, e, q, lam, post, out, clipped) -> np.ndarray:
        """Step with the joints in ``out`` held at the limit they would cross, the rest re-solved."""
        lo, hi = self.chain.lower, self.chain.upper
        dq = np.zeros_like(q)
        for _ in range(3):
            free = ~out
            dq = np.where(out, clipped - q, 0.0)
            if not free.any():
                return dq
            jf = jw[:, free]
            af = jf.T @ jf
            af.flat[:: af.shape[0] + 1] += lam
            dq[free] = _solve(af, jf.T @ (e - jw @ dq) + post[free])
            q_new = q + dq
            clipped = np.minimum(np.maximum(q_new, lo), hi)
            newly = clipped != q_new
            if not newly.any():
                break
            out = out | newly
        return dq

    def _prioritised_step(self, jac, ep, eo, ep2) -> np.ndarray:
        """Position first; orientation within the null space of the position task."""
        jp, jo = jac[:3], jac[3:]
        lam1 = self.damping * ep2 + self.min_damping
        a1_inv = np.linalg.inv(jp.T @ jp + lam1 * self._eye)
        dq1 = a1_inv @ (jp.T @ ep)
        null = lam1 * a1_inv
        m = jo @ null
        r = eo - jo @ dq1
        lam2 = self.damping * (r @ r) * self.task.orientation_weight**2 + self.min_damping
        z = np.linalg.solve(m.T @ m + lam2 * self._eye, m.T @ r)
        return dq1 + null @ z
