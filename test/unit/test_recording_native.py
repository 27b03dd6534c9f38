"""The maker's native messages in a recording: ROS 2 channels an independent reader decodes, and
joint positions read back through the robot interface's own adapters and decoders."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("cyclonedds", reason="Unitree's types are declared for the Cyclone DDS binding")
pytest.importorskip("rosbags", reason="rosbags is the independent reader these specs open recordings with")

from egoscale_ros.interfaces import registry
from egoscale_ros.interfaces import unitree_idl as idl
from egoscale_ros.interfaces.base import RosJointState
from egoscale_ros.recording.native import (
    as_ros2_cdr,
    blend_weight,
    command_positions,
    decode_sample,
    feedback_positions,
    native_channels,
    ros_command_positions,
)
from egoscale_ros.recording.native_schema import message_definition, ros_topic, ros_type_name
from egoscale_ros.recording.writer import McapRecorder
from egoscale_ros.robot.config import load_robot_config

UNITREE_TYPES = [idl.HgLowCmd, idl.HgLowState, idl.HgHandCmd, idl.HgHandState, idl.GoLowCmd, idl.GoLowState,
                 idl.GoMotorCmds, idl.GoMotorStates]


def hand_state(q: list[float]) -> idl.HgHandState:
    return idl.HgHandState(motor_state=[idl.HgMotorState(q=v, dq=0.5) for v in q],
                           press_sensor_state=[idl.HgPressSensorState(lost=3)], power_v=24.5)


def test_dds_names_map_to_ros2_names():
    assert ros_type_name(idl.HgLowCmd) == "unitree_hg/msg/LowCmd"
    assert ros_type_name(idl.GoMotorCmds) == "unitree_go/msg/MotorCmds"
    assert ros_topic("rt/dex3/left/cmd") == "/dex3/left/cmd"
    assert ros_topic("rt/lowstate") == "/lowstate"


def test_definitions_list_fixed_arrays_sequences_and_each_nested_type_once():
    text = message_definition(idl.HgLowCmd)
    assert text.splitlines()[:3] == ["uint8 mode_pr", "uint8 mode_machine", "MotorCmd[35] motor_cmd"]
    assert text.count("MSG: unitree_hg/MotorCmd") == 1
    assert "MotorState[] motor_state" in message_definition(idl.HgHandState)


@pytest.mark.parametrize("idl_type", UNITREE_TYPES, ids=lambda t: ros_type_name(t))
def test_rosbags_decodes_a_native_sample_with_the_recorded_definition(idl_type):
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.EMPTY)
    store.register(get_types_from_msg(message_definition(idl_type), ros_type_name(idl_type)))
    sample = idl_type()
    data = as_ros2_cdr(sample.serialize(), idl_type)
    decoded = store.deserialize_cdr(data, ros_type_name(idl_type))
    assert bytes(store.serialize_cdr(decoded, ros_type_name(idl_type))) == data  # every byte accounted for


def test_a_recorded_native_channel_opens_with_rosbags_and_mcap_ros2(tmp_path):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    from rosbags.highlevel import AnyReader

    path = tmp_path / "native.mcap"
    rec = McapRecorder(path)
    rec.add_topic("/dex3/left/state", "unitree_hg/msg/HandState", message_definition(idl.HgHandState))
    sample = hand_state([0.1 * k for k in range(7)])
    assert rec.write("/dex3/left/state", sample.serialize(), 1_000)
    rec.close()
    with AnyReader([path]) as reader:
        (conn,) = reader.connections
        assert (conn.topic, conn.msgtype) == ("/dex3/left/state", "unitree_hg/msg/HandState")
        (_, _, raw), = list(reader.messages())
        msg = reader.deserialize(raw, conn.msgtype)
    assert [round(float(m.q), 6) for m in msg.motor_state] == [round(0.1 * k, 6) for k in range(7)]
    assert msg.press_sensor_state[0].lost == 3 and math.isclose(msg.power_v, 24.5)
    with open(path, "rb") as f:
        (_, _, _, decoded), = list(make_reader(f, decoder_factories=[DecoderFactory()]).iter_decoded_messages())
    assert math.isclose(decoded.motor_state[6].q, 0.6, rel_tol=1e-6)
    assert decode_sample(raw, idl.HgHandState).serialize() == sample.serialize()  # float32 as sent


def test_a_g1_records_its_arm_sdk_lowstate_and_dex3_topics():
    channels = {c.topic: c.type_name for c in native_channels(load_robot_config("g1_dex3"))}
    assert channels == {"/arm_sdk": "unitree_hg/msg/LowCmd", "/lowstate": "unitree_hg/msg/LowState",
                        "/dex3/left/cmd": "unitree_hg/msg/HandCmd", "/dex3/right/cmd": "unitree_hg/msg/HandCmd",
                        "/dex3/left/state": "unitree_hg/msg/HandState",
                        "/dex3/right/state": "unitree_hg/msg/HandState"}


def test_a_robot_on_ros_topics_only_has_no_native_channels():
    assert native_channels(load_robot_config("r1pro_sharpa")) == []


def test_commands_read_back_through_the_outputs_motor_layout():
    config = load_robot_config("g1_dex3")
    arms = registry.output_adapter(next(o for o in config.adapter_outputs if o.type == "unitree_hg_arm_sdk"), config)
    arms.mode_machine, arms.hold_q = 5, [0.0, 0.0, 0.0]
    q = [0.01 * (k + 1) for k in range(len(arms.output.joints))]
    sent = decode_sample(arms.encode(q, 0.25).serialize(), idl.HgLowCmd)
    positions = command_positions(arms, sent)
    assert list(positions) == list(arms.output.joints)
    assert [round(v, 6) for v in positions.values()] == [round(v, 6) for v in q]
    assert blend_weight(arms, sent) == 0.25
    hand = registry.output_adapter(next(o for o in config.adapter_outputs if o.type == "unitree_dex3"), config)
    cmd = idl.HgHandCmd(motor_cmd=[idl.HgMotorCmd(q=0.1 * k) for k in range(7)])
    assert math.isclose(command_positions(hand, cmd)[hand.output.joints[3]], 0.3, rel_tol=1e-6)
    assert blend_weight(hand, cmd) is None


def test_feedback_reads_back_through_the_robot_interfaces_decoder_which_refuses_a_bad_crc():
    from egoscale_ros.interfaces.crc import unitree_crc
    from egoscale_ros.interfaces.fixed_cdr import pack

    config = load_robot_config("g1_dex3")
    source = next(s for s in config.feedback if s.type == "unitree_hg_lowstate")
    decoder = registry.feedback_decoder(source, config)
    state = idl.HgLowState(motor_state=[idl.HgMotorState(q=0.01 * i) for i in range(35)])
    state.crc = unitree_crc(pack(state)[:-4])
    index = decoder.motor_index
    measured = feedback_positions(decoder, decode_sample(state.serialize(), idl.HgLowState))
    assert math.isclose(measured[source.joints[0]], 0.01 * index[0], rel_tol=1e-5)
    state.crc ^= 1
    assert feedback_positions(decoder, state) == {}


def test_a_makers_ros_joint_states_are_read_by_index_and_mapped_by_its_decoder():
    config = load_robot_config("r1pro_sharpa")
    out = next(o for o in config.adapter_outputs if o.type == "sharpa_joint_commands")
    msg = RosJointState(name=("thumb_CMC_FE",) * 22, position=tuple(0.01 * k for k in range(22)))
    positions = ros_command_positions(out, msg)
    assert positions[out.joints[5]] == pytest.approx(0.05)
    assert ros_command_positions(out, RosJointState(name=(), position=(0.1,))) == {}
    source = next(s for s in config.feedback if s.type == "sharpa_joint_states")
    decoder = registry.feedback_decoder(source, config)
    state = RosJointState(name=tuple(n.removeprefix(source.prefix) for n in out.joints),
                          position=tuple(0.02 * k for k in range(22)))
    assert feedback_positions(decoder, state)[out.joints[2]] == pytest.approx(0.04)


def test_a_recording_reads_back_as_native_commands_and_feedback_and_a_bad_crc_is_left_out(tmp_path):
    from egoscale_ros.interfaces.crc import unitree_crc
    from egoscale_ros.interfaces.fixed_cdr import pack
    from egoscale_ros.recording.native import read_native
    from egoscale_ros.recording.reader import open_recording

    config = load_robot_config("g1_dex3")
    arms = registry.output_adapter(next(o for o in config.adapter_outputs if o.type == "unitree_hg_arm_sdk"), config)
    arms.mode_machine, arms.hold_q = 5, [0.0, 0.0, 0.0]
    source = next(s for s in config.feedback if s.type == "unitree_hg_lowstate")
    index = registry.feedback_decoder(source, config).motor_index
    path = tmp_path / "run.mcap"
    rec = McapRecorder(path, metadata={"robot": "g1_dex3"})
    for channel in native_channels(config):
        rec.add_topic(channel.topic, channel.type_name, channel.definition)
    for k in range(3):
        q = [0.1 * k] * len(arms.output.joints)
        rec.write("/arm_sdk", arms.encode(q, 1.0).serialize(), 1_000 + 10 * k)
        state = idl.HgLowState(motor_state=[idl.HgMotorState(q=0.1 * k + 0.01) for _ in range(35)])
        state.crc = unitree_crc(pack(state)[:-4]) ^ (1 if k == 1 else 0)  # the second one is corrupt
        rec.write("/lowstate", state.serialize(), 1_005 + 10 * k)
    rec.close()
    commands, feedback = read_native(open_recording(path), config)
    assert [t for t, _ in commands["/arm_sdk"]] == [1_000, 1_010, 1_020]
    assert commands["/arm_sdk"][2][1][arms.output.joints[0]] == pytest.approx(0.2)
    assert [t for t, _ in feedback["/lowstate"]] == [1_005, 1_025]  # the bad CRC is refused, as on the robot
    assert feedback["/lowstate"][1][1][source.joints[0]] == pytest.approx(0.21) and len(index) == len(source.joints)
    assert feedback["/dex3/left/state"] == [] and "/dex3/left/cmd" in commands
