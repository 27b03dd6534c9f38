"""Specification of the usual delay of a chunk stream (a high quantile of the recent delays)."""

import math

import pytest

from egoscale_ros.chunking.delay import DelaySteps, RecentDelay


def test_it_is_a_high_quantile_of_the_recent_delays_and_always_one_of_them():
    delay = RecentDelay(memory=10, quantile=0.9)
    for d in (0.160, 0.171, 0.165, 0.162, 0.169, 0.158, 0.170, 0.163, 0.166, 0.200):
        delay.add(d)
    assert delay.value == pytest.approx(0.171)  # the 9th of 10: one late reply does not set it
    assert RecentDelay(memory=10, quantile=1.0).add(0.3) == pytest.approx(0.3)


def test_it_forgets_beyond_its_memory_and_ignores_what_is_not_a_number():
    delay = RecentDelay(memory=3, quantile=1.0)
    for d in (0.5, 0.1, 0.1, 0.1, math.nan, math.inf):
        delay.add(d)
    assert delay.value == pytest.approx(0.1)


def test_it_is_zero_before_any_delay_and_after_a_reset():
    delay = RecentDelay()
    assert delay.value == 0.0
    delay.add(0.2)
    delay.reset()
    assert delay.value == 0.0


@pytest.mark.parametrize("memory, quantile", [(0, 0.9), (5, 1.5), (5, -0.1)])
def test_a_bad_memory_or_quantile_is_refused(memory, quantile):
    with pytest.raises(ValueError, match="memory"):
        RecentDelay(memory, quantile)


def test_delay_steps_round_up_and_hold_while_the_delay_hovers_at_a_boundary():
    steps = DelaySteps(dt=0.1, hysteresis=0.25)
    assert steps.update(0.55) == 6
    for delay in (0.61, 0.59, 0.62, 0.58):  # about 6.0 steps: no flip-flop
        assert steps.update(delay) == 6
    assert steps.update(0.63) == 7  # a quarter step past the boundary
    assert steps.update(0.58) == 7
    assert steps.update(0.57) == 6  # a quarter step below it
    assert steps.update(0.0) == 0
    steps.reset()
    assert steps.update(0.61) == 7
    with pytest.raises(ValueError, match="dt"):
        DelaySteps(0.0)
