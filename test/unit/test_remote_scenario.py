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


def test_a_smooth_path_sampled_at_late_ticks_is_smooth_by_time_but_not_tick_by_tick():
    # A wrist moving at 0.1 m/s, sampled by a 50 Hz timer whose ticks come up to 5 ms late: the
    # path is a straight line, the lateness is the computer's.
    rng = np.random.default_rng(3)
    times = np.arange(200) * 0.02 + rng.uniform(0.0, 0.005, 200)
    late = [(t, np.array([[0.1 * t, 0.0, 0.0]])) for t in times]
    assert second_difference_rms(late) < 1e-9
    assert second_difference_rms(late, by_time=False) > 0.1  # mm: about 0.1 m/s x 2.5 ms of spread


def test_evenly_spaced_samples_give_the_plain_second_difference_either_way():
    rng = np.random.default_rng(4)
    path = [(k * 0.02, rng.normal(size=(2, 3)) * 1e-3) for k in range(30)]
    x = np.stack([p for _, p in path])
    plain = np.sqrt(np.mean(np.sum((x[2:] - 2 * x[1:-1] + x[:-2]).reshape(28, -1) ** 2, axis=-1))) * 1e3
    assert np.isclose(second_difference_rms(path), plain, rtol=1e-6)
    assert np.isclose(second_difference_rms(path, by_time=False), plain, rtol=1e-12)


def test_samples_that_are_not_a_time_series_give_no_figure():
    same_instant = [(0.0, np.zeros(3)), (0.02, np.zeros(3)), (0.02, np.ones(3))]
    assert second_difference_rms(same_instant) is None


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
