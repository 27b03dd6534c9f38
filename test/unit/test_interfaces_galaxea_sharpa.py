"""Galaxea R1 Pro and Sharpa Wave interfaces: what the adapters send, what the feedback becomes,
and what the mock far side accepts and refuses (no ROS: the adapters and the mock are pure)."""

from __future__ import annotations

import math

import pytest
import yaml

from egoscale_ros.interfaces import registry
from egoscale_ros.interfaces.base import Rejected, RosJointState
from egoscale_ros.interfaces.mock_ros_robot import MockRosRobot
from egoscale_ros.interfaces.sharpa import SHARPA_WAVE_ORDER
from egoscale_ros.policy.layout import SHARPA_WAVE_JOINTS
from egoscale_ros.robot.config import load_robot_config, parse_robot_config
from egoscale_ros.schema import ConfigError

ROBOT = "r1pro_sharpa"


@pytest.fixture(scope="module")
def config():
    return load_robot_config(ROBOT)


def _variant(edit):
    path = load_robot_config(ROBOT).path
    data = yaml.safe_load(path.read_text())
    edit(data)
    return parse_robot_config(data, path)


def _output(config, name):
    return next(c for c in config.controllers if c.name == name)


def _source(config, name):
    return next(s for s in config.feedback if s.name == name)


def _home(config) -> dict[str, float]:
    return {j: config.home_position(j) for j in config.movable_joints()}


# --- Galaxea targets -----------------------------------------------------------------------------

def test_config_speaks_the_makers_topics(config):
    topics = {c.name: (c.topic, c.type) for c in config.controllers}
    assert topics["left_arm"] == ("/motion_target/target_joint_state_arm_left", "galaxea_joint_target")
    assert topics["right_hand"] == ("wave/right/joint_commands", "sharpa_joint_commands")
    feedback = {s.name: s.topic for s in config.feedback}
    assert feedback == {"left_arm": "/hdas/feedback_arm_left", "right_arm": "/hdas/feedback_arm_right",
                        "torso": "/hdas/feedback_torso", "left_hand": "wave/left/joint_states",
                        "right_hand": "wave/right/joint_states"}
    assert registry.mock_nodes(config) == ["mock_ros_robot_node"]


def test_galaxea_output_waits_for_a_target_and_the_measured_pose_then_starts_there(config):
    out = registry.output_adapter(_output(config, "left_arm"), config)
    assert out.tick(0.0) == []  # no target yet
    target = {j: 0.1 for j in out.output.joints}
    out.set_target(target, 0.0)
    assert out.tick(0.01) == []  # the start pose is not measured yet
    measured = _home(config)
    out.on_feedback(measured, {})
    (packet,) = out.tick(0.02)
    assert packet.topic == "/motion_target/target_joint_state_arm_left"
    assert packet.message.position == tuple(measured[j] for j in out.output.joints)  # no jump
    assert packet.message.name == out.output.joints


def test_galaxea_output_sends_positions_only_and_steps_no_faster_than_configured(config):
    out = registry.output_adapter(_output(config, "left_arm"), config)
    out.on_feedback(_home(config), {})
    out.set_target({j: 1.0 for j in out.output.joints}, 0.0)
    first = out.tick(0.0)[0].message
    second = out.tick(0.02)[0].message
    assert first.velocity == () and second.velocity == ()  # never a signed instantaneous velocity
    steps = [abs(b - a) for a, b in zip(first.position, second.position)]
    assert max(steps) == pytest.approx(3.0 * 0.02)  # options.max_velocity = 3 rad/s


def test_galaxea_speed_cap_is_sent_as_a_positive_per_joint_speed():
    def cap(data):
        data["controllers"][0]["options"]["speed_cap"] = 1.5
    config = _variant(cap)
    out = registry.output_adapter(config.controllers[0], config)
    out.on_feedback(_home(config), {})
    out.set_target({j: 0.0 for j in out.output.joints}, 0.0)
    assert out.tick(0.0)[0].message.velocity == (1.5,) * 7


@pytest.mark.parametrize("bad", [-1.0, 0.0, [1.0, 1.0], True])
def test_a_signed_zero_or_malformed_speed_cap_is_refused_naming_the_field(bad):
    def cap(data):
        data["controllers"][0]["options"]["speed_cap"] = bad
    with pytest.raises(ConfigError, match="left_arm'.options.speed_cap"):
        _variant(cap)


def test_non_finite_targets_are_counted_and_change_nothing(config):
    out = registry.output_adapter(_output(config, "left_arm"), config)
    out.on_feedback(_home(config), {})
    out.set_target({j: math.nan for j in out.output.joints}, 0.0)
    assert out.tick(0.0) == [] and out.errors == {"non_finite_target": 1}


# --- Sharpa commands -----------------------------------------------------------------------------

def test_sharpa_commands_carry_22_positions_in_the_makers_index_order(config):
    out = registry.output_adapter(_output(config, "right_hand"), config)
    assert SHARPA_WAVE_ORDER == SHARPA_WAVE_JOINTS  # the policy's hand space is the maker's order
    measured = {f"right_{j}": 0.01 * i for i, j in enumerate(SHARPA_WAVE_ORDER)}
    out.on_feedback(measured, {})
    out.set_target(measured, 0.0)
    msg = out.tick(0.0)[0].message
    assert msg.name == SHARPA_WAVE_ORDER  # unprefixed, as the hand itself names them
    assert msg.position == pytest.approx([0.01 * i for i in range(22)])  # index i = maker joint i


def test_a_sharpa_output_in_another_order_is_refused():
    def swap(data):
        joints = data["controllers"][3]["joints"]
        joints[0], joints[1] = joints[1], joints[0]
        data["feedback"][4]["joints"] = list(joints)
    with pytest.raises(ConfigError, match="right_hand'.options.joints: .*maker's index order"):
        _variant(swap)


