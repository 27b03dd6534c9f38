"""Specification of the chunk smoother: execution by time, refusals, starvation, and each mode."""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest

from egoscale_ros.chunking.chunk import make_chunk, ns_from_seconds
from egoscale_ros.chunking.rtc import previous_plan_weight
from egoscale_ros.chunking.smoother import ChunkSmoother, make_mode
from egoscale_ros.kinematics import se3

DT = 0.05
H = 10


def hand_chunk(stamp: float, values, dt: float = DT):
    """A hand-only chunk whose single joint follows ``values`` (one per step)."""
    return make_chunk(ns_from_seconds(stamp), dt, hand={"left": np.asarray(values, float).reshape(-1, 1)})


def ramp(stamp: float, offset: float = 0.0, slope: float = 1.0, h: int = H):
    """Joint value = offset + slope·(due time): chunks of one smooth trajectory when offsets agree."""
    return hand_chunk(stamp, [offset + slope * (stamp + k * DT) for k in range(h)])


def joint(sample) -> float:
    return float(sample.targets.hand["left"][0])


def wrist_chunk(stamp: float, yaw: float, x: float, h: int = H):
    pose = se3.make_transform(se3.so3_exp(np.array([0.0, 0.0, yaw])), np.array([x, 0.0, 0.0]))
    return make_chunk(ns_from_seconds(stamp), DT, wrist={"right": np.repeat(pose[None], h, axis=0)})


# -- execution by time ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["latest", "temporal_ensemble", "rtc"])
def test_actions_are_executed_by_time_so_latency_is_skipped(mode):
    smoother = ChunkSmoother(mode)
    chunk = hand_chunk(10.0, np.arange(H))  # step k has value k
    assert smoother.add(chunk, now=10.12).accepted  # 120 ms inference latency
    first = smoother.sample(10.12)
    assert first.status == "tracking"
    assert joint(first) == pytest.approx(2.4)  # step 2.4 is due now; steps 0..2 are skipped
    assert joint(smoother.sample(10.3)) == pytest.approx(6.0)
    assert first.remaining_s == pytest.approx(10.0 + (H - 1) * DT - 10.12)


def test_before_any_chunk_the_smoother_is_waiting():
    smoother = ChunkSmoother()
    out = smoother.sample(0.0)
    assert out.targets is None and out.status == "waiting"
    assert smoother.counters.starved_ticks == 0


def test_stale_out_of_order_and_invalid_chunks_are_refused_and_counted():
    smoother = ChunkSmoother()
    assert smoother.add(ramp(1.0), now=1.05).accepted
    stale = smoother.add(ramp(2.0), now=5.0)  # arrived after its last step was due
    assert not stale.accepted and stale.reason.startswith("stale")
    late = smoother.add(ramp(0.9), now=1.1)
    assert not late.accepted and late.reason.startswith("out of order")
    dup = smoother.add(ramp(1.0), now=1.1)
    assert not dup.accepted
    bad = smoother.offer(ns_from_seconds(1.2), DT, None, {"left": np.array([[np.nan]])}, now=1.2)
    assert not bad.accepted and "hand['left']" in bad.reason
    other = smoother.offer(ns_from_seconds(1.3), DT, None, {"left": np.zeros((H, 2))}, now=1.3)
    assert not other.accepted and "layout" in other.reason
    c = smoother.counters
    assert (c.chunks_received, c.chunks_accepted, c.dropped_stale, c.dropped_out_of_order) == (6, 1, 1, 2)
    assert (c.rejected_invalid, c.rejected_layout) == (1, 1)


def test_when_chunks_run_out_the_last_output_is_held_and_reported_starved():
    smoother = ChunkSmoother()
    smoother.add(hand_chunk(0.0, np.arange(H)), now=0.0)
    end = (H - 1) * DT
    held = joint(smoother.sample(end))
    out = smoother.sample(end + 0.2)
    assert out.status == "starved" and joint(out) == held and out.remaining_s == 0.0
    smoother.sample(end + 0.3)
    assert smoother.counters.starved_ticks == 2
    assert out.chunks_buffered == 0  # the fully past chunk was dropped
    assert ChunkSmoother(hold_when_starved=False).sample(0.0).targets is None


