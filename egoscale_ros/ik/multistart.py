"""Restarts for local IK descents: the way out of local minima on cold starts and target jumps.

A single damped least-squares descent from a far-away seed (the home pose) reaches only about
60–80 % of reachable 7-DoF targets: joint limits and the arm's folds trap it. When the descent from
the given seed fails, further descents start from the rest pose and then from random
configurations within the limits (a seeded generator, so results are reproducible); the first
that reaches the target wins, else the best of all.

In a control loop an unreachable target would spend the whole restart budget every tick:
``time_budget_s`` stops restarting once a solve has taken that long (the first descent always
runs to its end). With ``continuity``, a restart replaces the seed's own descent only when it
reaches the target: a control loop must not jump to another arm configuration for a slightly
smaller error on a target it cannot reach anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from egoscale_ros.ik.problem import IkResult, IkTask, task_cost
from egoscale_ros.kinematics.chain import ArmChain

Descent = Callable[[np.ndarray], IkResult]


def finite_limits(chain: ArmChain) -> tuple[np.ndarray, np.ndarray]:
    """The chain's limits with unbounded sides replaced by ±pi (a sampling range)."""
    lo = np.where(np.isfinite(chain.lower), chain.lower, -np.pi)
    hi = np.where(np.isfinite(chain.upper), chain.upper, np.pi)
    return lo, hi


class MultiStart:
    """Runs a descent from a seed and, while it fails, from up to ``restarts`` further seeds
    (and within ``time_budget_s`` of the start, when given); see the module docstring."""

    def __init__(self, chain: ArmChain, task: IkTask, restarts: int = 16, seed: int = 0,
                 time_budget_s: float | None = None, continuity: bool = False):
        if restarts < 0:
            raise ValueError(f"restarts must be >= 0, got {restarts}")
        self.chain, self.task, self.restarts = chain, task, restarts
        self.time_budget_s, self.continuity = time_budget_s, continuity
        self._rng = np.random.default_rng(seed)
        self._lo, self._hi = finite_limits(chain)

    def seeds(self):
        """Restart seeds: the rest pose, then random configurations within the limits."""
        yield self.chain.clip(self.task.rest_pose)
        while True:
            yield self._rng.uniform(self._lo, self._hi)

    def run(self, descend: Descent, seed: np.ndarray) -> IkResult:
        start = time.perf_counter()
        best = descend(self.chain.clip(np.asarray(seed, dtype=float)))
        if best.converged or self.restarts == 0:
            return best
        iterations, descents = best.iterations, 1
        best_cost = task_cost(self.task, best.position_error, best.rotation_error)
        seeds = self.seeds()
        for _ in range(self.restarts):
            if self.time_budget_s is not None and time.perf_counter() - start > self.time_budget_s:
                break
            result = descend(next(seeds))
            iterations += result.iterations
            descents += 1
            cost = task_cost(self.task, result.position_error, result.rotation_error)
            if result.converged or (cost < best_cost and not self.continuity):
                best, best_cost = result, cost
            if result.converged:
                break
        best.iterations, best.descents = iterations, descents
        return best
