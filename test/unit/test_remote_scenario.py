"""Figures of the policy-server demo, computed from recorded traces."""

from __future__ import annotations

import numpy as np

from egoscale_ros.remote.scenario import (
    hold_after,
    max_step,
    reported_after,
    resumed_after,
    second_difference_rms,
)


def _trace(values, dt=0.02):
    return [(k * dt, np.atleast_1d(np.asarray(v, dtype=float))) for k, v in enumerate(values)]


def test_second_difference_of_a_straight_constant_speed_path_is_zero_and_of_a_kink_is_not():
    line = [(k * 0.02, np.array([[0.001 * k, 0, 0]])) for k in range(50)]
    assert second_difference_rms(line) < 1e-9
    kink = line[:25] + [(t, x * [[1, 0, 0]] + [[0, 0.001 * (k - 24), 0]]) for k, (t, x) in enumerate(line[25:], 25)]
    assert second_difference_rms(kink) > 0.0


def test_hold_is_the_last_motion_after_the_kill():
    trace = _trace([0, 1e-3, 2e-3, 3e-3, 3e-3, 3e-3, 3e-3])  # moves until t = 0.06, then still
    assert hold_after(trace, since=0.03, until=1.0) == 0.03
    assert hold_after(trace, since=0.07, until=1.0) == 0.0


def test_resume_and_steps():
    trace = _trace([0, 0, 0, 0.01, 0.03])
    assert resumed_after(trace, since=0.02) == 0.04
    assert max_step(trace, 0.0, 1.0) == 0.02
    assert resumed_after(_trace([0, 0, 0]), since=0.0) is None


def test_report_is_the_first_diagnostic_saying_the_server_is_not_answering():
    history = [(1.0, {"server_answering": "True"}), (1.2, {"server_answering": "True"}),
               (1.45, {"server_answering": "False"}), (1.5, {"server_answering": "False"})]
    assert reported_after(history, since=1.1) == 0.35
    assert reported_after(history[:2], since=1.1) is None
