"""The arm_sdk blend weight: how much of the arms Unitree's locomotion controller hands over.

``motor_cmd[<blend index>].q`` of an ``rt/arm_sdk`` LowCmd blends the robot's own controller
(0) with ours (1). It is ramped in from 0 at start and back to 0 at a clean stop, never faster
than ``rate_per_s`` going in and ``release_rate_per_s`` going out (a tick that comes late moves it
by at most the rate times ``max_dt``), so neither hand-over is ever a jump.
"""

from __future__ import annotations


class BlendRamp:
    """A weight in [0, 1] moving toward 1 after :meth:`engage` and toward 0 after :meth:`release`."""

    def __init__(self, rate_per_s: float, max_dt: float = 0.05, release_rate_per_s: float | None = None):
        release = rate_per_s if release_rate_per_s is None else release_rate_per_s
        if not rate_per_s > 0 or not max_dt > 0 or not release > 0:
            raise ValueError(f"blend ramp: rate_per_s, release_rate_per_s and max_dt must be > 0 (got {rate_per_s}, "
                             f"{release}, {max_dt})")
        self.rate_per_s = rate_per_s
        self.release_rate_per_s = release
        self.max_dt = max_dt
        self.weight = 0.0
        self.target = 0.0

    def engage(self) -> None:
        self.target = 1.0

    def release(self) -> None:
        self.target = 0.0

    def step(self, dt: float) -> float:
        """Advance by ``dt`` seconds and return the new weight."""
        rate = self.release_rate_per_s if self.target < self.weight else self.rate_per_s
        limit = rate * min(max(dt, 0.0), self.max_dt)
        delta = min(max(self.target - self.weight, -limit), limit)
        self.weight = min(max(self.weight + delta, 0.0), 1.0)
        return self.weight

    @property
    def engaged(self) -> bool:
        return self.weight >= 1.0

    @property
    def idle(self) -> bool:
        """Fully handed back (or never taken)."""
        return self.weight <= 0.0 and self.target == 0.0
