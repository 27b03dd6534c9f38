"""Reference arm IK: the same problem as a bounded nonlinear least squares solved by IPOPT.

    min_q  w_p² ‖p(q) − p*‖² + w_o² ½‖R(q) − R*‖²_F + ρ ‖q − q_rest‖²   s.t.  lower ≤ q ≤ upper

Forward kinematics is the CasADi expression built from the chain's placements and axes
(``kinematics.casadi_fk``); the placements are NLP parameters, so the solver object is built once
and stays exact when locked joints move. ``½‖R − R*‖²_F = 2(1 − cos θ) ≈ θ²`` is the smooth
counterpart of the rotation error. ``ρ`` defaults to a negligible value: a regularisation large
enough to speed IPOPT up (as in common teleoperation IK) biases the answer by millimetres.
For arms that put position first, the orientation term is scaled down by 1e-3.

Slower than :class:`~egoscale_ros.ik.dls.DlsSolver` by an order of magnitude; kept as a reference
and as an option. Imports casadi: import this module only where it is used.
"""

from __future__ import annotations

import casadi as ca
import numpy as np

from egoscale_ros.ik.multistart import MultiStart
from egoscale_ros.ik.problem import IkResult, IkTask, check_target, finalize
from egoscale_ros.kinematics.casadi_fk import fk_expression, placement_parameters
from egoscale_ros.kinematics.chain import ArmChain


class CasadiSolver:
    """CasADi/IPOPT IK for one arm chain, with the same restart strategy (and optional restart
    time budget) as the main solver."""

    name = "casadi"

    def __init__(
        self,
        chain: ArmChain,
        task: IkTask,
        restarts: int = 16,
        regularization: float = 1e-9,
        max_iterations: int = 200,
        tolerance: float = 1e-8,
        seed: int = 0,
        time_budget_s: float | None = None,
        continuity: bool = False,
    ):
        self.chain, self.task = chain, task
        self.multistart = MultiStart(chain, task, restarts, seed, time_budget_s, continuity)
        n = chain.n
        q = ca.SX.sym("q", n)
        t_pos, t_rot = ca.SX.sym("t_pos", 3), ca.SX.sym("t_rot", 9)  # t_rot row-major
        rest = ca.SX.sym("rest", n)
        placements = ca.SX.sym("placements", 12 * (n + 1))
        rot, pos = fk_expression(chain.motions, q, placements)
        dp = pos - t_pos
        cost = task.position_weight**2 * ca.sumsqr(dp)
        if task.uses_orientation:
            w_o = task.orientation_weight**2 * (1e-3 if task.position_first else 1.0)
            cost += w_o * 0.5 * ca.sumsqr(ca.reshape(rot.T, 9, 1) - t_rot)
        cost += regularization * ca.sumsqr(q - rest)
        nlp = {"x": q, "p": ca.vertcat(t_pos, t_rot, rest, placements), "f": cost}
        options = {
            "print_time": False,
            "ipopt": {
                "print_level": 0,
                "sb": "yes",
                "max_iter": max_iterations,
                "tol": tolerance,
                "mu_strategy": "adaptive",
                # Start close to the solution: a small barrier and no push away from the bounds
                # (IPOPT's defaults cost 70+ iterations from a seed next to the answer).
                "mu_init": 1e-6,
                "warm_start_init_point": "yes",
                "bound_push": 1e-9,
                "bound_frac": 1e-9,
                "warm_start_bound_push": 1e-9,
                "warm_start_mult_bound_push": 1e-9,
            },
        }
        self._nlp = ca.nlpsol("arm_ik", "ipopt", nlp, options)
        self._lbx = np.where(np.isfinite(chain.lower), chain.lower, -1e19)
        self._ubx = np.where(np.isfinite(chain.upper), chain.upper, 1e19)
        self._rest = np.asarray(task.rest_pose, dtype=float)
        self.last_ipopt_iterations = 0

    def solve(self, target: np.ndarray, seed: np.ndarray) -> IkResult:
        """Same contract as :meth:`DlsSolver.solve`."""
        target = check_target(target)
        params = np.concatenate(
            [target[:3, 3], target[:3, :3].ravel(), self._rest, placement_parameters(self.chain)]
        )
        return self.multistart.run(lambda q0: self._descend(target, params, q0), seed)

    def _descend(self, target: np.ndarray, params: np.ndarray, q0: np.ndarray) -> IkResult:
        sol = self._nlp(x0=q0, p=params, lbx=self._lbx, ubx=self._ubx)
        iterations = int(self._nlp.stats().get("iter_count", 0))
        self.last_ipopt_iterations = iterations
        q = np.asarray(sol["x"], dtype=float).ravel()
        return finalize(self.chain, self.task, q, target, iterations, 1)
