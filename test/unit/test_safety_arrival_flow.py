"""Specification of the feedback flow verdict (late by the messages' own stamps, or thinning out):
read from a ring of arrays, exactly as if every recorded arrival were filtered one by one."""

from __future__ import annotations

import random

import numpy as np

from egoscale_ros.safety.arrival_flow import ArrivalFlow


def every_arrival_verdict(arrivals, now, window_s=0.5, late_s=0.05, lost=0.2, topic="joint_states") -> str:
    """The verdict from all of ``arrivals`` (the plain filter the walk from the newest must equal)."""
    if len(arrivals) < 20:
        return ""
    recent = [(a, s) for a, s in arrivals if a >= now - window_s]
    if recent:
        delay = max(a - s for a, s in recent)
        if delay > late_s:
            return f"{topic} {delay * 1e3:.0f} ms old on arrival (late)"
    period = float(np.percentile(np.diff([s for _, s in arrivals]), 20))
    if period > 0:
        expected = window_s / period
        if expected >= 10 and len(recent) < (1 - lost) * expected:
            return f"{topic}: {100 * (1 - len(recent) / expected):.0f}% lost in the last {window_s:g} s"
    return ""


def test_a_steady_stream_flows_and_fewer_than_twenty_messages_say_nothing():
    flow = ArrivalFlow()
    for i in range(19):
        flow.record(i * 0.01 + 0.002, i * 0.01)
    assert flow.problem("joint_states", 0.2) == ""
    for i in range(19, 200):
        flow.record(i * 0.01 + 0.002, i * 0.01)
    assert flow.problem("joint_states", 2.0) == ""


def test_late_messages_are_reported_by_their_own_stamps():
    flow = ArrivalFlow()
    for i in range(200):
        flow.record(i * 0.01 + (0.08 if i > 180 else 0.002), i * 0.01)
    assert flow.problem("joint_states", 2.0) == "joint_states 80 ms old on arrival (late)"


def test_a_thinning_stream_is_reported_as_a_share_lost():
    flow = ArrivalFlow()
    for i in range(200):
        if i < 150 or i % 2 == 0:
            flow.record(i * 0.01 + 0.002, i * 0.01)
    assert flow.problem("joint_states", 2.0) == "joint_states: 50% lost in the last 0.5 s"


def test_the_verdict_equals_filtering_every_arrival_even_when_the_clock_steps_back():
    rng = random.Random(7)
    flow = ArrivalFlow(400)
    t = 0.0
    for n in range(3000):
        t += rng.choice([0.005, 0.005, 0.005, 0.02, 0.3])
        step_back = rng.choice([0.0] * 20 + [0.05, 0.4, 0.9])  # the arrival clock set back
        arrival = t - step_back + rng.uniform(0.0, 0.06)
        flow.record(arrival, t)
        if n % 7 == 0:
            now = arrival + rng.uniform(-0.2, 0.8)
            flow._period_at = (-np.inf, 0.0)  # estimate the period afresh, as the plain filter does
            assert flow.problem("joint_states", now) == every_arrival_verdict(list(flow.arrivals), now)