@pytest.mark.parametrize("mode", ["latest", "temporal_ensemble", "rtc"])
def test_resuming_after_starvation_fades_from_the_held_output(mode):
    smoother = ChunkSmoother(mode, crossfade_s=0.1)
    smoother.add(hand_chunk(0.0, np.zeros(H)), now=0.0)
    smoother.sample(0.4)
    assert smoother.sample(0.6).status == "starved"
    smoother.add(hand_chunk(0.6, np.full(H, 1.0)), now=0.6)
    values = [joint(smoother.sample(0.6 + 0.01 * i)) for i in range(15)]
    assert values[0] == pytest.approx(0.0)
    assert np.all(np.diff(values) >= -1e-12) and np.max(np.diff(values)) <= 0.1 + 1e-9
    assert values[10] == pytest.approx(1.0) and values[14] == pytest.approx(1.0)


def test_buffer_is_bounded_and_past_chunks_are_dropped():
    smoother = ChunkSmoother("temporal_ensemble", max_chunks=3)
    for i in range(5):
        smoother.add(ramp(i * 0.01), now=i * 0.01)
    assert smoother.counters.dropped_overflow == 2
    assert smoother.sample(0.05).chunks_buffered == 3
    assert smoother.sample(1.0).chunks_buffered == 0
    assert smoother.counters.chunks_expired == 3


@pytest.mark.parametrize("mode", ["latest", "temporal_ensemble", "rtc"])
def test_an_expired_chunk_is_freed_at_the_next_arrival_not_during_the_tick(mode):
    """Freeing a chunk (its tables are many small objects) is left to the arrival path, which
    builds a chunk anyway; the chunk is not held beyond it."""
    smoother = ChunkSmoother(mode)
    first = ramp(0.0, h=3)
    smoother.add(first, now=0.0)
    smoother.add(ramp(0.05), now=0.05)
    gone = weakref.ref(first)
    del first
    assert smoother.sample(0.2).chunks_buffered == 1 and smoother.counters.chunks_expired == 1
    gc.collect()
    assert gone() is not None  # expired at that tick, not yet freed
    smoother.add(ramp(0.1), now=0.2)
    smoother.sample(0.25)
    gc.collect()
    assert gone() is None


def test_reset_forgets_chunks_and_output():
    smoother = ChunkSmoother()
    smoother.add(ramp(0.0), now=0.0)
    smoother.sample(0.1)
    smoother.reset()
    assert smoother.sample(0.1).status == "waiting"
    assert smoother.add(ramp(0.0), now=0.0).accepted  # stamps may start over after a reset


def test_unknown_mode_or_parameter_is_refused():
    with pytest.raises(ValueError, match="unknown execution mode 'fastest'"):
        ChunkSmoother("fastest")
    with pytest.raises(ValueError, match="temporal_ensemble"):
        make_mode("temporal_ensemble", k=0.1)


def test_wrist_and_hand_targets_come_out_together_and_finite():
    smoother = ChunkSmoother("rtc")
    rng = np.random.default_rng(1)
    for i in range(20):
        stamp = i / 30.0
        poses = np.stack([se3.make_transform(se3.quat_to_matrix(rng.normal(size=4)), rng.normal(size=3))
                          for _ in range(H)])
        smoother.offer(ns_from_seconds(stamp), DT, {"left": poses}, {"left": rng.normal(size=(H, 22))}, now=stamp + 0.04)
        out = smoother.sample(stamp + 0.045)
        assert set(out.targets.wrist) == {"left"} and out.targets.hand["left"].shape == (22,)
        assert out.targets.is_finite()
        rot = out.targets.wrist["left"][:3, :3]
        np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-9)


# -- latest -----------------------------------------------------------------------------------------

def test_latest_newest_chunk_wins_after_a_crossfade():
    smoother = ChunkSmoother("latest", crossfade_s=0.1)
    smoother.add(hand_chunk(0.0, np.zeros(H)), now=0.0)
    assert joint(smoother.sample(0.1)) == 0.0
    smoother.add(hand_chunk(0.1, np.ones(H)), now=0.1)
    assert joint(smoother.sample(0.1)) == pytest.approx(0.0)  # switch tick: still the old output
    assert joint(smoother.sample(0.15)) == pytest.approx(0.5)
    assert joint(smoother.sample(0.2)) == pytest.approx(1.0)
    assert joint(smoother.sample(0.3)) == pytest.approx(1.0)


