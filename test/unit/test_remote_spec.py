"""Remote policy contract: normalisation round trips, wrist encodings, relative -> absolute
reconstruction, the manifest's ``remote`` section and reply checking."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.kinematics import se3
from egoscale_ros.policy.layout import ActionLayout
from egoscale_ros.policy.pipeline import Observation
from egoscale_ros.policy.transforms import decode_chunk
from egoscale_ros.remote.client import PublishedSteps, build_observation, decode_actions
from egoscale_ros.remote.errors import RemoteError
from egoscale_ros.remote.normalisation import MODES, KeyStats, StatisticsError, stats_from_samples
from egoscale_ros.remote.spec import (
    DEFAULT_CONNECTIONS,
    WRIST_FORMATS,
    ActionEntry,
    RemoteSpec,
    SpecError,
    StateEntry,
    decode_wrists,
    encode_wrist,
    parse_remote,
    server_options,
    wrists_to_absolute,
)

RNG = np.random.default_rng(7)


def _pose(rng=RNG) -> np.ndarray:
    return se3.make_transform(se3.so3_exp(rng.normal(size=3)), rng.normal(size=3))


# ----------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize("mode", MODES)
def test_normalisation_round_trips_every_mode(mode):
    samples = RNG.normal(size=(500, 5)) * [1, 2, 3, 0.1, 5] + [0, 1, -1, 2, 0]
    stats = stats_from_samples(samples)
    x = samples[:20]
    assert np.allclose(stats.unnormalise(stats.normalise(x, mode), mode), x)


def test_min_max_and_percentiles_map_their_bounds_to_minus_one_and_one():
    stats = stats_from_samples(RNG.uniform(-3, 7, size=(1000, 2)))
    assert np.allclose(stats.normalise(stats.min, "min_max"), -1) and np.allclose(stats.normalise(stats.max, "min_max"), 1)
    assert np.allclose(stats.normalise(stats.q99, "q01_q99"), 1)
    assert np.all(np.abs(stats.normalise(stats.max * 10, "q01_q99", clip=True)) <= 1)


def test_constant_dimension_never_divides_by_zero():
    stats = stats_from_samples(np.c_[np.full(10, 4.0), np.arange(10.0)])
    for mode in MODES:
        y = stats.normalise([[4.0, 3.0]], mode)
        assert np.all(np.isfinite(y)) and y[0, 0] == 0
        assert stats.unnormalise(y, mode)[0, 0] == 4.0


def test_statistics_errors_name_the_key_and_field():
    good = {k: [0.0, 1.0] for k in ("min", "max", "mean", "std", "q01", "q99")}
    with pytest.raises(StatisticsError, match=r"arm\.q99 is missing"):
        KeyStats.from_dict({k: v for k, v in good.items() if k != "q99"}, "arm")
    with pytest.raises(StatisticsError, match=r"arm\.std has 3 values"):
        KeyStats.from_dict({**good, "std": [1, 1, 1]}, "arm")


# ----------------------------------------------------------------------------- wrists


@pytest.mark.parametrize("fmt", sorted(WRIST_FORMATS))
def test_wrist_formats_round_trip(fmt):
    pose = _pose()
    vec = encode_wrist(pose, fmt)
    assert vec.shape == (WRIST_FORMATS[fmt],)
    assert np.allclose(decode_wrists(vec[None], fmt)[0], pose, atol=1e-9)


def test_relative_steps_are_each_relative_to_the_observation_pose():
    base, targets = _pose(), np.stack([_pose() for _ in range(5)])
    steps = np.linalg.inv(base) @ targets
    assert np.allclose(wrists_to_absolute(steps, "relative", base), targets)


def test_delta_steps_chain_like_the_local_decoder():
    base = _pose()
    steps = np.stack([se3.make_transform(se3.so3_exp(RNG.normal(size=3) * 0.1), RNG.normal(size=3) * 0.01)
                      for _ in range(6)])
    ours = wrists_to_absolute(steps, "delta", base)
    layout = ActionLayout(horizon=6, rotation="rot6d", hand_joints={"left": ("j",)})
    rows = np.c_[steps[:, :3, 3], se3.matrix_to_rot6d(steps[:, :3, :3]), np.zeros(6)]
    local = decode_chunk(rows, layout, 0, {"left": base}).wrist["left"]
    assert np.allclose(ours, local)


def test_relative_without_the_observation_pose_is_an_error():
    with pytest.raises(SpecError, match="observation"):
        wrists_to_absolute(np.eye(4)[None], "relative", None)


# ----------------------------------------------------------------------------- the remote section


def _section(**over):
    data = {"protocol": "gr00t", "video": {"ego_view": "head"}, "language": "task",
            "state": [{"key": "left_eef", "wrist": "left", "format": "xyz+quat"}, {"key": "arm", "joints": ["a", "b"]}],
            "action": [{"key": "left_eef", "wrist": "left", "format": "xyz+quat", "rep": "relative"},
                       {"key": "left_hand", "hand": "left", "joints": ["h1", "h2", "h3"]}],
            "horizon": 4, "dt": 0.05, "execute_steps": 3}
    data.update(over)
    return data


def test_parse_remote_reads_the_mapping():
    spec = parse_remote(_section())
    assert spec.state_joints == ["a", "b"] and spec.hand_joints == {"left": ("h1", "h2", "h3")}
    assert spec.key_dims(spec.action) == {"left_eef": 7, "left_hand": 3}
    assert parse_remote(spec.to_dict()) == spec


@pytest.mark.parametrize("change, message", [
    ({"protocol": "grpc"}, "protocol"),
    ({"colour": 1}, "unknown field"),
    ({"execute_steps": 9}, "execute_steps"),
    ({"action": [{"key": "x", "wrist": "left", "format": "euler"}]}, "format"),
    ({"action": [{"key": "x", "wrist": "left"}]}, "same sides"),
    ({"state": [{"key": "waist"}]}, "key 'waist'"),
])
def test_parse_remote_errors_name_the_field(change, message):
    with pytest.raises(SpecError, match=message):
        parse_remote(_section(**change))


@pytest.mark.parametrize("connections, ok", [(None, True), (1, True), (8, True), (0, False), (2.5, False),
                                              ("4", False), (True, False)])
def test_connections_is_a_whole_number_of_at_least_one_defaulting_to_a_small_pool(connections, ok):
    options = {} if connections is None else {"connections": connections}
    if ok:
        assert server_options("gr00t_server", options)["connections"] == (connections or DEFAULT_CONNECTIONS)
    else:
        with pytest.raises(SpecError, match="gr00t_server.connections"):
            server_options("gr00t_server", options)


# ----------------------------------------------------------------------------- replies


def _spec(protocol="gr00t") -> RemoteSpec:
    return parse_remote(_section(protocol=protocol))


def _obs():
    return Observation(5_000_000_000, [np.zeros((40, 50, 3), np.uint8)], {"a": 0.5, "b": -0.5}, "pick",
                       {"left": _pose()})


def test_observation_has_the_gr00t_batch_and_time_axes():
    out = build_observation(_spec(), _obs(), ["head"], 1)
    assert out["video"]["ego_view"].shape == (1, 1, 40, 50, 3) and out["video"]["ego_view"].dtype == np.uint8
    assert out["state"]["arm"].tolist() == [[[0.5, -0.5]]] and out["state"]["arm"].dtype == np.float32
    assert out["state"]["left_eef"].shape == (1, 1, 7)
    assert out["language"] == {"task": [["pick"]]}


def test_openpi_observation_is_flat():
    out = build_observation(_spec("openpi"), _obs(), ["head"], 3)
    assert out["ego_view"].shape == (40, 50, 3) and out["arm"].shape == (2,) and out["task"] == "pick"


def test_reply_decodes_to_an_absolute_chunk_stamped_with_the_observation():
    obs = _obs()
    targets = np.stack([_pose() for _ in range(4)])
    rel = np.stack([encode_wrist(t, "xyz+quat") for t in np.linalg.inv(obs.wrist_poses["left"]) @ targets])
    reply = {"left_eef": rel[None].astype(np.float32), "left_hand": np.ones((1, 4, 3), np.float32)}
    chunk, outside = decode_actions(_spec(), reply, obs)
    assert chunk.stamp_ns == obs.stamp_ns and chunk.horizon == 3 and outside == 0
    assert np.allclose(chunk.wrist["left"], targets[:3], atol=1e-5)
    assert chunk.hand_joint_names["left"] == ("h1", "h2", "h3")


@pytest.mark.parametrize("mutate, kind, message", [
    (lambda r: r.pop("left_hand"), "bad_reply", "lacks action key 'left_hand'"),
    (lambda r: r.update(left_hand=np.ones((1, 4, 2), np.float32)), "bad_reply", "shape"),
    (lambda r: r.update(left_hand=np.ones((1, 4, 3), np.int32)), "bad_reply", "dtype"),
    (lambda r: r.update(left_hand=np.full((1, 4, 3), np.nan, np.float32)), "non_finite", "NaN"),
    (lambda r: r.update(left_hand=[[1.0]]), "bad_reply", "not an array"),
])
def test_bad_replies_are_rejected_by_kind(mutate, kind, message):
    reply = {"left_eef": np.tile(encode_wrist(np.eye(4), "xyz+quat"), (1, 4, 1)).astype(np.float32),
             "left_hand": np.ones((1, 4, 3), np.float32)}
    mutate(reply)
    with pytest.raises(RemoteError, match=message) as err:
        decode_actions(_spec(), reply, _obs())
    assert err.value.kind == kind


def test_entries_sharing_a_key_take_consecutive_columns():
    spec = RemoteSpec("openpi", {"img": "head"}, (StateEntry("s", joints=("a",)),),
                      (ActionEntry("actions", wrist="left", format="xyz+rotvec"),
                       ActionEntry("actions", hand="left", joints=("h1", "h2"))), "prompt", 2, 0.1, 2)
    row = np.r_[0.1, 0.2, 0.3, 0, 0, 0, 7.0, 8.0]
    chunk, _ = decode_actions(spec, {"actions": np.tile(row, (2, 1))}, _obs())
    assert np.allclose(chunk.wrist["left"][0, :3, 3], [0.1, 0.2, 0.3]) and chunk.hand["left"][0].tolist() == [7, 8]


def test_a_late_reply_still_covers_execute_steps_from_its_arrival():
    spec = RemoteSpec("openpi", {"img": "head"}, (StateEntry("s", joints=("a",)),),
                      (ActionEntry("actions", hand="left", joints=("h1",)),), "prompt", 30, 1.0 / 30.0, 12)
    assert spec.steps_to_publish(0.0) == 12
    assert spec.steps_to_publish(0.1) == 15  # three steps fell due while the request was out
    assert spec.steps_to_publish(0.15) == 17
    assert spec.steps_to_publish(5.0) == 30  # no further than the server predicted
    for age in np.random.default_rng(3).uniform(0.0, 0.5, 200):
        last_due = (spec.steps_to_publish(age) - 1) * spec.dt
        assert last_due >= age + (spec.execute_steps - 1) * spec.dt - 1e-9
    for nonsense in (-0.2, float("nan"), float("inf")):  # a clock that gives no sensible age
        assert spec.steps_to_publish(nonsense) == 12


def test_the_client_publishes_as_many_steps_for_every_reply_while_the_latency_is_steady():
    """Round trips of 165 ± 10 ms straddle the step at 166.7 ms: counted from each reply's own
    age, one chunk would be a step longer than the next; counted from the usual age, none is."""
    spec = RemoteSpec("openpi", {"img": "head"}, (StateEntry("s", joints=("a",)),),
                      (ActionEntry("actions", hand="left", joints=("h1",)),), "prompt", 30, 1.0 / 30.0, 12)
    published = PublishedSteps(spec)
    ages = 0.165 + np.random.default_rng(1).uniform(-0.01, 0.01, 200)
    assert len({spec.steps_to_publish(a) for a in ages}) == 2  # each reply's own: 17 or 18
    counts = [published.steps(a) for a in ages]
    assert len(set(counts[30:])) == 1 and counts[-1] >= 12 + 5
    assert published.steps(float("nan")) == 12  # a clock that gives no sensible age


def test_decoding_publishes_the_steps_asked_for():
    reply = {"left_eef": np.tile(encode_wrist(np.eye(4), "xyz+quat"), (1, 4, 1)).astype(np.float32),
             "left_hand": np.ones((1, 4, 3), np.float32)}
    assert decode_actions(_spec(), reply, _obs())[0].horizon == 3  # execute_steps
    assert decode_actions(_spec(), reply, _obs(), steps=4)[0].horizon == 4
