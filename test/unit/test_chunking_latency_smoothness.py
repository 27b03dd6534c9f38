"""Specification: the executed path is as smooth behind a slow policy server as behind a fast one.

A chunk stream like a policy server's: observations every 33 ms (camera jitter), each chunk
anchored at where the arm was at capture (a lagged robot following the smoother's output), with
the same step-locked shape on top (the reference policy's chunks carry one), arriving after a round
trip with jitter, carrying the steps the client publishes (:class:`PublishedSteps`).
The smoother's output is sampled at 50 Hz with timer jitter. Seeded: the same stream every run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from egoscale_ros.chunking.chunk import make_chunk
from egoscale_ros.chunking.smoother import ChunkSmoother
from egoscale_ros.remote.client import PublishedSteps
from egoscale_ros.remote.scenario import second_difference_rms
from egoscale_ros.remote.spec import RemoteSpec

DT = 1 / 30
HORIZON = 30
#: a step-locked shape (metres): a slow reach with a zig-zag of about 0.3 mm from step to step
SHAPE = 1e-3 * (0.03 * np.arange(HORIZON) + 0.3 * np.array([0, -1, 0, -1, -1, 0, 1, 1, -1, -1] * 3)[:HORIZON])


def executed_path(round_trip_s: float, jitter_s: float = 0.006, seconds: float = 8.0, seed: int = 0):
    """``(time, wrist position)`` of every tick of the smoother, after the first two seconds."""
    rng = np.random.default_rng(seed)
    spec = RemoteSpec("gr00t", video={}, state=(), action=(), language="", horizon=HORIZON, dt=DT, execute_steps=12)
    smoother, published = ChunkSmoother("rtc"), PublishedSteps(spec)
    captures = np.arange(0.2, seconds, DT)
    captures = captures + rng.uniform(-0.0015, 0.0015, len(captures))
    arrivals = captures + round_trip_s + np.abs(rng.normal(0.0, jitter_s, len(captures)))
    ticks = np.arange(0.3, seconds, 0.02) + rng.uniform(0.0, 0.002, len(np.arange(0.3, seconds, 0.02)))
    arm, command, path, pending = 0.0, 0.0, [], []
    next_capture = next_tick = 0
    for t in np.arange(0.0, seconds, 0.001):
        arm += (1.0 - math.exp(-0.001 / 0.03)) * (command - arm)  # the robot lags its command by 30 ms
        while next_capture < len(captures) and captures[next_capture] <= t:
            steps = published.steps(arrivals[next_capture] - captures[next_capture])
            pending.append((arrivals[next_capture], captures[next_capture], arm + SHAPE[:steps]))
            next_capture += 1
        pending.sort(key=lambda p: p[0])
        while pending and pending[0][0] <= t:
            arrival, capture, x = pending.pop(0)
            poses = np.tile(np.eye(4), (len(x), 1, 1))
            poses[:, 0, 3] = x
            smoother.add(make_chunk(int(capture * 1e9), DT, {"left": poses}, None), now=arrival)
        while next_tick < len(ticks) and ticks[next_tick] <= t:
            sample = smoother.sample(ticks[next_tick])
            if sample.status == "tracking":
                command = float(sample.targets.wrist["left"][0, 3])
                path.append((ticks[next_tick], sample.targets.wrist["left"][:3, 3].copy()))
            next_tick += 1
    return [p for p in path if p[0] > 2.0]


@pytest.mark.parametrize("round_trip_s", [0.100, 0.165, 0.250])
def test_150_ms_of_server_latency_leaves_the_path_as_smooth_as_15_ms(round_trip_s):
    fast = second_difference_rms(executed_path(0.015))
    slow = second_difference_rms(executed_path(round_trip_s))
    assert slow <= 1.5 * fast, f"second difference {slow:.4f} mm at {round_trip_s * 1e3:.0f} ms vs {fast:.4f} mm at 15 ms"
