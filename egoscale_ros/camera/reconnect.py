"""Detect a source that stopped delivering and reopen it with exponential backoff.

:class:`ReconnectPolicy` is the pure decision logic (times are passed in, no clock of its own):
a source is *lost* after ``max_consecutive_failures`` failed reads in a row or when no frame came
for ``stall_timeout_s``; reopen attempts then run at once, then on the :class:`Backoff` schedule
(after 0.5 s, doubling up to 10 s by default). :class:`SupervisedSource` drives a :class:`FrameSource` with it
so a camera node only calls ``read()`` each tick and publishes ``status()`` on diagnostics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from egoscale_ros.camera.source import CameraError, FrameSource

STREAMING, LOST, FINISHED = "streaming", "lost", "finished"


@dataclass(frozen=True)
class Backoff:
    """The waits between failed reopen attempts: ``initial_s`` after the first, then each ``factor``
    times the one before, at most ``max_s``. Seconds."""

    initial_s: float = 0.5
    max_s: float = 10.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.initial_s <= self.max_s or self.factor < 1.0:
            raise ValueError("reconnect backoff: need 0 <= initial_s <= max_s and factor >= 1 "
                             f"(got {self.initial_s}, {self.max_s}, {self.factor})")

    def after(self, wait_s: float) -> float:
        """The wait that follows one of ``wait_s`` (never 0, so a zero start still grows)."""
        return min(self.max_s, max(wait_s * self.factor, 1e-3))


@dataclass
class ReconnectPolicy:
    """When is a source lost, and when to try reopening it. All times in seconds, any clock."""

    stall_timeout_s: float = 2.0
    max_consecutive_failures: int = 10
    backoff: Backoff = field(default_factory=Backoff)

    state: str = field(default=STREAMING, init=False)
    consecutive_failures: int = field(default=0, init=False)
    last_frame_at: float | None = field(default=None, init=False)
    lost_at: float | None = field(default=None, init=False)
    next_attempt_at: float | None = field(default=None, init=False)
    backoff_s: float = field(default=0.0, init=False)
    attempts: int = field(default=0, init=False)
    reconnects: int = field(default=0, init=False)
    losses: int = field(default=0, init=False)
    last_error: str = field(default="", init=False)

    def __post_init__(self) -> None:
        if self.stall_timeout_s <= 0 or self.max_consecutive_failures < 1:
            raise ValueError("reconnect policy: need stall_timeout_s > 0 and max_consecutive_failures >= 1 "
                             f"(got {self.stall_timeout_s}, {self.max_consecutive_failures})")

    def started(self, now: float) -> None:
        """The source was opened at ``now``: the stall timer starts here."""
        self.state = STREAMING
        self.last_frame_at = now
        self.consecutive_failures = 0

    def frame_received(self, now: float) -> None:
        self.last_frame_at = now
        self.consecutive_failures = 0

    def read_failed(self, now: float) -> None:
        self.consecutive_failures += 1

    def is_stalled(self, now: float) -> bool:
        """No frame for longer than ``stall_timeout_s`` while streaming. Safe to ask from another
        thread (e.g. diagnostics) while a blocking read is stuck in a driver."""
        return self.state == STREAMING and self.last_frame_at is not None and now - self.last_frame_at > self.stall_timeout_s

    def should_declare_lost(self, now: float) -> bool:
        """True while streaming when reads keep failing or frames stopped for too long."""
        if self.state != STREAMING:
            return False
        return self.consecutive_failures >= self.max_consecutive_failures or self.is_stalled(now)

    def declare_lost(self, now: float, reason: str) -> None:
        """Enter the lost state; the first reopen attempt is due at once."""
        self.state = LOST
        self.losses += 1
        self.lost_at = now
        self.last_error = reason
        self.backoff_s = self.backoff.initial_s
        self.next_attempt_at = now

    def attempt_due(self, now: float) -> bool:
        return self.state == LOST and self.next_attempt_at is not None and now >= self.next_attempt_at

    def reopen_failed(self, now: float, error: str) -> None:
        """A reopen attempt failed: wait ``backoff_s``, then the next wait of the schedule."""
        self.attempts += 1
        self.last_error = error
        self.next_attempt_at = now + self.backoff_s
        self.backoff_s = self.backoff.after(self.backoff_s)

    def reopened(self, now: float) -> None:
        self.attempts += 1
        self.reconnects += 1
        self.next_attempt_at = None
        self.started(now)

    def finished(self) -> None:
        """A finite source ended normally: nothing to reopen."""
        self.state = FINISHED
        self.next_attempt_at = None

    def status(self, now: float) -> dict[str, str | int | float]:
        """Flat key/values for a DiagnosticStatus."""
        age = -1.0 if self.last_frame_at is None else round(now - self.last_frame_at, 3)
        out: dict[str, str | int | float] = {
            "state": self.state,
            "stalled": self.is_stalled(now),
            "seconds_since_frame": age,
            "consecutive_failures": self.consecutive_failures,
            "losses": self.losses,
            "reopen_attempts": self.attempts,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
        }
        if self.state == LOST and self.next_attempt_at is not None:
            out["next_attempt_in_s"] = round(max(0.0, self.next_attempt_at - now), 3)
        return out


class SupervisedSource:
    """A :class:`FrameSource` that reopens itself: ``read()`` never raises after the first open.

    ``open()`` raises :class:`CameraError` (a start-up error naming the source). Afterwards a
    source that stops delivering is closed and reopened per the policy; ``read()`` returns None
    meanwhile and ``status()`` says why.
    """

    def __init__(self, source: FrameSource, policy: ReconnectPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.policy = policy or ReconnectPolicy()
        self.clock = clock

    def open(self) -> None:
        self.source.open()
        self.policy.started(self.clock())

    def read(self) -> np.ndarray | None:
        now = self.clock()
        policy = self.policy
        if policy.state == LOST:
            if not policy.attempt_due(now):
                return None
            try:
                self.source.open()
            except CameraError as exc:
                policy.reopen_failed(now, str(exc))
                return None
            policy.reopened(now)
        elif policy.state == FINISHED:
            return None
        frame = self.source.read()
        now = self.clock()
        if frame is not None:
            policy.frame_received(now)
            return frame
        if self.source.finished:
            policy.finished()
            return None
        policy.read_failed(now)
        if policy.should_declare_lost(now):
            reason = (
                f"{policy.consecutive_failures} failed reads in a row"
                if policy.consecutive_failures >= policy.max_consecutive_failures
                else f"no frame for {now - (policy.last_frame_at or now):.2f} s"
            )
            self.source.close()
            policy.declare_lost(now, f"{self.source.kind} '{self.source.name}': {reason}")
        return None

    def close(self) -> None:
        self.source.close()

    @property
    def captured_ns(self) -> int:
        """Wall-clock ns at which the last frame left the source (before resizing)."""
        return self.source.captured_ns

    @property
    def healthy(self) -> bool:
        return self.policy.state == STREAMING

    def describe(self) -> str:
        return self.source.describe()

    def status(self) -> dict[str, str | int | float]:
        out = self.policy.status(self.clock())
        out["source"] = self.source.describe()
        return out
