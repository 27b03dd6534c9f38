"""Scoring reaching episodes from joint states: success, time to success, and the run's summary.

An episode succeeds at the first joint state (sampled by the evaluation) in which the reaching
wrist is within :data:`~egoscale_ros.reach.task.SUCCESS_RADIUS_M` of the ball and the hand is
closed, if that happens within the episode's time limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from egoscale_ros.reach.task import EPISODE_S, ReachTask


@dataclass
class EpisodeResult:
    index: int
    ball: list[float]
    success: bool
    time_to_success_s: float | None
    min_distance_m: float
    final_distance_m: float
    final_closure: float
    seconds: float
    chunks: int

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("min_distance_m", "final_distance_m", "final_closure", "seconds"):
            out[key] = round(float(out[key]), 4)
        out["ball"] = [round(float(v), 4) for v in self.ball]
        if self.time_to_success_s is not None:
            out["time_to_success_s"] = round(self.time_to_success_s, 3)
        return out


class EpisodeScorer:
    """Feed it ``(time since the episode started, joint positions)``; it says when the episode is over."""

    def __init__(self, task: ReachTask, ball: np.ndarray, limit_s: float = EPISODE_S):
        self.task = task
        self.ball = np.asarray(ball, dtype=float)
        self.limit_s = float(limit_s)
        self.time_to_success: float | None = None
        self.min_distance = float("inf")
        self.distance = float("nan")
        self.closure = float("nan")
        self.elapsed = 0.0

    def observe(self, t: float, joint_positions: Mapping[str, float]) -> bool:
        """Score one joint state; True once the episode is decided (success or time is up)."""
        self.elapsed = min(float(t), self.limit_s)
        if t > self.limit_s:
            return True
        success, self.distance, self.closure = self.task.is_success(joint_positions, self.ball)
        self.min_distance = min(self.min_distance, self.distance)
        if success and self.time_to_success is None:
            self.time_to_success = float(t)
        return self.time_to_success is not None

    def result(self, index: int, chunks: int) -> EpisodeResult:
        return EpisodeResult(index, self.ball.tolist(), self.time_to_success is not None, self.time_to_success,
                             self.min_distance, self.distance, self.closure, self.elapsed, chunks)


def summarise(results: Sequence[EpisodeResult]) -> dict:
    """Success rate, time to success (over successes) and chunk rate (over episode time)."""
    n = len(results)
    times = [r.time_to_success_s for r in results if r.time_to_success_s is not None]
    seconds = sum(r.seconds for r in results)

    def stat(values, fn):
        return round(float(fn(values)), 3) if len(values) else None

    return {
        "episodes": n,
        "successes": len(times),
        "success_rate": round(len(times) / n, 3) if n else 0.0,
        "time_to_success_s_median": stat(times, np.median),
        "time_to_success_s_mean": stat(times, np.mean),
        "time_to_success_s_max": stat(times, np.max),
        "min_distance_m_median": stat([r.min_distance_m for r in results], np.median),
        "chunk_rate_hz": round(sum(r.chunks for r in results) / seconds, 2) if seconds > 0 else 0.0,
    }
