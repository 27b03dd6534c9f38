"""Simulated joints for the mock hardware: first-order lag toward the command, capped speed.

Good enough to close the loop in tests and the demo (commands visibly move the joints, with the
delay a real position controller has) while staying deterministic and cheap at 200 Hz.
"""

from __future__ import annotations

import math

import numpy as np

from egoscale_ros.kinematics.urdf import Mimic


class MockJoints:
    """State of every simulated joint; :meth:`step` advances it by ``dt`` seconds."""

    def __init__(
        self,
        names: list[str],
        initial: dict[str, float],
        lower: np.ndarray,
        upper: np.ndarray,
        lag_s: float,
        max_velocity: float,
        mimic: list[Mimic] | None = None,
    ):
        if lag_s < 0 or max_velocity <= 0:
            raise ValueError(f"mock hardware: lag_s must be >= 0 and max_velocity > 0 (got {lag_s}, {max_velocity})")
        self.names = list(names)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.lower = np.asarray(lower, dtype=float)
        self.upper = np.asarray(upper, dtype=float)
        self.lag_s = lag_s
        self.max_velocity = max_velocity
        self.mimic = [m for m in (mimic or []) if m.joint in self.index and m.source in self.index]
        q0 = np.array([initial.get(n, 0.0) for n in self.names], dtype=float)
        self.position = np.clip(q0, self.lower, self.upper)
        self.velocity = np.zeros_like(self.position)
        self.command = self.position.copy()
        self._apply_mimic()

    def set_command(self, targets: dict[str, float]) -> list[str]:
        """Store new targets; returns the names that were ignored (unknown or not finite)."""
        ignored = []
        for name, value in targets.items():
            i = self.index.get(name)
            if i is None or not math.isfinite(value):
                ignored.append(name)
                continue
            self.command[i] = value
        return ignored

    def step(self, dt: float) -> None:
        if dt <= 0:
            return
        target = np.clip(self.command, self.lower, self.upper)
        error = target - self.position
        # Exact discretisation of a first-order lag, then the speed cap.
        alpha = 1.0 if self.lag_s == 0 else 1.0 - math.exp(-dt / self.lag_s)
        delta = np.clip(alpha * error, -self.max_velocity * dt, self.max_velocity * dt)
        self.position = np.clip(self.position + delta, self.lower, self.upper)
        self.velocity = delta / dt
        self._apply_mimic()

    def _apply_mimic(self) -> None:
        for m in self.mimic:
            i, s = self.index[m.joint], self.index[m.source]
            self.position[i] = np.clip(m.follow(self.position[s]), self.lower[i], self.upper[i])
            self.velocity[i] = m.multiplier * self.velocity[s]

    def positions(self) -> dict[str, float]:
        return dict(zip(self.names, self.position.tolist()))