def test_latest_without_crossfade_switches_at_once():
    smoother = ChunkSmoother("latest", crossfade_s=0.0)
    smoother.add(hand_chunk(0.0, np.zeros(H)), now=0.0)
    smoother.sample(0.05)
    smoother.add(hand_chunk(0.05, np.ones(H)), now=0.06)
    assert joint(smoother.sample(0.06)) == 1.0


def test_latest_stays_continuous_when_chunks_arrive_faster_than_the_crossfade():
    """30 Hz chunks with 40 ms latency, each disagreeing by ±0.05 with the last: the output steps
    between 4 ms ticks stay near the trajectory's own speed instead of jumping by 0.1."""
    smoother = ChunkSmoother("latest", crossfade_s=0.1)
    outputs, t, next_chunk, i = [], 0.0, 0.0, 0
    while t < 2.0:
        if t >= next_chunk + 0.04:
            smoother.add(ramp(next_chunk, offset=0.05 * (-1) ** i), now=t)
            next_chunk += 1 / 30
            i += 1
        sample = smoother.sample(t)
        if sample.targets is not None:
            outputs.append(joint(sample))
        t += 0.004
    steps = np.abs(np.diff(outputs))
    assert steps.max() < 0.025  # trajectory speed 1/s → 0.004 per tick; a raw switch would be 0.1


# -- temporal ensemble --------------------------------------------------------------------------------

def test_temporal_ensemble_weights_older_predictions_by_exp_minus_m_i():
    m = 0.5
    smoother = ChunkSmoother("temporal_ensemble", mode_params={"m": m})
    for i, value in enumerate([0.0, 1.0, 2.0]):  # oldest predicts 0, newest 2
        smoother.add(hand_chunk(0.01 * i, np.full(H, value)), now=0.02)
    w = np.exp(-m * np.arange(3))
    assert joint(smoother.sample(0.05)) == pytest.approx(float(w @ [0.0, 1.0, 2.0] / w.sum()))


def test_temporal_ensemble_default_is_acts_m_and_only_covering_chunks_count():
    smoother = ChunkSmoother("temporal_ensemble")
    assert smoother.mode.m == 0.01
    smoother.add(hand_chunk(0.0, np.full(3, 5.0)), now=0.0)  # covers [0, 0.1]
    smoother.add(hand_chunk(0.05, np.full(H, 1.0)), now=0.05)
    w = np.exp(-0.01 * np.arange(2))
    assert joint(smoother.sample(0.06)) == pytest.approx(float(w @ [5.0, 1.0] / w.sum()))
    assert joint(smoother.sample(0.2)) == pytest.approx(1.0)  # the short chunk has ended


def test_temporal_ensemble_averages_wrist_rotations_on_the_geodesic():
    smoother = ChunkSmoother("temporal_ensemble", mode_params={"m": 0.0})
    smoother.add(wrist_chunk(0.0, yaw=0.2, x=0.0), now=0.0)
    smoother.add(wrist_chunk(0.01, yaw=0.6, x=1.0), now=0.01)
    pose = smoother.sample(0.02).targets.wrist["right"]
    np.testing.assert_allclose(se3.so3_log(pose[:3, :3]), [0.0, 0.0, 0.4], atol=1e-9)
    np.testing.assert_allclose(pose[:3, 3], [0.5, 0.0, 0.0], atol=1e-12)


# -- real-time chunking --------------------------------------------------------------------------------

# W(c) = c² (3 − 2c), evaluated by hand (not by the code under test) at c = 0.75, 0.5, 0.25 of
# the overlap left.
MASK = {1.25: 0.84375, 1.5: 0.5, 1.75: 0.15625}


def test_rtc_mask_decays_from_one_to_zero():
    assert previous_plan_weight(0.9, arrival=1.0, overlap_end=2.0) == 1.0
    assert previous_plan_weight(1.0, arrival=1.0, overlap_end=2.0) == 1.0
    for t, expected in MASK.items():
        assert previous_plan_weight(t, arrival=1.0, overlap_end=2.0) == pytest.approx(expected, abs=1e-12)
    assert previous_plan_weight(2.0, arrival=1.0, overlap_end=2.0) == 0.0
    ws = [previous_plan_weight(t, 1.0, 2.0) for t in np.linspace(1.0, 2.0, 50)]
    assert np.all(np.diff(ws) <= 0)


