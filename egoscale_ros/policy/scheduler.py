"""The inference loop of the policy node, independent of ROS.

One worker thread runs inference so that a slow model never delays subscriptions. It works only
on the newest data: each cycle it asks for a fresh observation (``build``), runs the policy and
hands the result to ``publish``. At most one local inference is in flight, nothing is queued; a cycle
starts no earlier than one period after the previous one, and when inference takes longer than
the period the next cycle starts at once, so the node publishes as fast as it can and the
statistics report the rate it really achieves.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np


def allowed_cpus() -> set[int]:
    """CPUs this process may run on (all CPUs where the OS has no affinity call)."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


class RollingStats:
    """Latency percentiles and event rate over a sliding window."""

    def __init__(self, window: int = 300, rate_window_s: float = 5.0):
        self.latencies_ms: deque[float] = deque(maxlen=window)
        self.events: deque[float] = deque(maxlen=10 * window)
        self.rate_window_s = rate_window_s
        self.stages: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def record(self, latency_ms: float, stages_ms: dict[str, float] | None = None, t: float | None = None) -> None:
        with self._lock:
            self.latencies_ms.append(float(latency_ms))
            self.events.append(time.monotonic() if t is None else t)
            for k, v in (stages_ms or {}).items():
                self.stages.setdefault(k, deque(maxlen=self.latencies_ms.maxlen)).append(float(v))

    def percentile(self, q: float) -> float:
        with self._lock:
            return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def stage_medians(self) -> dict[str, float]:
        with self._lock:
            return {k: float(np.median(v)) for k, v in self.stages.items() if v}

    def rate_hz(self, now: float | None = None) -> float:
        """Events per second over the last ``rate_window_s`` (0 when fewer than two events)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = [t for t in self.events if now - t <= self.rate_window_s]
        if len(recent) < 2:
            return 0.0
        span = recent[-1] - recent[0]
        return (len(recent) - 1) / span if span > 0 else 0.0


class InferenceLoop:
    """Worker thread: ``wait_for_data`` -> ``build`` -> ``infer`` -> ``publish`` at up to ``rate_hz``.

    ``build()`` returns an observation or None (not ready: nothing is run). ``infer(obs)`` returns
    a result (its ``stages_ms`` dict, if any, is recorded per stage, its ``total_ms`` in
    :attr:`inference`); ``publish(obs, result)`` sends it. ``infer`` returning None means the
    observation was handed on (a pipelined policy server client publishes the reply from its own
    thread and calls :meth:`record`): nothing is published for it here. :attr:`stats` records whole cycles,
    observation built to chunk published. Exceptions in a cycle are counted and handed to
    ``on_error`` and the loop goes on.
    """

    def __init__(self, rate_hz: float, build: Callable[[], Any], infer: Callable[[Any], Any],
                 publish: Callable[[Any, Any], None], wait_for_data: Callable[[float], bool] | None = None,
                 on_error: Callable[[Exception], None] | None = None, stats: RollingStats | None = None,
                 cpu: int | None = None):
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        if cpu is not None and cpu not in allowed_cpus():
            raise ValueError(f"cpu {cpu} is not one this process may run on {sorted(allowed_cpus())}")
        self.cpu = cpu
        self.period_s = 1.0 / rate_hz
        self.build, self.infer, self.publish = build, infer, publish
        self.wait_for_data = wait_for_data or (lambda timeout: True)
        self.on_error = on_error
        self.stats = stats or RollingStats()  # whole cycles: observation built -> chunk published
        self.inference = RollingStats()  # the result's own ``total_ms`` (the policy pipeline)
        self.errors = 0
        self.cycles = 0
        self.overruns = 0  # cycles whose inference took longer than the period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="policy-inference", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to end after the current cycle (safe from inside a callback)."""
        self._stop.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def record(self, started: float, result: Any, stages_ms: dict[str, float] | None = None) -> None:
        """Count one finished cycle that began at ``started`` (monotonic s); the loop calls it for
        its own cycles, a pipelined policy for each result it publishes from its own thread."""
        self.cycles += 1
        now = time.monotonic()
        stages = {**(getattr(result, "stages_ms", None) or {}), **(stages_ms or {})}
        self.stats.record((now - started) * 1e3, stages)
        if hasattr(result, "total_ms"):
            self.inference.record(result.total_ms, t=now)

    def _run(self) -> None:
        if self.cpu is not None:
            # Only this thread: it keeps its caches and is not migrated away by executor wake-ups.
            os.sched_setaffinity(0, {self.cpu})
        # Cycles start on a fixed grid of period_s (not "period after the last start"), so jitter
        # of the camera and of inference does not accumulate into a lower rate.
        next_start = time.monotonic()
        while not self._stop.is_set():
            delay = next_start - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            if not self.wait_for_data(0.1):
                continue
            started = time.monotonic()
            try:
                obs = self.build()
                if obs is None:  # not ready (no joint state yet, stale frame): try again shortly
                    self._stop.wait(min(0.01, self.period_s))
                    continue
                built = time.monotonic()
                result = self.infer(obs)
                inferred = time.monotonic()
                if result is not None:
                    self.publish(obs, result)
            except Exception as exc:  # one bad cycle must not kill the node
                self.errors += 1
                if self.on_error is not None:
                    self.on_error(exc)
                continue
            now = time.monotonic()
            if result is not None:
                self.record(started, result, {"observe": (built - started) * 1e3, "publish": (now - inferred) * 1e3})
            if now - started > self.period_s:
                self.overruns += 1
            next_start += self.period_s
            if next_start < now - self.period_s:
                next_start = now  # fell behind (slow inference or no data): restart the grid now
