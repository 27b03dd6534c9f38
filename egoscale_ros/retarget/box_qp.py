"""Small dense box-constrained quadratic programs: min ½ xᵀHx + gᵀx subject to l ≤ x ≤ u.

The Gauss-Newton retargeting solver takes one such step per iteration (H is the Gauss-Newton
Hessian, at most ~22 variables, joint and velocity limits as the box). A primal active-set method
is exact for this size and needs one small linear solve per change of the active set. The caller
may pass the active set of its previous step as a guess: consecutive steps of one solve (and
consecutive frames) mostly keep the same joints at their limits, so the guess is usually right
and the QP costs one solve.
"""

from __future__ import annotations

import numpy as np

# Sign of the active bound per variable: -1 at lower, +1 at upper, 0 free.
ActiveSet = np.ndarray


def solve_box_qp(
    hessian: np.ndarray,
    gradient: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    active_guess: ActiveSet | None = None,
    max_iterations: int | None = None,
    tolerance: float = 1e-14,
) -> tuple[np.ndarray, ActiveSet]:
    """Minimise ½ xᵀHx + gᵀx over the box [lower, upper] (H symmetric positive definite).

    Requires lower ≤ 0 ≤ upper (x = 0, "no step", is feasible), which is how the solver calls it.
    Returns the minimiser (or the best feasible point found within ``max_iterations`` active-set
    changes, default 3n + 3) and its active set (for the next call's ``active_guess``).
    """
    n = gradient.shape[0]
    active = np.zeros(n, dtype=np.int8) if active_guess is None else active_guess.astype(np.int8, copy=True)
    active[(active < 0) & ~np.isfinite(lower)] = 0
    active[(active > 0) & ~np.isfinite(upper)] = 0
    pinned = lower >= upper  # an empty range (e.g. no motion allowed this tick): fixed, never released
    active[pinned] = -1
    if not active.any():
        # Fast path: the unconstrained minimiser is usually inside the box.
        x = np.linalg.solve(hessian, -gradient)
        if (x >= lower).all() and (x <= upper).all():
            return x, active
    # Start from x = 0 (feasible) with the guessed bounds active.
    x = np.where(active < 0, lower, np.where(active > 0, upper, 0.0))
    for _ in range(max_iterations if max_iterations is not None else 3 * n + 3):
        free = active == 0
        if free.any():
            h_ff = hessian[free][:, free]
            rhs = -gradient[free] - hessian[free][:, ~free] @ x[~free]
            target = np.linalg.solve(h_ff, rhs)
            xf = x[free]
            step = target - xf
            lo, hi = lower[free], upper[free]
            # Largest fraction of the step that stays in the box; the first bound hit becomes active.
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(step < 0, (lo - xf) / step, np.where(step > 0, (hi - xf) / step, np.inf))
            k = int(np.argmin(ratio))
            if ratio[k] < 1.0:
                xf = xf + max(ratio[k], 0.0) * step
                idx = np.flatnonzero(free)[k]
                if step[k] < 0:
                    xf[k], active[idx] = lo[k], -1
                else:
                    xf[k], active[idx] = hi[k], 1
                x[free] = xf
                continue
            x[free] = target
        # Free variables are optimal: an active bound whose multiplier has the wrong sign is released.
        grad = hessian @ x + gradient
        violation = np.where(active < 0, -grad, 0.0) + np.where(active > 0, grad, 0.0)
        violation[pinned] = 0.0
        k = int(np.argmax(violation))
        if violation[k] <= tolerance * (1.0 + abs(gradient[k])):
            break
        active[k] = 0
    return np.clip(x, lower, upper), active