def test_rtc_mask_is_flat_where_the_blend_starts_and_ends():
    # The mask weighs executed targets: a slope where the blend starts would be a step in the
    # path's velocity, sharper the shorter the overlap a late chunk leaves.
    for overlap in (0.1, 0.3, 1.0):
        eps = 1e-4 * overlap
        start_slope = (1.0 - previous_plan_weight(1.0 + eps, 1.0, 1.0 + overlap)) / eps
        end_slope = previous_plan_weight(1.0 + overlap - eps, 1.0, 1.0 + overlap) / eps
        assert start_slope * overlap < 1e-3 and end_slope * overlap < 1e-3


def test_rtc_freezes_steps_due_during_inference_then_blends_to_the_new_chunk():
    smoother = ChunkSmoother("rtc")
    smoother.add(hand_chunk(0.0, np.zeros(H)), now=0.0)  # previous plan: 0 until t = 0.45
    smoother.sample(0.05)
    smoother.add(hand_chunk(0.1, np.ones(H)), now=0.15)  # inferred from t=0.1, arrived at 0.15
    # Steps of the new chunk due during inference (0.1..0.15) are frozen to the previous plan.
    assert joint(smoother.sample(0.12)) == 0.0
    assert joint(smoother.sample(0.15)) == 0.0
    # Then the new chunk's weight is 1 − W(c), c = (0.45 − t) / 0.3 = 0.5 at t = 0.3.
    assert joint(smoother.sample(0.3)) == pytest.approx(1 - MASK[1.5], abs=1e-9)
    assert joint(smoother.sample(0.45)) == pytest.approx(1.0)
    assert joint(smoother.sample(0.5)) == pytest.approx(1.0)


def test_rtc_blend_window_can_be_capped():
    smoother = ChunkSmoother("rtc", mode_params={"blend_s": 0.1})
    smoother.add(hand_chunk(0.0, np.zeros(H)), now=0.0)
    smoother.add(hand_chunk(0.1, np.ones(H)), now=0.15)
    assert 0.0 < joint(smoother.sample(0.2)) < 1.0
    assert joint(smoother.sample(0.25)) == pytest.approx(1.0)


def test_rtc_is_continuous_under_back_to_back_arrivals():
    smoother = ChunkSmoother("rtc")
    outputs, t, next_chunk, i = [], 0.0, 0.0, 0
    while t < 2.0:
        if t >= next_chunk + 0.05:
            smoother.add(ramp(next_chunk, offset=0.05 * (-1) ** i), now=t)
            next_chunk += 1 / 30
            i += 1
        sample = smoother.sample(t)
        if sample.targets is not None:
            outputs.append(joint(sample))
        t += 0.004
    assert np.abs(np.diff(outputs)).max() < 0.025
    assert smoother.counters.chunks_expired > 0 and smoother.sample(t).chunks_buffered <= 15  # ≈ horizon / chunk period


def _zigzag_stream(arrival_delays, period: float = DT, seconds: float = 3.0, tick: float = 0.02):
    """Chunks every ``period`` of one slow ramp with a step-locked zig-zag on top (what a policy's
    chunks may carry), each arriving after its delay from ``arrival_delays`` (cycled); the joint
    at every tick."""
    smoother = ChunkSmoother("rtc")
    zigzag = 0.01 * (-1.0) ** np.arange(H)
    stamps = np.arange(0.0, seconds, period)
    arrivals = [s + arrival_delays[i % len(arrival_delays)] for i, s in enumerate(stamps)]
    outputs, i = [], 0
    for t in np.arange(0.5, seconds - 0.5, tick):
        while i < len(stamps) and arrivals[i] <= t:
            smoother.add(hand_chunk(stamps[i], 0.1 * (stamps[i] + np.arange(H) * DT) + zigzag), now=arrivals[i])
            i += 1
        outputs.append(joint(smoother.sample(t)))
    return np.array(outputs)


