"""Folding a chunk into the plan on arrival: exact at the chunk's steps, one chunk to read per tick."""

from __future__ import annotations

import numpy as np

from egoscale_ros.chunking.chunk import make_chunk, ns_from_seconds
from egoscale_ros.chunking.fold import fold, previous_plan_weights, read_at_times
from egoscale_ros.chunking.interpolation import sample_chunk
from egoscale_ros.chunking.rtc import previous_plan_weight
from egoscale_ros.chunking.targets import blend
from egoscale_ros.kinematics import se3

DT = 0.05
H = 12


def moving_chunk(stamp: float, offset: float, turn: float, seed: int):
    """Both wrists moving and turning, two hands; ``offset``/``turn`` make predictions disagree."""
    rng = np.random.default_rng(seed)
    times = stamp + np.arange(H) * DT
    wrist = {}
    for sign, side in ((1.0, "left"), (-1.0, "right")):
        wrist[side] = np.stack([se3.make_transform(se3.so3_exp(np.array([0.3 * t + turn, 0.1, sign * 0.2 * t])),
                                                   np.array([0.3 + 0.1 * t + offset, sign * 0.2, 0.9]))
                                for t in times])
    hand = {side: np.sin(times[:, None] + np.arange(4)) + offset + rng.normal(0, 0.01, (H, 4))
            for side in ("left", "right")}
    return make_chunk(ns_from_seconds(stamp), DT, wrist, hand)


def test_the_mask_matches_the_scalar_mask_and_is_exact_at_its_ends():
    times = np.linspace(0.9, 2.1, 61)
    got = previous_plan_weights(times, 1.0, 2.0)
    np.testing.assert_allclose(got, [previous_plan_weight(t, 1.0, 2.0) for t in times], atol=1e-15)
    assert got[times <= 1.0].tolist() == [1.0] * int((times <= 1.0).sum())
    assert got[times >= 2.0].tolist() == [0.0] * int((times >= 2.0).sum())


def test_reading_at_many_times_is_reading_at_each_time():
    chunk = moving_chunk(0.0, 0.0, 0.0, 1)
    times = np.array([0.0, 0.013, 0.05, 0.31, (H - 1) * DT])
    quats, linear, covered = read_at_times(chunk, times)
    assert covered.all()
    for i, t in enumerate(times):
        one = sample_chunk(chunk, t)
        rot = se3.quat_to_matrix(quats[i])
        np.testing.assert_allclose(rot[0], one.wrist["left"][:3, :3], atol=1e-12)
        np.testing.assert_allclose(linear[i, :3], one.wrist["left"][:3, 3], atol=1e-12)
        np.testing.assert_allclose(linear[i, 6:10], one.hand["left"], atol=1e-12)
    assert not read_at_times(chunk, np.array([-0.1, H * DT]))[2].any()


def test_at_its_steps_the_folded_plan_is_the_blend_of_the_previous_plan_and_the_new_chunk():
    previous = moving_chunk(0.0, 0.0, 0.0, 1)
    new = moving_chunk(0.1, 0.02, 0.05, 2)
    start = 0.17  # between two steps of the new chunk (0.15 and 0.2)
    end = previous.end_time
    plan = fold(previous, new, start, end)
    assert plan.stamp == new.stamp and plan.horizon == new.horizon
    for k in range(H):
        t = new.due_time(k)
        kept = previous_plan_weight(t, start, end) if previous.covers(t) else 0.0
        new_step = sample_chunk(new, t)
        expected = blend(sample_chunk(previous, t), new_step, 1.0 - kept) if previous.covers(t) else new_step
        got = sample_chunk(plan, t)
        for side in ("left", "right"):
            np.testing.assert_allclose(got.wrist[side], expected.wrist[side], atol=1e-9)
            np.testing.assert_allclose(got.hand[side], expected.hand[side], atol=1e-12)
    # Steps due before the start are the previous plan's, exactly.
    frozen = sample_chunk(plan, 0.15)
    np.testing.assert_allclose(frozen.hand["left"], sample_chunk(previous, 0.15).hand["left"], atol=1e-12)


def test_without_a_previous_plan_or_overlap_the_new_chunk_is_the_plan():
    new = moving_chunk(1.0, 0.0, 0.0, 3)
    assert fold(None, new, 1.0, 2.0) is new
    old = moving_chunk(0.0, 0.0, 0.0, 4)  # ends at 0.55, before the new chunk starts
    assert fold(old, new, 1.0, old.end_time) is new
