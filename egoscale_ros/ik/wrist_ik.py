"""Both arms' IK as the wrist IK node runs it: wrist targets + measured joints → arm joint positions.

One serial chain and one solver per arm, built from the robot config (and optionally a maker's
full-body URDF). Each solve first folds the measured positions of the joints outside the arm
(waist, torso) into the chain, then warm-starts from the arm's previous solution (the measured
arm joints the first time, or after :meth:`WristIk.reset`). Unreachable targets give the best
solution within the limits and are counted; the output is never NaN.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from egoscale_ros.ik.problem import IkResult, IkTask
from egoscale_ros.robot.kinematics import RobotKinematics
from egoscale_ros.robot.spec import RobotConfig
from egoscale_ros.schema import SIDES

SOLVERS = ("dls", "casadi")


def make_solver(name: str, chain, task: IkTask, **options):
    """An arm solver by name: ``dls`` (the main one) or ``casadi`` (IPOPT reference)."""
    if name == "dls":
        from egoscale_ros.ik.dls import DlsSolver

        return DlsSolver(chain, task, **options)
    if name == "casadi":
        from egoscale_ros.ik.casadi_solver import CasadiSolver

        return CasadiSolver(chain, task, **options)
    raise ValueError(f"IK solver '{name}' is not one of {', '.join(SOLVERS)}")


@dataclass
class WristIkStats:
    """Counters for diagnostics."""

    solves: int = 0  # arm solves
    failures: int = 0  # arm solves that did not reach the target (best effort sent instead)
    last_solve_ms: dict[str, float] = field(default_factory=dict)
    max_solve_ms: float = 0.0
    total_solve_ms: float = 0.0
    last_error: dict[str, tuple[float, float]] = field(default_factory=dict)  # side → (m, rad)

    @property
    def mean_solve_ms(self) -> float:
        return self.total_solve_ms / self.solves if self.solves else 0.0


class WristIk:
    """IK for every arm of ``config``; :attr:`joint_names` is the output order (config arm joints)."""

    def __init__(self, config: RobotConfig, solver: str = "dls", urdf: str | Path | None = None,
                 kinematics: RobotKinematics | None = None, **solver_options):
        if solver not in SOLVERS:
            raise ValueError(f"IK solver '{solver}' is not one of {', '.join(SOLVERS)}")
        self.config = config
        self.solver_name = solver
        self.kinematics = kinematics or RobotKinematics(config, urdf)
        self.chains = {side: self.kinematics.arm_chain(side) for side in config.arms}
        # A control loop keeps its arm configuration unless a restart actually reaches the target.
        solver_options.setdefault("continuity", True)
        self.solvers = {
            side: make_solver(solver, chain, IkTask.from_arm_config(config.arms[side]), **solver_options)
            for side, chain in self.chains.items()
        }
        self.joint_names: list[str] = config.arm_joints
        self.stats = WristIkStats()
        self._previous: dict[str, np.ndarray] = {}

    def reset(self) -> None:
        """Forget the warm starts: the next solves start from the measured joints."""
        self._previous.clear()

    def _seed(self, side: str, measured: Mapping[str, float]) -> np.ndarray:
        previous = self._previous.get(side)
        if previous is not None:
            return previous
        chain = self.chains[side]
        home = self.kinematics.home_positions()
        return chain.clip(np.array([measured.get(j, home.get(j, 0.0)) for j in chain.joint_names], dtype=float))

    def solve_arm(self, side: str, target: np.ndarray, measured: Mapping[str, float]) -> IkResult:
        """Solve arm ``side`` for ``target`` (4×4 in the base frame); raises ValueError on a
        malformed target (naming the arm)."""
        chain = self.chains[side]
        chain.update_locked(measured)
        seed = self._seed(side, measured)
        start = time.perf_counter()
        try:
            result = self.solvers[side].solve(target, seed)
        except ValueError as exc:
            raise ValueError(f"{side} wrist: {exc}") from exc
        ms = (time.perf_counter() - start) * 1e3
        st = self.stats
        st.solves += 1
        st.failures += 0 if result.converged else 1
        st.last_solve_ms[side] = ms
        st.max_solve_ms = max(st.max_solve_ms, ms)
        st.total_solve_ms += ms
        st.last_error[side] = (result.position_error, result.rotation_error)
        self._previous[side] = result.q
        return result

    def solve(self, targets: Mapping[str, np.ndarray], measured: Mapping[str, float]) -> np.ndarray:
        """Joint positions for every arm joint (:attr:`joint_names` order). Arms without a target
        keep their previous solution (or the measured/home pose)."""
        out = []
        for side in (s for s in SIDES if s in self.chains):  # the order of config.arm_joints
            target = targets.get(side)
            q = self.solve_arm(side, target, measured).q if target is not None else self._seed(side, measured)
            out.append(q)
        return np.concatenate(out)