# --- feedback ------------------------------------------------------------------------------------

def test_sharpa_feedback_names_without_prefix_become_each_sides_urdf_names(config):
    for side in ("left", "right"):
        dec = registry.feedback_decoder(_source(config, f"{side}_hand"), config)
        sample = dec.decode(RosJointState(SHARPA_WAVE_ORDER, tuple(0.1 for _ in SHARPA_WAVE_ORDER)))
        assert set(sample.position) == {f"{side}_{j}" for j in SHARPA_WAVE_ORDER}
        with pytest.raises(Rejected, match="unknown_joint"):
            dec.decode(RosJointState(("wrist_roll",), (0.0,)))
        with pytest.raises(Rejected, match="unknown_joint"):
            dec.decode(RosJointState((f"{side}_thumb_IP",), (0.0,)))  # the maker never prefixes


def test_sharpa_feedback_without_a_prefix_is_refused_at_load():
    def drop(data):
        del data["feedback"][3]["prefix"]
    with pytest.raises(ConfigError, match="left_hand'.prefix"):
        _variant(drop)


def test_galaxea_feedback_without_names_is_mapped_by_the_configured_order(config):
    dec = registry.feedback_decoder(_source(config, "torso"), config)
    sample = dec.decode(RosJointState((), (0.1, 0.2, 0.3, 0.4)))
    assert sample.position == {"torso_joint1": 0.1, "torso_joint2": 0.2, "torso_joint3": 0.3, "torso_joint4": 0.4}
    with pytest.raises(Rejected, match="wrong_length"):
        dec.decode(RosJointState((), (0.1, 0.2, 0.3, 0.4, 0.5)))


# --- the mock far side ---------------------------------------------------------------------------

def _close_the_loop(config, mock, seconds: float, targets: dict[str, float], dt: float = 0.01):
    """Adapters -> mock -> feedback decoders -> adapters, on a simulated clock."""
    outs = [registry.output_adapter(o, config) for o in config.adapter_outputs]
    decs = {s.topic: registry.feedback_decoder(s, config) for s in config.feedback}
    measured: dict[str, float] = {}
    received: dict[str, int] = {}
    for k in range(int(seconds / dt)):
        now = k * dt
        for topic, state in mock.states(now):
            measured.update(decs[topic].decode(state).position)
            received[topic] = received.get(topic, 0) + 1
        for out in outs:
            out.on_feedback(measured, {})
            out.set_target(targets, now)
            for packet in out.tick(now):
                mock.on_message(packet.topic, packet.message, now)
        mock.step(dt)
    return measured, received


def test_the_mock_accepts_the_adapters_and_moves_to_their_targets(config):
    mock = MockRosRobot(config)
    targets = _home(config) | {"left_arm_joint4": -1.0, "right_thumb_CMC_FE": 0.8}
    measured, received = _close_the_loop(config, mock, 2.0, targets)
    assert mock.native_errors() == 0, mock.last_error
    assert measured["left_arm_joint4"] == pytest.approx(-1.0, abs=1e-3)
    assert measured["right_thumb_CMC_FE"] == pytest.approx(0.8, abs=1e-3)
    assert received["wave/left/joint_states"] == pytest.approx(20, abs=1)  # 10 Hz over 2 s
    assert received["/hdas/feedback_arm_left"] == 200  # every tick


def _arm_msg(mock, **kw) -> RosJointState:
    joints = mock.checks["/motion_target/target_joint_state_arm_left"].joints
    q = tuple(mock.position(j) for j in joints)
    return RosJointState(kw.get("name", joints), kw.get("position", q), kw.get("velocity", ()))


@pytest.mark.parametrize(("change", "reason"), [
    ({"velocity": (-0.5,) * 7}, "signed_velocity"),
    ({"velocity": (0.0,) * 7}, "signed_velocity"),
    ({"velocity": (1.0,) * 3}, "velocity_length"),
    ({"position": (0.0,) * 6}, "wrong_length"),
    ({"name": ("a",) * 7}, "wrong_names"),
])
def test_the_mock_galaxea_refuses_what_the_robot_would_misread(config, change, reason):
    mock = MockRosRobot(config)
    assert not mock.on_message("/motion_target/target_joint_state_arm_left", _arm_msg(mock, **change), 0.0)
    assert mock.errors == {reason: 1}


def test_the_mock_refuses_a_first_target_away_from_the_measured_pose_and_a_step_too_fast(config):
    mock = MockRosRobot(config)
    topic = "/motion_target/target_joint_state_arm_left"
    start = _arm_msg(mock)
    moved = RosJointState(start.name, tuple(v + 0.3 for v in start.position))
    assert not mock.on_message(topic, moved, 0.0) and mock.errors == {"jump": 1}
    assert mock.on_message(topic, start, 0.0)
    assert not mock.on_message(topic, moved, 0.02)  # 0.3 rad in 20 ms: 15 rad/s > the 7.1 rad/s limit
    assert mock.on_message(topic, moved, 0.2)


def test_the_mock_sharpa_refuses_names_in_another_order_than_the_index(config):
    mock = MockRosRobot(config)
    order = list(SHARPA_WAVE_ORDER)
    q = tuple(mock.position(f"left_{j}") for j in order)
    order[0], order[1] = order[1], order[0]
    assert not mock.on_message("wave/left/joint_commands", RosJointState(tuple(order), q), 0.0)
    assert "index_order" in mock.errors
    assert mock.on_message("wave/left/joint_commands", RosJointState((), q), 0.0)  # names are optional
