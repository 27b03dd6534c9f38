"""Specification of reading and mixing many chunks at once: the same targets as one at a time."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.chunking.chunk import ActionChunk, ChunkError, make_chunk, ns_from_seconds
from egoscale_ros.chunking.execution import BufferedChunk
from egoscale_ros.chunking.interpolation import sample_chunk
from egoscale_ros.chunking.mixing import blend_readings
from egoscale_ros.chunking.smoother import ChunkSmoother
from egoscale_ros.chunking.stacked import StackedChunks
from egoscale_ros.chunking.targets import Targets, blend, weighted_mean
from egoscale_ros.chunking.temporal_ensemble import TemporalEnsembleMode
from egoscale_ros.kinematics import se3

DT = 0.05
H = 8
rng = np.random.default_rng(3)


def random_chunk(stamp: float, spread: float = 1.0, h: int = H, wrists=("left", "right"), hands=("left", "right")):
    """Wrist poses turning by up to ``spread`` rad per step about random axes, 5-joint hands."""
    wrist = {side: np.stack([se3.make_transform(se3.so3_exp(spread * rng.normal(size=3)), rng.normal(size=3))
                             for _ in range(h)]) for side in wrists}
    hand = {side: rng.normal(size=(h, 5)) for side in hands}
    return make_chunk(ns_from_seconds(stamp), DT, wrist, hand)


def assert_same_targets(got: Targets, expected: Targets, atol: float = 1e-12) -> None:
    assert got.wrist.keys() == expected.wrist.keys() and got.hand.keys() == expected.hand.keys()
    for side in expected.wrist:
        np.testing.assert_allclose(got.wrist[side], expected.wrist[side], rtol=0, atol=atol)
    for side in expected.hand:
        np.testing.assert_allclose(got.hand[side], expected.hand[side], rtol=0, atol=atol)


def test_reading_many_chunks_at_once_gives_each_chunks_reading():
    chunks = [random_chunk(0.1 * i) for i in range(6)]  # each covers 0.35 s: at t = 0.42, chunks 1..4
    t = 0.42
    stacked = StackedChunks()
    assert stacked.sync([BufferedChunk(c, c.stamp) for c in chunks]) and stacked.layout == chunks[0].layout()
    quats, vec = stacked.read(t)
    assert len(quats) == len(vec) == 4
    for row, chunk in enumerate(chunks[1:5]):
        one = sample_chunk(chunk, t)
        for w, side in enumerate(("left", "right")):
            np.testing.assert_allclose(se3.quat_to_matrix(quats[row, w]), one.wrist[side][:3, :3], rtol=0, atol=1e-13)
            np.testing.assert_allclose(vec[row, 3 * w : 3 * w + 3], one.wrist[side][:3, 3], rtol=0, atol=1e-13)
        np.testing.assert_allclose(vec[row, 6:], np.concatenate([one.hand["left"], one.hand["right"]]), rtol=0, atol=1e-13)
    assert stacked.read(10.0) is None
    newest = stacked.read(t, newest=2)[1]
    np.testing.assert_array_equal(newest, vec[-2:])


def test_on_a_step_the_step_itself_comes_out_exactly():
    chunk = random_chunk(0.0)
    out = sample_chunk(chunk, chunk.due_time(3))
    np.testing.assert_array_equal(out.wrist["left"], chunk.wrist["left"][3])
    np.testing.assert_array_equal(out.hand["right"], chunk.hand["right"][3])


def test_a_chunk_built_without_make_chunk_is_read_the_same():
    made = random_chunk(0.0)
    direct = ActionChunk(made.stamp_ns, made.dt, made.wrist, made.hand, made.horizon)
    assert direct.end_time == made.end_time and direct.layout() == made.layout()
    assert_same_targets(sample_chunk(direct, 0.123), sample_chunk(made, 0.123))


def test_a_one_step_chunk_is_read_as_its_step():
    chunk = random_chunk(2.0, h=1)
    out = sample_chunk(chunk, 2.0)
    np.testing.assert_array_equal(out.wrist["right"], chunk.wrist["right"][0])


@pytest.mark.parametrize("alphas", [[1.0, 0.3, 0.7, 0.1], [1.0, 0.0, 1.0, 0.5], [1.0, 0.2, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0],
                                    [1.0, -0.5, 1.5, 0.4]])
def test_a_chain_of_blends_is_the_sequence_of_two_way_blends(alphas):
    """Large rotations between chunks (up to pi) and alphas at 0, 1 and beyond (clipped)."""
    chunks = [random_chunk(0.01 * i, spread=2.0) for i in range(4)]
    t = 0.2
    expected = sample_chunk(chunks[0], t)
    for chunk, alpha in zip(chunks[1:], alphas[1:]):
        expected = blend(expected, sample_chunk(chunk, t), alpha)
    got = blend_readings(chunks, alphas, t)
    assert_same_targets(got, expected)
    rot = got.wrist["left"][:3, :3]
    np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-12)


def test_a_chain_may_start_from_targets_rather_than_a_chunk():
    chunks = [random_chunk(0.01 * i) for i in range(3)]
    t = 0.1
    held = sample_chunk(random_chunk(-1.0), -0.9)
    expected = blend(blend(held, sample_chunk(chunks[1], t), 0.4), sample_chunk(chunks[2], t), 0.6)
    assert_same_targets(blend_readings([held, chunks[1], chunks[2]], [1.0, 0.4, 0.6], t), expected)


def test_the_stacked_weighted_mean_is_the_weighted_mean_of_the_readings():
    chunks = [random_chunk(0.01 * i, spread=0.2) for i in range(5)]
    buffer = [BufferedChunk(c, c.stamp) for c in chunks]
    t = 0.1
    weights = np.exp(-0.3 * np.arange(5))
    expected = weighted_mean([sample_chunk(c, t) for c in chunks], weights)
    assert_same_targets(TemporalEnsembleMode(m=0.3).sample(buffer, t), expected)
    newest = weighted_mean([sample_chunk(c, t) for c in chunks[-2:]], weights[:2])
    assert_same_targets(TemporalEnsembleMode(m=0.3, max_chunks=2).sample(buffer, t), newest)


def test_chunks_of_different_layouts_are_mixed_side_by_side():
    """A mode used without the smoother may see a wrist-only and a hand-only chunk together."""
    wrist_only = random_chunk(0.0, hands=())
    hand_only = random_chunk(0.01, wrists=())
    t = 0.05
    mixed = blend_readings([wrist_only, hand_only], [1.0, 0.5], t)
    assert_same_targets(mixed, Targets(sample_chunk(wrist_only, t).wrist, sample_chunk(hand_only, t).hand))
    mode = TemporalEnsembleMode()
    out = mode.sample([BufferedChunk(wrist_only, 0.0), BufferedChunk(hand_only, 0.01)], t)
    assert_same_targets(out, Targets(sample_chunk(wrist_only, t).wrist, sample_chunk(hand_only, t).hand))


def test_a_chunk_that_does_not_cover_t_cannot_be_blended():
    with pytest.raises(ValueError, match="does not cover t"):
        blend_readings([random_chunk(0.0), random_chunk(5.0)], [1.0, 0.5], 0.1)


@pytest.mark.parametrize("mode", ["latest", "temporal_ensemble", "rtc"])
def test_outputs_are_fresh_arrays_that_a_caller_may_modify(mode):
    smoother = ChunkSmoother(mode)
    chunks = [random_chunk(0.03 * i, spread=0.1) for i in range(3)]
    for chunk in chunks:
        smoother.add(chunk, now=chunk.stamp + 0.01)
    out = smoother.sample(0.1).targets
    before = {side: c.copy() for side, c in chunks[-1].wrist.items()}
    out.wrist["left"][:] = 0.0
    out.hand["left"][:] = 0.0
    assert all(np.array_equal(chunks[-1].wrist[s], before[s]) for s in before)
    again = smoother.sample(0.1).targets
    assert np.isfinite(again.wrist["left"]).all() and again.wrist["left"][3, 3] == 1.0
    assert not np.array_equal(again.hand["left"], np.zeros(5))


def test_a_chunk_whose_arrays_disagree_with_its_horizon_is_refused():
    made = random_chunk(0.0)
    with pytest.raises(ChunkError, match=r"hand\['left'\] has 8 steps but the horizon is 5"):
        ActionChunk(made.stamp_ns, made.dt, {}, made.hand, 5)
