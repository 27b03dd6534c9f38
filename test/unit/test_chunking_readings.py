"""Reading chunks at a tick, held against Pinocchio: the per-step tables, the readers that use
them (one chunk as poses, many stacked as quaternions, a chain of blends on floats) and the
temporal ensemble's rotation mean.

A tick no longer computes a logarithm or an exponential map: each reader combines quantities
tabulated per step when the chunk arrived, with hand-written formulas. These specs compare every
reader with Pinocchio's ``exp3``/``log3`` and quaternion slerp, around and exactly at step
boundaries, for large step rotations and rotations near pi (where quaternion signs flip).
"""

from __future__ import annotations

import numpy as np
import pinocchio as pin
import pytest

from egoscale_ros.chunking.chunk import make_chunk
from egoscale_ros.chunking.execution import BufferedChunk
from egoscale_ros.chunking.fold import read_at_times
from egoscale_ros.chunking.interpolation import sample_chunk
from egoscale_ros.chunking.mixing import blend_readings
from egoscale_ros.chunking.smoother import ChunkSmoother
from egoscale_ros.chunking.stacked import StackedChunks
from egoscale_ros.chunking.temporal_ensemble import TemporalEnsembleMode
from egoscale_ros.kinematics import se3

DT = 1.0 / 30.0
H = 10
ROS_TIME_NS = 1_733_000_000_000_000_000  # stamps as a robot has them: seconds since 1970


def turning_chunk(stamp_ns: int, seed: int, step_angle: float = 1.0, start=None) -> object:
    """Two wrists turning by up to ``step_angle`` rad per step about random axes, moving, and two
    3-joint hands: consecutive steps differ a lot, so reading the wrong step shows."""
    rng = np.random.default_rng(seed)
    wrist = {}
    for side in ("left", "right"):
        rot = pin.exp3(rng.normal(size=3)) if start is None else start
        poses = []
        for _ in range(H):
            poses.append(se3.make_transform(rot, rng.normal(size=3)))
            rot = rot @ pin.exp3(step_angle * rng.uniform(0.2, 1.0) * _unit(rng.normal(size=3)))
        wrist[side] = np.stack(poses)
    hand = {side: rng.normal(size=(H, 3)) for side in ("left", "right")}
    return make_chunk(stamp_ns, DT, wrist, hand)


def prediction(stamp_ns: int, seed: int):
    """One motion as a policy predicts it from one observation: off the truth by a little."""
    rng = np.random.default_rng(seed)
    times = stamp_ns * 1e-9 + np.arange(H) * DT
    wrist = {side: np.stack([se3.make_transform(pin.exp3(np.array([0.3 * t, sign * 0.2, 1.5 * t]) + rng.normal(0, 0.02, 3)),
                                                np.array([0.3 + 0.1 * t, sign * 0.2, 0.9]) + rng.normal(0, 0.002, 3))
                             for t in times])
             for sign, side in ((1.0, "left"), (-1.0, "right"))}
    hand = {side: rng.normal(size=(H, 3)) for side in ("left", "right")}
    return make_chunk(stamp_ns, DT, wrist, hand)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def oracle_pose(chunk, side: str, k: int, s: float) -> np.ndarray:
    """Step k of the chunk moved the fraction s towards step k+1, by Pinocchio."""
    a, b = chunk.wrist[side][k], chunk.wrist[side][min(k + 1, chunk.horizon - 1)]
    rot = a[:3, :3] @ pin.exp3(s * pin.log3(a[:3, :3].T @ b[:3, :3]))
    return se3.make_transform(rot, (1 - s) * a[:3, 3] + s * b[:3, 3])


def oracle_hand(chunk, side: str, k: int, s: float) -> np.ndarray:
    values = chunk.hand[side]
    return (1 - s) * values[k] + s * values[min(k + 1, chunk.horizon - 1)]