def test_rtc_blend_starts_where_the_streams_usual_delay_says_not_where_each_arrival_falls():
    """Replies whose delay jitters across a step boundary (144 and 156 ms, the step due 150 ms
    after the stamp): started at each chunk's own arrival, one blend would start a step earlier
    than the next and every chunk would join with a mask of another shape. Started after the
    stream's usual delay, the executed path is the one of a stream that arrives that late every time."""
    jittered = _zigzag_stream([0.144, 0.156])  # across the step due at 0.15 s after the stamp
    steady = _zigzag_stream([0.156])
    np.testing.assert_allclose(jittered, steady, atol=1e-12)


def test_rtc_a_chunk_joining_between_two_steps_moves_the_target_by_a_fraction_of_a_percent():
    """The blend starts at the arrival itself, not at the next step: the step after it takes a
    little of the new chunk, at most 4/9 · (dt / overlap)² of the disagreement at once."""
    smoother = ChunkSmoother("rtc")
    for arrival in (0.1 + DT / 3, 0.1 + DT / 2, 0.1 + 0.9 * DT):
        smoother.reset()
        smoother.add(hand_chunk(0.0, np.zeros(H)), now=0.0)  # previous plan: 0 until t = 0.45
        before = joint(smoother.sample(arrival))
        smoother.add(hand_chunk(0.1, np.ones(H)), now=arrival)  # disagrees by 1 everywhere
        moved = abs(joint(smoother.sample(arrival)) - before)
        overlap = 0.45 - arrival
        assert 0.0 < moved <= 4 / 9 * (DT / overlap) ** 2


@pytest.mark.parametrize("mode", ["latest", "temporal_ensemble", "rtc"])
def test_no_further_than_max_blind_s_past_the_last_chunk_heard(mode):
    """A policy server's chunks reach further than the arms may move without hearing from it."""
    smoother = ChunkSmoother(mode, max_blind_s=0.2)
    smoother.add(ramp(0.0), now=0.05)  # reaches 0.45 s
    assert smoother.sample(0.2).status == "tracking"
    held = smoother.sample(0.25)
    assert held.status == "tracking"
    later = smoother.sample(0.3)  # 0.25 s after the arrival
    assert later.status == "starved" and joint(later) == joint(held)
    smoother.add(ramp(0.3), now=0.31)  # heard again: it goes on
    assert smoother.sample(0.35).status == "tracking"
    with pytest.raises(ValueError, match="max_blind_s"):
        ChunkSmoother(mode, max_blind_s=0.0)


def test_rtc_usual_delay_follows_a_change_of_latency():
    smoother = ChunkSmoother("rtc", mode_params={"delay_memory": 5})
    for k in range(10):
        smoother.add(ramp(k * DT), now=k * DT + 0.02)
    assert smoother.mode.delay.value == pytest.approx(0.02)
    for k in range(10, 20):
        smoother.add(ramp(k * DT), now=k * DT + 0.12)
    assert smoother.mode.delay.value == pytest.approx(0.12)


# -- stamps from a clock gone wrong ------------------------------------------------------------------

def test_a_chunk_stamped_in_the_future_is_refused_and_does_not_block_later_chunks():
    smoother = ChunkSmoother(future_tolerance_s=0.1)
    assert smoother.add(ramp(10.0), now=10.05).accepted
    far = smoother.add(ramp(1e4), now=10.1)  # a clock hours ahead
    assert not far.accepted and far.reason.startswith("future")
    assert smoother.counters.rejected_future == 1
    # The next honest chunk is accepted: the refused one never became the newest stamp.
    assert smoother.add(ramp(10.1), now=10.15).accepted
    assert smoother.counters.dropped_out_of_order == 0
    assert smoother.sample(10.2).status == "tracking"


def test_a_chunk_within_the_future_tolerance_is_accepted():
    smoother = ChunkSmoother(future_tolerance_s=0.1)
    assert smoother.add(ramp(10.08), now=10.0).accepted  # small offset between two computers' clocks
    assert not smoother.add(ramp(10.3), now=10.1).accepted


def test_future_tolerance_must_be_finite_and_not_negative():
    for bad in (-0.1, math.inf, math.nan):
        with pytest.raises(ValueError, match="future_tolerance_s"):
            ChunkSmoother(future_tolerance_s=bad)
