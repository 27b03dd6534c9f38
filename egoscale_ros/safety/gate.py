"""The safety gate a command node calls every tick: e-stop, watchdogs, input checks, limiting.

``gate.command(t, target, measured)`` takes the tick time, the newest target if one arrived
since the last tick (else None), and the newest joint state if one arrived (else None). It
returns the joint command to send and a :class:`GateStatus` saying whether it tracks the target
or holds, and why. Holding means:

- e-stop engaged: stop at once at the last command (the controllers hold it); when the e-stop
  is reset the limiter restarts from the measured pose, so nothing jumps on resume;
- no valid/fresh target, or the joint state went stale: brake to a stop at the acceleration
  limit and stay there;
- never heard a joint state: no command at all (``None``) — there is nothing safe to send;
- feedback untrusted (``feedback_problem``: a foreign publisher on the feedback topic): brake
  and hold like a stale joint state.

A start, and a resume after an e-stop, happen only from a joint state that is fresh (by its
own stamp) and trusted; until then the gate holds the last command (or sends nothing if it never
commanded), so the first command of a start or resume is the robot's real pose.

Inputs with NaN/inf or the wrong length are discarded and reported, never passed on; the output
is never NaN.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from egoscale_ros.safety.estop import EStop
from egoscale_ros.safety.limiter import JointCommandLimiter
from egoscale_ros.safety.limits import JointLimits
from egoscale_ros.safety.watchdog import Watchdog

# Reasons a gate holds, in the order they are reported.
ESTOP = "estop"
NO_JOINT_STATE = "no_joint_state"
STALE_JOINT_STATE = "stale_joint_state"
INVALID_JOINT_STATE = "invalid_joint_state"
UNTRUSTED_JOINT_STATE = "untrusted_joint_state"
NO_TARGET = "no_target"
STALE_TARGET = "stale_target"
INVALID_TARGET = "invalid_target"
DEFAULT_MAX_DT_S = 0.05  # longest tick one command may cover (a late tick is not a larger jump)
REASONS = (ESTOP, NO_JOINT_STATE, STALE_JOINT_STATE, INVALID_JOINT_STATE, UNTRUSTED_JOINT_STATE, NO_TARGET,
           STALE_TARGET, INVALID_TARGET)


@dataclass(frozen=True)
class GateStatus:
    """Why the gate holds (empty ``reasons`` = tracking the target); ``detail`` is for a log line."""

    reasons: tuple[str, ...]
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def holding(self) -> bool:
        return bool(self.reasons)


class SafetyGate:
    """E-stop + target and joint-state watchdogs + :class:`JointCommandLimiter` for one joint group.

    ``target_timeout_s``/``joint_state_timeout_s``: how old the newest target / joint state may
    be before the gate holds. ``clock`` is only used when the caller gives no times.
    """

    def __init__(self, limits: JointLimits, *, target_timeout_s: float = 0.5,
                 joint_state_timeout_s: float = 0.25, estop: EStop | None = None, max_dt: float = DEFAULT_MAX_DT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.limiter = JointCommandLimiter(limits, max_dt=max_dt)
        self.estop = estop or EStop()
        self.target_watchdog = Watchdog(target_timeout_s, clock, "target")
        self.state_watchdog = Watchdog(joint_state_timeout_s, clock, "joint_state")
        self.counts: dict[str, int] = {"ticks": 0, "tracking": 0, **{r: 0 for r in REASONS}}
        self._target: np.ndarray | None = None
        self._measured: np.ndarray | None = None
        self._last_t: float | None = None
        self._restart = True  # next command starts again from the measured pose

    def command(self, t: float, target: np.ndarray | None = None, measured: np.ndarray | None = None, *,
                target_time: float | None = None, measured_time: float | None = None,
                feedback_problem: str = "") -> tuple[np.ndarray | None, GateStatus]:
        """One tick at time ``t``; see the module docstring."""
        self.counts["ticks"] += 1
        reasons: list[str] = []
        details: list[str] = []
        if measured is not None:
            q, why = self._check("joint state", measured)
            if q is None:
                reasons.append(INVALID_JOINT_STATE)
                details.append(why)
            else:
                self._measured = q
                self.state_watchdog.feed(t if measured_time is None else measured_time)
        if target is not None:
            q, why = self._check("target", target)
            if q is None:
                reasons.append(INVALID_TARGET)
                details.append(why)
                self._target = None  # do not resume toward an older target after a bad one
            else:
                self._target = q
                self.target_watchdog.feed(t if target_time is None else target_time)

        dt = 0.0 if self._last_t is None else t - self._last_t
        self._last_t = t

        if self.estop.engaged:
            reasons.insert(0, ESTOP)
            details.insert(0, f"e-stop: {self.estop.reason}")
        if self._measured is None:
            reasons.append(NO_JOINT_STATE)
            return None, self._status(reasons, details)
        if self.state_watchdog.is_stale(t):
            reasons.append(STALE_JOINT_STATE)
            details.append(f"joint state {self.state_watchdog.age(t):.3f} s old")
        if feedback_problem:
            reasons.append(UNTRUSTED_JOINT_STATE)
            details.append(f"joint state untrusted: {feedback_problem}")
        unusable = {STALE_JOINT_STATE, UNTRUSTED_JOINT_STATE, INVALID_JOINT_STATE}.intersection(reasons)
        if self._target is None:
            if INVALID_TARGET not in reasons:
                reasons.append(NO_TARGET)
        elif self.target_watchdog.is_stale(t):
            reasons.append(STALE_TARGET)
            details.append(f"target {self.target_watchdog.age(t):.3f} s old")

        if self.estop.engaged:
            self._restart = True
            out = self.limiter.freeze() if self.limiter.started else self.limiter.reset(self._measured)
        elif self._restart and unusable:
            # Start or resume only from the robot's real pose: wait, holding what was commanded.
            if not self.limiter.started:
                return None, self._status(reasons, details)
            out = self.limiter.freeze()
        elif self._restart:
            out = self.limiter.reset(self._measured)
            self._restart = False
        elif reasons:
            out = self.limiter.step(None, dt)
        else:
            out = self.limiter.step(self._target, dt)
        if not np.isfinite(out).all():  # cannot happen with finite inputs; never let it out
            out = self.limiter.reset(self._measured)
            details.append("non-finite command replaced by the measured pose")
        return out, self._status(reasons, details)

    def reset_estop(self) -> bool:
        """Clear the e-stop if its inputs are released; the next command starts from the measured pose."""
        cleared = self.estop.reset()
        if cleared:
            self._restart = True
        return cleared

    def _status(self, reasons: list[str], details: list[str]) -> GateStatus:
        for r in reasons:
            self.counts[r] += 1
        if not reasons:
            self.counts["tracking"] += 1
        return GateStatus(tuple(reasons), "; ".join(details))

    def _check(self, what: str, value: np.ndarray) -> tuple[np.ndarray | None, str]:
        try:
            arr = np.asarray(value, dtype=float).reshape(-1)
        except (TypeError, ValueError) as exc:
            return None, f"{what}: not numeric ({exc})"
        if arr.shape != (self.limits.size,):
            return None, f"{what}: {arr.size} values for {self.limits.size} joints"
        bad = ~np.isfinite(arr)
        if bad.any():
            return None, f"{what}: non-finite value for joint '{self.limits.names[int(np.argmax(bad))]}'"
        return arr, ""


def hold_reason_text(status: GateStatus) -> str:
    """Human summary for diagnostics: ``tracking`` or ``holding: estop, stale_target (...)``."""
    if status.ok:
        return "tracking"
    text = "holding: " + ", ".join(status.reasons)
    return f"{text} ({status.detail})" if status.detail else text