def same_rotation(q: np.ndarray, rot: np.ndarray, atol: float) -> None:
    expected = pin.Quaternion(rot).coeffs()  # x, y, z, w
    assert min(np.abs(q - expected).max(), np.abs(q + expected).max()) < atol


# The times to read at, as (step, fraction): on steps, just either side of them, and between.
AROUND_STEPS = [(k, s) for k in range(H - 1) for s in (0.0, 1e-4, 0.37, 0.9999)] + [(H - 1, 0.0)]


@pytest.mark.parametrize("stamp_ns", [0, ROS_TIME_NS])
def test_one_chunk_read_as_poses_is_pinocchios_geodesic_around_every_step(stamp_ns):
    chunk = turning_chunk(stamp_ns, seed=1)
    # At robot time (1.7e9 s) a float second resolves 2.4e-7 s: allow for that much off in time.
    atol = 1e-12 if stamp_ns == 0 else 2e-5
    for k, s in AROUND_STEPS:
        got = sample_chunk(chunk, chunk.stamp + (k + s) * DT)
        for side in ("left", "right"):
            np.testing.assert_allclose(got.wrist[side], oracle_pose(chunk, side, k, s), rtol=0, atol=atol)
            np.testing.assert_allclose(got.hand[side], oracle_hand(chunk, side, k, s), rtol=0, atol=atol)


@pytest.mark.parametrize(("stamp_ns", "atol"), [(123_456_789, 1e-12), (ROS_TIME_NS + 123_456_789, 1e-4)])
def test_on_a_step_each_reader_gives_that_step_and_not_its_neighbour(stamp_ns, atol):
    """A reading at a step's due time belongs to that step, also where (t − stamp)/dt rounds to
    just below the step — the boundary where an index computed by truncation is off by one (a
    neighbouring step is about 1 away). At robot time a float second resolves 2.4e-7 s, a few
    millionths of a step: the reading is that close to the step."""
    chunk = turning_chunk(stamp_ns, seed=2)
    stacked = StackedChunks()
    stacked.sync([BufferedChunk(chunk, chunk.stamp)])
    for k in range(H):
        t = chunk.due_time(k)
        got = sample_chunk(chunk, t)
        quats, linear = stacked.read(t)
        for w, side in enumerate(("left", "right")):
            np.testing.assert_allclose(got.wrist[side], chunk.wrist[side][k], rtol=0, atol=atol)
            np.testing.assert_allclose(got.hand[side], chunk.hand[side][k], rtol=0, atol=atol)
            same_rotation(quats[0, w], chunk.wrist[side][k][:3, :3], atol)
            np.testing.assert_allclose(linear[0, 3 * w : 3 * w + 3], chunk.wrist[side][k][:3, 3], rtol=0, atol=atol)
    quats, linear, _ = read_at_times(chunk, chunk.due_time(np.arange(H)))
    for k in range(H):
        same_rotation(quats[k, 0], chunk.wrist["left"][k][:3, :3], atol)
        np.testing.assert_allclose(linear[k, :3], chunk.wrist["left"][k][:3, 3], rtol=0, atol=atol)


@pytest.mark.parametrize("step_angle", [0.3, 2.5])
def test_many_chunks_read_stacked_are_pinocchios_slerp_between_their_steps(step_angle):
    """Chunks stamped a fraction of a step apart, so each tick falls at a different place
    between steps in each chunk, some of them at a step boundary."""
    chunks = [turning_chunk(int(i * 0.3 * DT * 1e9), seed=10 + i, step_angle=step_angle) for i in range(5)]
    stacked = StackedChunks()
    assert stacked.sync([BufferedChunk(c, c.stamp) for c in chunks])
    for t in np.arange(1.2 * DT, 8 * DT, 0.1 * DT):
        quats, linear = stacked.read(float(t))
        for row, chunk in enumerate(chunks):
            u = (t - chunk.stamp) / DT
            k = min(int(np.floor(u + 1e-9)), H - 1)
            s = max(u - k, 0.0)
            for w, side in enumerate(("left", "right")):
                a, b = (pin.Quaternion(chunk.wrist[side][j][:3, :3]) for j in (k, min(k + 1, H - 1)))
                same_rotation(quats[row, w], a.slerp(s, b).toRotationMatrix(), 1e-9)
                np.testing.assert_allclose(linear[row, 3 * w : 3 * w + 3], oracle_pose(chunk, side, k, s)[:3, 3],
                                           rtol=0, atol=1e-12)
            np.testing.assert_allclose(linear[row, 6:9], oracle_hand(chunk, "left", k, s), rtol=0, atol=1e-12)


