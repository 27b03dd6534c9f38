"""Joint feedback a command may start or resume from: complete, fresh, consistent, one source.

A command node starts (and resumes after an e-stop) from the measured pose, so that pose must be
the robot's. :class:`FeedbackFilter` takes whole messages only — each must carry every joint the
node commands, and the view is replaced, never merged from parts — judges each by its own stamp
(refused when stamped ahead of this clock beyond a tolerance, or older than the last accepted),
and refuses a message whose joints moved further since the last accepted one than any joint of
the robot can (a second publisher with other values, a glitch). :func:`source_verdict` judges
the publishers of the feedback topic: exactly the declared one (or, with none declared, exactly
one), else the feedback is untrusted and nothing may start from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class FeedbackCounters:
    accepted: int = 0
    partial: int = 0  # a required joint missing
    malformed: int = 0  # lengths disagree, NaN/inf
    future: int = 0  # stamped ahead of this clock beyond the tolerance
    out_of_order: int = 0  # older than the last accepted message
    inconsistent: int = 0  # moved faster than the joints can since the last accepted message

    def rejected(self) -> int:
        return self.partial + self.malformed + self.future + self.out_of_order + self.inconsistent


class FeedbackFilter:
    """Latest complete joint positions of ``joints`` and the stamp they carry.

    ``max_speed``: per joint of ``joints``, the fastest it can physically move (rad/s, e.g. the
    URDF velocity limit); ``slack`` absorbs sensor noise and stamp jitter.
    """

    def __init__(self, joints: Sequence[str], max_speed: np.ndarray, *, future_tolerance_s: float = 0.1,
                 slack_rad: float = 0.05, speed_factor: float = 1.5) -> None:
        self.joints = list(joints)
        self.max_speed = np.asarray(max_speed, dtype=float).reshape(-1)
        if self.max_speed.shape != (len(self.joints),):
            raise ValueError(f"max_speed: {self.max_speed.size} values for {len(self.joints)} joints")
        self.future_tolerance_s = float(future_tolerance_s)
        self.slack_rad = float(slack_rad)
        self.speed_factor = float(speed_factor)
        self.counters = FeedbackCounters()
        self.positions: dict[str, float] = {}  # every joint of the last accepted message
        self.vector: np.ndarray | None = None  # ``joints`` of it, in order
        self.stamp_s = -math.inf
        self.last_reason = ""

    def offer(self, names: Sequence[str], positions: Sequence[float], stamp_s: float, now_s: float) -> bool:
        """Take one message if it is whole, fresh and consistent; else count why (``last_reason``)."""
        c = self.counters
        if len(names) != len(positions):
            return self._refuse("malformed", f"{len(names)} names but {len(positions)} positions")
        values = dict(zip(names, positions))
        missing = [j for j in self.joints if j not in values]
        if missing:
            return self._refuse("partial", f"joint(s) {missing[:3]} missing ({len(missing)} of {len(self.joints)})")
        q = np.array([values[j] for j in self.joints], dtype=float)
        if not np.isfinite(q).all():
            return self._refuse("malformed", f"non-finite position for '{self.joints[int(np.argmax(~np.isfinite(q)))]}'")
        if stamp_s > now_s + self.future_tolerance_s:
            return self._refuse("future", f"stamped {stamp_s - now_s:.3f} s ahead of this clock")
        if self.vector is not None:
            if stamp_s < self.stamp_s:
                return self._refuse("out_of_order", f"stamp {self.stamp_s - stamp_s:.3f} s older than the last")
            reach = self.max_speed * self.speed_factor * (stamp_s - self.stamp_s) + self.slack_rad
            jump = np.abs(q - self.vector) - reach
            if (jump > 0).any():
                i = int(np.argmax(jump))
                return self._refuse("inconsistent", f"'{self.joints[i]}' moved {abs(q[i] - self.vector[i]):.3f} rad "
                                                    f"in {stamp_s - self.stamp_s:.3f} s")
        self.positions = {str(n): float(p) for n, p in values.items()}
        self.vector = q
        self.stamp_s = float(stamp_s)
        c.accepted += 1
        return True

    def age_s(self, now_s: float) -> float:
        """Age of the last accepted message by its own stamp (inf before the first)."""
        return now_s - self.stamp_s

    def forget(self) -> None:
        """Start over (e.g. when the source changed): the next whole message is taken as is."""
        self.positions, self.vector, self.stamp_s = {}, None, -math.inf

    def _refuse(self, counter: str, reason: str) -> bool:
        setattr(self.counters, counter, getattr(self.counters, counter) + 1)
        self.last_reason = f"{counter}: {reason}"
        return False


def source_verdict(publishers: Sequence[str], declared: str = "") -> str:
    """'' when the feedback topic's publishers are acceptable, else why not.

    ``publishers``: one node name per publisher (endpoint), so two publishers of one node count
    twice. With a ``declared`` source node, it must be the only publisher; without, there must
    be exactly one.
    """
    pubs = sorted(publishers)
    if not pubs:
        return "no publisher"
    if declared:
        foreign = [p for p in pubs if p != declared]
        if foreign:
            return f"foreign publisher(s) {', '.join(foreign)} (declared source: {declared})"
    if len(pubs) > 1:
        return f"{len(pubs)} publishers ({', '.join(pubs)}); one source is required"
    return ""


def max_speeds(velocity: Mapping[str, float], joints: Sequence[str], fallback: float) -> np.ndarray:
    """Per-joint physical speed bounds for the consistency check (``fallback`` where unlimited)."""
    return np.array([velocity[j] if math.isfinite(velocity.get(j, math.inf)) else fallback for j in joints])
