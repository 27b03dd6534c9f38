"""Specification of chunk validation and of reading a chunk at any time (interpolation)."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.chunking.chunk import ChunkError, make_chunk, ns_from_seconds
from egoscale_ros.chunking.interpolation import sample_chunk
from egoscale_ros.kinematics import se3


def rotz(a: float) -> np.ndarray:
    return se3.so3_exp(np.array([0.0, 0.0, a]))


def wrist_steps(h: int, start=(0.3, 0.2, 1.0), step=(0.01, 0.0, 0.0), yaw_step: float = 0.1) -> np.ndarray:
    return np.stack([se3.make_transform(rotz(k * yaw_step), np.add(start, np.multiply(k, step))) for k in range(h)])


def test_a_valid_chunk_knows_when_each_step_is_due():
    chunk = make_chunk(ns_from_seconds(10.0), 0.05, {"left": wrist_steps(8)}, {"left": np.zeros((8, 7))})
    assert chunk.horizon == 8
    assert chunk.due_time(3) == pytest.approx(10.15)
    assert chunk.end_time == pytest.approx(10.35)
    assert chunk.covers(10.0) and chunk.covers(10.35) and not chunk.covers(9.99) and not chunk.covers(10.36)
    assert chunk.layout() == (("left",), (("left", 7),))


def test_a_chunk_copies_its_arrays_and_they_are_read_only():
    hand = np.zeros((4, 3))
    chunk = make_chunk(ns_from_seconds(0.0), 0.1, hand={"right": hand})
    hand[0, 0] = 5.0
    assert chunk.hand["right"][0, 0] == 0.0
    with pytest.raises(ValueError):
        chunk.hand["right"][0, 0] = 1.0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"hand": {"left": np.array([[0.0, np.nan]])}}, r"hand\['left'\]: non-finite value nan at step 0, element 1"),
        ({"wrist": {"right": np.full((2, 4, 4), np.inf)}}, r"wrist\['right'\]: non-finite"),
        ({"wrist": {"left": np.zeros((3, 3, 4))}}, r"wrist\['left'\]: shape \(3, 3, 4\), expected \(H, 4, 4\)"),
        ({"hand": {"left": np.zeros(5)}}, r"hand\['left'\]: shape \(5,\), expected \(H, n\)"),
        ({"wrist": {"left": 2.0 * np.eye(4)[None]}}, r"wrist\['left'\]: step 0 is not a rigid transform"),
        ({"wrist": {"left": wrist_steps(4)}, "hand": {"left": np.zeros((5, 2))}}, "horizons disagree"),
        ({}, "neither wrist nor hand"),
        ({"hand": {"left": [["a"]]}}, r"hand\['left'\]: not a numeric array"),
    ],
)
def test_bad_chunks_are_refused_naming_the_field(kwargs, needle):
    with pytest.raises(ChunkError, match=needle):
        make_chunk(ns_from_seconds(0.0), 0.1, **kwargs)


def test_bad_stamp_or_dt_is_refused():
    with pytest.raises(ChunkError, match="dt must be > 0"):
        make_chunk(ns_from_seconds(0.0), 0.0, hand={"l": np.zeros((2, 1))})
    # Seconds passed where nanoseconds are meant would make every step due 10⁹ times too early.
    for stamp in (float("nan"), 1.5, 2.0, True):
        with pytest.raises(ChunkError, match="stamp_ns must be an integer number of nanoseconds"):
            make_chunk(stamp, 0.1, hand={"l": np.zeros((2, 1))})


def test_stamp_is_kept_exact_in_nanoseconds_and_step_k_is_due_at_stamp_plus_k_dt():
    # 1.7e18 ns (a wall-clock stamp) loses its last digits as a float; the chunk keeps them.
    stamp_ns = 1_700_000_000_123_456_789
    chunk = make_chunk(stamp_ns, 0.05, hand={"l": np.zeros((4, 1))})
    assert chunk.stamp_ns == stamp_ns and isinstance(chunk.stamp_ns, int)
    assert chunk.due_time(2) == pytest.approx(stamp_ns * 1e-9 + 0.1, abs=1e-6)


def test_hand_joint_names_must_name_every_column_of_a_hand_the_chunk_has():
    hand = {"left": np.zeros((3, 2))}
    named = make_chunk(0, 0.1, hand=hand, hand_joint_names={"left": ["a", "b"]}, frame="pelvis")
    assert named.hand_joint_names == {"left": ("a", "b")} and named.frame == "pelvis"
    with pytest.raises(ChunkError, match=r"hand_joint_names\['left'\]: 1 names for 2 columns"):
        make_chunk(0, 0.1, hand=hand, hand_joint_names={"left": ["a"]})
    with pytest.raises(ChunkError, match=r"hand_joint_names\['right'\]"):
        make_chunk(0, 0.1, hand=hand, hand_joint_names={"right": ["a", "b"]})


def test_a_mirror_is_not_a_rotation():
    pose = np.eye(4)
    pose[0, 0] = -1.0
    with pytest.raises(ChunkError, match="det R = -1"):
        make_chunk(ns_from_seconds(0.0), 0.1, wrist={"left": pose[None]})


def test_sampling_at_due_times_returns_the_steps():
    poses, hands = wrist_steps(5), np.arange(10.0).reshape(5, 2)
    chunk = make_chunk(ns_from_seconds(2.0), 0.1, {"left": poses}, {"left": hands})
    for k in range(5):
        out = sample_chunk(chunk, 2.0 + 0.1 * k)
        np.testing.assert_allclose(out.wrist["left"], poses[k], atol=1e-12)
        np.testing.assert_allclose(out.hand["left"], hands[k], atol=1e-12)


def test_between_steps_translation_and_hand_are_linear_and_rotation_geodesic():
    chunk = make_chunk(ns_from_seconds(0.0), 0.1, {"left": wrist_steps(3, yaw_step=0.8)}, {"left": np.array([[0.0], [1.0], [3.0]])})
    out = sample_chunk(chunk, 0.125)  # a quarter of the way from step 1 to step 2
    np.testing.assert_allclose(out.wrist["left"][:3, 3], [0.3125, 0.2, 1.0], atol=1e-12)
    np.testing.assert_allclose(out.wrist["left"][:3, :3], rotz(0.8 * 1.25), atol=1e-12)
    np.testing.assert_allclose(out.hand["left"], [1.5], atol=1e-12)


def test_outside_the_chunk_nothing_is_returned():
    chunk = make_chunk(ns_from_seconds(1.0), 0.1, hand={"left": np.zeros((3, 2))})
    assert sample_chunk(chunk, 0.999) is None
    assert sample_chunk(chunk, 1.2001) is None
    assert sample_chunk(chunk, 1.2) is not None


# --- step spacing of a received chunk ------------------------------------------------------------

def test_dt_comes_from_the_points_own_spacing_not_a_default():
    from egoscale_ros.chunking.chunk import step_spacing

    dt = 1 / 15
    assert step_spacing([round(k * dt * 1e9) for k in range(16)]) == pytest.approx(dt, abs=1e-12)
    assert step_spacing([0, 50_000_000]) == pytest.approx(0.05)


@pytest.mark.parametrize(("times", "reason"), [
    ([0], "needs two or more"),
    ([10_000_000, 43_333_333], "point 0 is due"),
    ([0, 0, 0], "does not increase"),
    ([0, 33_333_333, 70_000_000], "off an even step spacing"),
])
def test_a_chunk_without_an_even_spacing_from_its_stamp_is_refused(times, reason):
    from egoscale_ros.chunking.chunk import ChunkError, step_spacing

    with pytest.raises(ChunkError, match=reason):
        step_spacing(times)