def test_a_chain_of_blends_on_floats_is_pinocchios_chain_of_slerps():
    chunks = [turning_chunk(int(i * 0.3 * DT * 1e9), seed=20 + i, step_angle=2.0) for i in range(3)]
    alphas = [1.0, 0.35, 0.8]
    for t in (2.0 * DT, 2.0 * DT + 1e-6, 3.55 * DT):
        got = blend_readings(chunks, alphas, t)
        for side in ("left", "right"):
            plan = None
            for chunk, alpha in zip(chunks, alphas):
                u = (t - chunk.stamp) / DT
                k = int(np.floor(u + 1e-9))
                reading = pin.Quaternion(oracle_pose(chunk, side, k, max(u - k, 0.0))[:3, :3])
                plan = reading if plan is None else plan.slerp(alpha, reading)
            np.testing.assert_allclose(got.wrist[side][:3, :3], plan.toRotationMatrix(), rtol=0, atol=1e-9)


def test_poses_from_quaternions_of_any_norm_are_pinocchios_rotations():
    rng = np.random.default_rng(4)
    quats = rng.normal(size=(5, 4)) * rng.uniform(0.1, 10.0, size=(5, 1))
    translations = rng.normal(size=(5, 3))
    poses = se3.poses_from_quats(quats, translations)
    for q, t, pose in zip(quats, translations, poses):
        expected = pin.Quaternion(q[3], q[0], q[1], q[2]).normalized().toRotationMatrix()
        np.testing.assert_allclose(pose[:3, :3], expected, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(pose[:3, 3], t)
        np.testing.assert_array_equal(pose[3], [0.0, 0.0, 0.0, 1.0])


# -- the temporal ensemble's rotation mean --------------------------------------------------------

def karcher_mean(rotations, weights, iterations: int = 50) -> np.ndarray:
    """The weighted geodesic (Karcher) mean by Pinocchio's log3/exp3, iterated to convergence."""
    mean = rotations[int(np.argmax(weights))]
    for _ in range(iterations):
        mean = mean @ pin.exp3(sum(w * pin.log3(mean.T @ r) for w, r in zip(weights, rotations)))
    return mean


@pytest.mark.parametrize("spread", [0.01, 0.05, 0.2])
def test_the_quaternion_mean_is_the_karcher_mean_to_third_order_in_the_spread(spread):
    rng = np.random.default_rng(5)
    weights = np.exp(-0.01 * np.arange(30))
    weights /= weights.sum()
    for _ in range(10):
        centre = pin.exp3(rng.normal(size=3) * 2.0)
        rotations = [centre @ pin.exp3(spread * rng.normal(size=3)) for _ in range(30)]
        quats = np.array([pin.Quaternion(r).coeffs() for r in rotations])
        quats[rng.random(30) < 0.5] *= -1.0  # q and −q are one rotation
        got = se3.quat_to_matrix(se3.quat_weighted_mean(quats, weights))
        assert np.linalg.norm(pin.log3(karcher_mean(rotations, weights).T @ got)) < 0.2 * spread**3


def test_the_ensemble_averages_predictions_either_side_of_half_a_turn():
    """Predictions at pi ± 0.05 rad about z: their stored quaternions (w >= 0) have opposite
    signs; without aligning them the mean would be the identity, not half a turn."""
    stamp = ROS_TIME_NS
    smoother = ChunkSmoother("temporal_ensemble", mode_params={"m": 0.0})
    for i, yaw in enumerate((np.pi - 0.05, -(np.pi - 0.05))):
        pose = se3.make_transform(pin.exp3(np.array([0.0, 0.0, yaw])), np.zeros(3))
        chunk = make_chunk(stamp + i * 1_000_000, DT, {"right": np.repeat(pose[None], H, axis=0)})
        assert smoother.add(chunk, now=chunk.stamp).accepted
    rot = smoother.sample(stamp * 1e-9 + 0.1).targets.wrist["right"][:3, :3]
    np.testing.assert_allclose(rot, pin.exp3(np.array([0.0, 0.0, np.pi])), rtol=0, atol=1e-9)


def test_the_ensemble_is_the_mean_of_exactly_the_chunks_in_the_buffer_that_cover_t():
    """A chunk that ended, or that left the buffer while it still covered t, never counts; one
    removed from the middle of the buffer neither; a new one counts from its first tick."""
    chunks = [prediction(int(i * 0.3 * DT * 1e9), seed=30 + i) for i in range(5)]
    entries = [BufferedChunk(c, c.stamp) for c in chunks]
    mode = TemporalEnsembleMode(m=0.2)

    def expected(members, t):
        readings = [sample_chunk(e.chunk, t) for e in members]
        readings = [r for r in readings if r is not None]
        weights = np.exp(-0.2 * np.arange(len(readings)))
        weights /= weights.sum()
        rots = {side: karcher_mean([r.wrist[side][:3, :3] for r in readings], weights) for side in ("left", "right")}
        hand = weights @ np.array([r.hand["left"] for r in readings])
        return rots, hand

    t = 3.1 * DT
    for members in (entries[:3], entries[:2], [entries[0], entries[2]], entries[1:], [entries[4]], entries):
        out = mode.sample(members, t)
        rots, hand = expected(members, t)
        for side in ("left", "right"):
            np.testing.assert_allclose(out.wrist[side][:3, :3], rots[side], rtol=0, atol=1e-5)
        np.testing.assert_allclose(out.hand["left"], hand, rtol=0, atol=1e-12)
    # Behind the smoother: a chunk dropped for room while it still covers t no longer counts.
    smoother = ChunkSmoother("temporal_ensemble", max_chunks=2, mode_params={"m": 0.2})
    for c in chunks[:3]:
        smoother.add(c, now=c.stamp)
    np.testing.assert_allclose(smoother.sample(t).targets.hand["left"], expected(entries[1:3], t)[1],
                               rtol=0, atol=1e-12)
    # After the end of a chunk, the rest only.
    short = make_chunk(chunks[4].stamp_ns + 1, DT, {side: chunks[4].wrist[side][:3] for side in ("left", "right")},
                       {side: np.full((3, 3), 100.0) for side in ("left", "right")})
    smoother = ChunkSmoother("temporal_ensemble", mode_params={"m": 0.0})
    smoother.add(chunks[3], now=0.0)
    smoother.add(short, now=0.0)
    assert smoother.sample(short.end_time).targets.hand["left"][0] > 40.0  # both count
    after = smoother.sample(short.end_time + 1e-6).targets.hand["left"]
    np.testing.assert_allclose(after, sample_chunk(chunks[3], short.end_time + 1e-6).hand["left"], atol=1e-12)


def test_stacked_storage_is_reused_as_chunks_come_and_go():
    smoother = ChunkSmoother("temporal_ensemble")
    for i in range(300):  # 10 s of 30 chunks/s, each covering 0.3 s
        chunk = prediction(int(i * DT * 1e9), seed=i)
        smoother.add(chunk, now=chunk.stamp)
        assert smoother.sample(chunk.stamp).status == "tracking"
    assert smoother.mode._stacked.capacity <= 16
