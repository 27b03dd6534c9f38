"""Retargeter: the public entry point that maps one hand's input onto a target robot hand.

    r = Retargeter.from_config("dex3", side="left", source="sharpa_wave", rate_hz=100)
    q = r.retarget({"left_thumb_CMC_FE": 0.3, ...})   # or an array in r.source_joint_names order,
                                                      # or (21, 3) keypoints
    r.joint_names      # the target's actuated joints, in command order (q's order)
    r.last_solve_stats # iterations, ms, cost, status

Per call: the source is turned into keypoints in the common wrist frame (or passed through when
source and target are the same hand), the objective gives targets and weights, the solver finds
joint angles within the joint limits and within what the velocity limits allow since the last
output, warm-started from the previous solution, with a bounded iteration budget; an optional
low-pass filter follows. A failed solve holds the previous output.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from egoscale_ros.retarget.config import HandRetargetConfig, load_hand_config
from egoscale_ros.retarget.hand_model import HandModel
from egoscale_ros.retarget.keypoints import NUM_KEYPOINTS
from egoscale_ros.retarget.objective import RetargetObjective, reference_pose
from egoscale_ros.retarget.solvers import ResidualFunction, SolveTask, make_solver
from egoscale_ros.retarget.sources import HandJointSource, HumanKeypointSource, joint_vector

KEYPOINT_SOURCES = ("keypoints", "keypoints_any_frame")


@dataclass
class SolveStats:
    mode: str = "none"  # optimise | passthrough | hold (solver failed: previous output kept)
    solver: str = ""
    iterations: int = 0
    solve_ms: float = 0.0  # the optimiser alone
    total_ms: float = 0.0  # the whole retarget() call
    cost: float = 0.0
    converged: bool = True
    status: str = ""
    pinched: int = 0  # fingertip pairs held by the pinch prior


def hand_model_for(config: HandRetargetConfig) -> HandModel:
    return HandModel(config.urdf, config.root_frame, list(config.joints), dict(config.keypoints), list(config.mimic))


class Retargeter:
    """Maps source input (keypoints or another hand's joints) to a target hand's joint angles."""

    def __init__(
        self,
        target: HandRetargetConfig,
        source: HumanKeypointSource | HandJointSource,
        *,
        solver: str | None = None,
        passthrough: bool = True,
        rate_hz: float | None = None,
        compile: str = "auto",
    ):
        self.config = target
        self.source = source
        self.model = hand_model_for(target)
        self.joint_names: list[str] = list(target.joints)
        self.source_joint_names: list[str] = list(source.joint_names)
        self.objective = RetargetObjective(target, self.model)
        self.scale = target.scale / source.scale
        settings = target.solver
        self.solver_name = solver or settings.name
        import casadi as ca

        q = ca.SX.sym("q", self.model.nq)
        self.residual = ResidualFunction(q, self.objective.robot_terms(q), f"retarget_{target.name}", compile)
        self.regularization = self._joint_regularization()
        self.solver = make_solver(
            self.solver_name, self.residual, target.huber_delta, self.regularization, settings.tolerance,
            settings.hessian,
        )
        self.rate_hz = rate_hz
        self.lowpass_alpha = target.lowpass_alpha  # 1 = off; a node parameter may override it
        self.velocity_limits = self.model.velocity * target.velocity_scale
        self.passthrough = (
            passthrough
            and isinstance(source, HandJointSource)
            and source.hand == target.hand
            and source.side == target.side
            and set(self.joint_names) <= set(source.joint_names)
        )
        if self.passthrough:
            self._pass_index = np.array([source.joint_names.index(j) for j in self.joint_names], dtype=int)
        self.last_solve_stats = SolveStats()
        self.reset()

    def _joint_regularization(self) -> np.ndarray:
        """Per-joint weight of the pull toward the previous solution: the config's value scaled by
        how much each joint moves the matched keypoints (at the reference pose, relative to the
        mean joint). A uniform weight would make joints with short levers (a distal phalanx) lag
        far more, in angle, than long ones; scaled, every joint lags about as much in millimetres."""
        _, jt = self.residual(reference_pose(self.config, self.model))
        sensitivity = (jt * jt) @ np.repeat(self.objective.base_weights, 3)
        mean = float(np.mean(sensitivity))
        if not mean > 0:
            return np.full(self.model.nq, self.config.regularization)
        return self.config.regularization * np.maximum(sensitivity / mean, 1e-3)

    @classmethod
    def from_config(
        cls,
        target: str | os.PathLike | HandRetargetConfig,
        side: str | None = None,
        source: str | os.PathLike | HandRetargetConfig = "sharpa_wave",
        *,
        urdf: str | os.PathLike | None = None,
        source_urdf: str | os.PathLike | None = None,
        solver: str | None = None,
        passthrough: bool = True,
        rate_hz: float | None = None,
        compile: str = "auto",
    ) -> Retargeter:
        """Build from hand config names or paths.

        ``target``: e.g. ``"dex3"`` with ``side="left"``, ``"dex3_left"`` or a YAML path.
        ``source``: ``"keypoints"`` (human keypoints in the wrist frame), ``"keypoints_any_frame"``
        (human keypoints in any frame) or a hand config of the same side (default the policy's
        ``"sharpa_wave"``). ``urdf`` / ``source_urdf`` override the configs' URDFs (e.g. the maker's).
        ``compile``: "auto" compiles the kinematics to C when a compiler exists (:mod:`compiled`).
        """
        tcfg = target if isinstance(target, HandRetargetConfig) else load_hand_config(target, side, urdf)
        if isinstance(source, str) and source in KEYPOINT_SOURCES:
            src: HumanKeypointSource | HandJointSource = HumanKeypointSource(source == "keypoints_any_frame")
        else:
            scfg = source if isinstance(source, HandRetargetConfig) else load_hand_config(source, tcfg.side, source_urdf)
            src = HandJointSource(scfg, compile=compile)
        return cls(tcfg, src, solver=solver, passthrough=passthrough, rate_hz=rate_hz, compile=compile)

    # --- state ----------------------------------------------------------------------------

    def reset(self, q: np.ndarray | Mapping[str, float] | None = None) -> None:
        """Forget the past; start from ``q`` (e.g. the measured hand) or the reference pose."""
        if q is None:
            start = reference_pose(self.config, self.model)
        else:
            start = self.model.clip(joint_vector(self.joint_names, q, f"{self.config.name} reset"))
        self._solution = start.copy()
        self._velocity = np.zeros_like(start)  # last change of the solution per frame
        self._output = start.copy()
        self._cold = True
        # Reset to where the hand is (measured): the velocity bound applies from the first frame.
        self._anchored = q is not None
        self.objective.pinch_state.reset()

    @property
    def last_output(self) -> np.ndarray:
        return self._output.copy()

    # --- the work -------------------------------------------------------------------------

    def source_keypoints(self, source_input) -> np.ndarray:
        """(21, 3) wrist-frame keypoints of the source input (joints or keypoints)."""
        arr = None if isinstance(source_input, Mapping) else np.asarray(source_input, dtype=float)
        if arr is not None and arr.shape == (NUM_KEYPOINTS, 3):
            if isinstance(self.source, HumanKeypointSource):
                return self.source.keypoints(arr)
            return HumanKeypointSource(False).keypoints(arr)
        if isinstance(self.source, HumanKeypointSource):
            raise ValueError(f"source keypoints: expected shape ({NUM_KEYPOINTS}, 3), got {np.shape(source_input)}")
        return self.source.keypoints_from_joints(self.source.joints(source_input))

    def _bounds(self, dt: float | None) -> tuple[np.ndarray, np.ndarray]:
        lower, upper = self.model.lower, self.model.upper
        if dt is None or (self._cold and not self._anchored):
            return lower.copy(), upper.copy()
        reach = np.where(np.isfinite(self.velocity_limits), self.velocity_limits * dt, np.inf)
        lo = np.maximum(lower, self._output - reach)
        hi = np.minimum(upper, self._output + reach)
        return lo, np.maximum(hi, lo)

    def retarget(self, source_input, dt: float | None = None) -> np.ndarray:
        """Target joint angles (``joint_names`` order) for one frame of source input.

        ``source_input``: the source hand's joint positions (name -> value mapping, extra names
        ignored, or an array in ``source_joint_names`` order) or (21, 3) keypoints in the wrist
        frame. ``dt``: time since the previous call (default ``1/rate_hz`` when given); bounds each
        joint's step by its velocity limit. Raises ValueError (naming the field) on bad input.
        """
        t0 = time.perf_counter()
        if dt is None and self.rate_hz:
            dt = 1.0 / self.rate_hz
        stats = SolveStats(solver=self.solver_name)
        lower, upper = self._bounds(dt)
        is_keypoints = not isinstance(source_input, Mapping) and np.shape(source_input) == (NUM_KEYPOINTS, 3)
        if self.passthrough and not is_keypoints:
            q = np.clip(self.source.joints(source_input)[self._pass_index], lower, upper)
            stats.mode, stats.status = "passthrough", "ok"
        else:
            keypoints = self.source_keypoints(source_input)
            targets, weights = self.objective.targets(keypoints, self.scale)
            stats.pinched = int(self.objective.pinch_state.engaged.sum())
            budget = self.config.solver.first_max_iterations if self._cold else self.config.solver.max_iterations
            t_solve = time.perf_counter()
            try:
                # Warm start: the last solution moved on by its last change (smooth input makes
                # this nearly the answer); the regularisation still pulls toward the last solution.
                guess = self._solution if self._cold else self._solution + self._velocity
                task = SolveTask(targets.reshape(-1), weights, self._solution, lower, upper)
                result = self.solver.solve(guess, task, budget)
                if self._cold:
                    # Cold start: the pull toward a far-away start point biases the answer; re-centre
                    # the regularisation on the result until it stops moving.
                    for _ in range(4):
                        again = self.solver.solve(result.q, dataclasses.replace(task, q_ref=result.q), budget)
                        moved = float(np.max(np.abs(again.q - result.q)))
                        again.iterations += result.iterations
                        result = again
                        if moved < 1e-4:
                            break
                ok = bool(np.all(np.isfinite(result.q)))
            except RuntimeError as exc:  # CasADi raises RuntimeError on internal failures
                result, ok = None, False
                stats.status = f"error: {exc}"
            stats.solve_ms = (time.perf_counter() - t_solve) * 1e3
            if ok:
                q = result.q
                stats.mode, stats.iterations, stats.cost = "optimise", result.iterations, result.cost
                stats.converged, stats.status = result.converged, result.status
                self._velocity = np.zeros_like(q) if self._cold else q - self._solution
                self._solution = q.copy()
            else:
                q = self._output.copy()
                stats.mode, stats.converged = "hold", False
                stats.status = stats.status or "non-finite solution"
        alpha = self.lowpass_alpha
        out = q if alpha >= 1.0 or self._cold else alpha * q + (1.0 - alpha) * self._output
        self._output = np.clip(out, lower, upper)
        self._cold = False
        stats.total_ms = (time.perf_counter() - t0) * 1e3
        self.last_solve_stats = stats
        return self._output.copy()

    # --- helpers for nodes and metrics ----------------------------------------------------

    def full_joint_positions(self, q: np.ndarray) -> dict[str, float]:
        """Actuated and mimic joint positions by name (for controllers that want every joint)."""
        return dict(zip(self.model.full_joint_names, self.model.full_positions(q)))

    def keypoints_wrist(self, q: np.ndarray) -> dict[str, np.ndarray]:
        """The target's keypoints at ``q`` in the common wrist frame (for error metrics)."""
        pts = self.objective.wrist.to_wrist(self.model.point_positions(q))
        return dict(zip(self.model.point_names, pts))
