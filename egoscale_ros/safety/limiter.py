"""Per-tick joint command limiting: position, then velocity, then acceleration.

Each tick the target is clipped into the position limits, then the commanded motion is bounded
by ``|Δq| ≤ v·dt`` and ``|Δv| ≤ a·dt``. Two braking envelopes keep those bounds consistent:
the speed toward the target (and toward each position limit) never exceeds the speed from which
the joint can still stop in time at its acceleration limit, so the command neither overshoots
its target nor crosses a limit, and never needs an infinite deceleration to avoid doing so.

The limiter starts from the MEASURED joint positions at rest, so the first command equals where
the robot is and the arm never jumps to a far target at start or after an e-stop.
"""

from __future__ import annotations

import numpy as np

from egoscale_ros.safety.limits import JointLimits


def braking_speed(distance: np.ndarray, acceleration: np.ndarray, dt: float) -> np.ndarray:
    """Largest speed ``v`` to command for a tick of ``dt`` such that the joint can still stop
    within ``distance`` (0 for d <= 0), whatever the lengths of the following ticks.

    A command holds its speed for its tick and the next tick may lower it by ``a·dt_next``, so
    after this tick the speed never lies above the continuous braking line: the distance to stop
    is at most ``v·dt + v²/(2a)``. Solving that for ``v`` gives this envelope, and a joint inside
    it stays inside it on every later tick (irregular timing included).
    """
    d = np.maximum(np.asarray(distance, dtype=float), 0.0)
    a = np.broadcast_to(np.asarray(acceleration, dtype=float), d.shape)
    out = np.full(d.shape, np.inf)
    instant = np.isfinite(d) & ~np.isfinite(a)  # infinite deceleration: only this tick counts
    out[instant] = d[instant] / dt
    finite = np.isfinite(d) & np.isfinite(a)
    a_dt = a[finite] * dt
    # v = sqrt((a·dt)² + 2ad) − a·dt, written without cancellation for small d.
    two_ad = 2.0 * a[finite] * d[finite]
    out[finite] = two_ad / (np.sqrt(a_dt * a_dt + two_ad) + a_dt)
    return out


class JointCommandLimiter:
    """Stateful limiter for one group of joints (e.g. an arm), in the order of ``limits.names``.

    ``max_dt`` bounds the step used when ticks come late, so a stalled loop cannot turn into one
    large jump when it resumes.
    """

    def __init__(self, limits: JointLimits, max_dt: float = 0.05) -> None:
        if not max_dt > 0:
            raise ValueError(f"max_dt must be > 0 (got {max_dt})")
        self.limits = limits
        self.max_dt = float(max_dt)
        self._q: np.ndarray | None = None
        self._v = np.zeros(limits.size)

    @property
    def started(self) -> bool:
        return self._q is not None

    @property
    def position(self) -> np.ndarray:
        """Last command (raises if never started)."""
        return self._require().copy()

    @property
    def velocity(self) -> np.ndarray:
        return self._v.copy()

    def reset(self, measured: np.ndarray) -> np.ndarray:
        """Start (again) at rest from the measured positions; returns them as the command."""
        self._q = self._vector("measured", measured).copy()
        self._v = np.zeros(self.limits.size)
        return self._q.copy()

    def step(self, target: np.ndarray | None, dt: float) -> np.ndarray:
        """Next command toward ``target`` after ``dt`` seconds; ``None`` brakes to a stop."""
        q = self._require()
        if not dt > 0:
            return q.copy()  # no time passed (or the clock went back): no motion
        dt = min(float(dt), self.max_dt)
        lim = self.limits
        a_dt = lim.acceleration * dt
        if target is None:
            v_des = np.zeros_like(q)
        else:
            goal = np.clip(self._vector("target", target), lim.lower, lim.upper)
            error = goal - q
            cap = np.minimum(lim.velocity, braking_speed(np.abs(error), lim.acceleration, dt))
            with np.errstate(invalid="ignore"):
                v_des = np.clip(error / dt, -cap, cap)
            v_des = np.where(np.isnan(v_des), 0.0, v_des)
        # Never head for a position limit faster than we can stop before it. (The target envelope
        # above already implies this while targets are clipped into the limits; this is an
        # independent second guard, e.g. for a start outside the limits.)
        v_des = np.minimum(v_des, braking_speed(lim.upper - q, lim.acceleration, dt))
        v_des = np.maximum(v_des, -braking_speed(q - lim.lower, lim.acceleration, dt))
        v_new = self._v + np.clip(v_des - self._v, -a_dt, a_dt)
        v_new = np.clip(v_new, -lim.velocity, lim.velocity)
        # Rounding guard only; a start outside the limits is allowed to move back in, not jump in.
        q_new = np.clip(q + v_new * dt, np.minimum(lim.lower, q), np.maximum(lim.upper, q))
        self._v = (q_new - q) / dt
        self._q = q_new
        return q_new.copy()

    def freeze(self) -> np.ndarray:
        """Stop at once (e-stop): hold the last command, velocity zero."""
        q = self._require()
        self._v = np.zeros(self.limits.size)
        return q.copy()

    def _require(self) -> np.ndarray:
        if self._q is None:
            raise RuntimeError("joint command limiter not started: call reset(measured) first")
        return self._q

    def _vector(self, name: str, value: np.ndarray) -> np.ndarray:
        arr = np.asarray(value, dtype=float).reshape(-1)
        if arr.shape != (self.limits.size,):
            raise ValueError(f"{name}: {arr.size} values for {self.limits.size} joints ({', '.join(self.limits.names)})")
        if not np.isfinite(arr).all():
            bad = self.limits.names[int(np.argmax(~np.isfinite(arr)))]
            raise ValueError(f"{name}: non-finite value for joint '{bad}'")
        return arr
