"""Shared pieces of the adapters that send joint-position targets on a maker's ROS topic.

Galaxea's motion targets and Sharpa's joint commands are both sensor_msgs/JointState positions.
What they share: the :class:`Ramp` that starts at the measured pose and steps toward the latest target no faster
than ``max_velocity``, so the first message never jumps, whatever the first target is
(:class:`RampedOutput`, the adapter both are). The Unitree adapters step their motors with the same
:class:`Stepper`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from egoscale_ros.interfaces.base import ROS, OutputAdapter, Packet

MAX_DT = 0.05  # a late tick moves at most this much time's worth


class Stepper:
    """Joint positions an output sends, stepped toward a target no faster than ``max_velocity``."""

    def __init__(self, joints: Sequence[str], max_velocity: float):
        self.joints = tuple(joints)
        self.max_velocity = max_velocity
        self.sent: list[float] | None = None
        self.target: list[float] | None = None
        self.last_t: float | None = None

    def elapsed(self, now: float) -> float:
        """Time since the last step (0 at the first, at most MAX_DT), and ``now`` becomes the last."""
        dt = 0.0 if self.last_t is None else min(max(now - self.last_t, 0.0), MAX_DT)
        self.last_t = now
        return dt

    def advance(self, dt: float) -> None:
        """Move the sent positions toward the target by at most ``max_velocity · dt`` each."""
        if self.sent is not None and self.target is not None:
            limit = self.max_velocity * dt
            self.sent = [s + min(max(t - s, -limit), limit) for s, t in zip(self.sent, self.target)]


class Ramp(Stepper):
    """Positions to send: from the measured pose toward the latest target, at most ``max_velocity``."""

    def set_target(self, position: dict[str, float]) -> bool:
        """Take the output's joints from ``position``; False (nothing changes) when any is missing or not finite."""
        values = [position.get(j, math.nan) for j in self.joints]
        if not all(math.isfinite(v) for v in values):
            return False
        self.target = values
        return True

    def step(self, measured: dict[str, float], now: float) -> list[float] | None:
        """The next positions, or None while there is no target or the start pose is unmeasured."""
        if self.target is None:
            return None
        if self.sent is None:
            if not all(j in measured for j in self.joints):
                return None
            self.sent = [measured[j] for j in self.joints]
            self.last_t = now
            return list(self.sent)
        self.advance(self.elapsed(now))
        return list(self.sent)


class RampedOutput(OutputAdapter):
    """An output that sends positions ramped from the measured pose toward its latest target
    (Galaxea, Sharpa): a subclass sets ``self.ramp`` and builds its message in :meth:`packet`."""

    transport = ROS
    ramp: Ramp

    def __init__(self, output, config) -> None:
        super().__init__(output, config)
        self.measured: dict[str, float] = {}

    def on_feedback(self, position: dict[str, float], extra: dict[str, Any]) -> None:
        self.measured = position

    def set_target(self, position: dict[str, float], now: float) -> None:
        if not self.ramp.set_target(position):
            self.count_error("non_finite_target")

    def tick(self, now: float) -> list[Packet]:
        q = self.ramp.step(self.measured, now)
        return [] if q is None else [self.packet(q)]

    def packet(self, q: list[float]) -> Packet:
        raise NotImplementedError
