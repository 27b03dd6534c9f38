"""Specification of the Unitree adapters against the mock robot's checks (no DDS: messages are
handed over in-process; the DDS path is covered by the integration tests)."""

from __future__ import annotations

import random
import struct

import pytest

from egoscale_ros.interfaces import registry
from egoscale_ros.interfaces import unitree as u
from egoscale_ros.interfaces import unitree_idl as idl
from egoscale_ros.interfaces.base import Rejected, WireSample
from egoscale_ros.interfaces.feedback import FeedbackAssembly
from egoscale_ros.interfaces.fixed_cdr import pack
from egoscale_ros.interfaces.mock_unitree import MockUnitree
from egoscale_ros.nodes.robot_interface_node import mimic_links
from egoscale_ros.robot.config import load_robot_config


def reference_crc(packed: bytes) -> int:
    """Bit-serial CRC over little-endian words, MSB first (independent of the code under test)."""
    crc = 0xFFFFFFFF
    for (word,) in struct.iter_unpack("<I", packed):
        for bit in range(31, -1, -1):
            top = (crc >> 31) & 1
            crc = (crc << 1) & 0xFFFFFFFF
            if top ^ ((word >> bit) & 1):
                crc ^= 0x04C11DB7
    return crc


class Loop:
    """Robot interface and mock robot wired back to back, on a simulated clock."""

    def __init__(self, robot: str):
        self.config = load_robot_config(robot)
        self.mock = MockUnitree(self.config)
        self.adapters = [registry.output_adapter(o, self.config) for o in self.config.adapter_outputs]
        self.decoders = {s.name: registry.feedback_decoder(s, self.config) for s in self.config.feedback}
        self.by_topic = {s.topic: s.name for s in self.config.feedback}
        self.assembly = FeedbackAssembly(self.config.feedback, mimic_links(self.config), clock=lambda: self.t)
        self.t = 0.0
        self.sent: dict[str, list] = {}
        self.wire: list[tuple[float, str, bytes]] = []  # (time, topic, bytes) of what went out as bytes

    def run(self, seconds: float, dt: float = 0.02, targets: dict[str, float] | None = None) -> None:
        for _ in range(round(seconds / dt)):
            self.t += dt
            for topic, msg in self.mock.states():
                name = self.by_topic[topic]
                self.assembly.accept(name, self.decoders[name].decode(msg))
            for a in self.adapters:
                a.on_feedback(self.assembly.position, self.assembly.extra)
                if targets:
                    a.set_target({j: targets.get(j, self.assembly.position[j]) for j in a.output.joints}, self.t)
                for packet in a.tick(self.t):
                    msg = packet.message
                    if isinstance(msg, WireSample):
                        self.wire.append((self.t, packet.topic, msg.data))
                        msg = msg.decode()
                    self.sent.setdefault(packet.topic, []).append(msg)
                    self.mock.on_message(packet.topic, packet.message, self.t)
            self.mock.step(dt)

    def release(self, seconds: float = 4.0, dt: float = 0.02) -> None:
        for a in self.adapters:
            a.release()
        self.run(seconds, dt)


def weights(msgs, index):
    return [m.motor_cmd[index].q for m in msgs]


def test_g1_arm_sdk_hands_over_and_back_with_a_monotone_rate_limited_blend_and_valid_crcs():
    loop = Loop("g1_dex3")
    loop.run(3.0)  # ramp in (2 s at 0.5/s)
    arm = next(a for a in loop.adapters if a.output.topic == "rt/arm_sdk")
    ramp_in = weights(loop.sent["rt/arm_sdk"], 29)
    assert ramp_in[0] == 0.0 and ramp_in[-1] == 1.0
    steps = [b - a for a, b in zip(ramp_in, ramp_in[1:])]
    assert min(steps) >= 0 and max(steps) <= 0.5 * 0.02 + 1e-6  # weights are float32 on the wire
    target = {"left_elbow_joint": 1.2, "right_shoulder_pitch_joint": -0.4}
    loop.run(2.0, targets=target)
    assert loop.mock.position("left_elbow_joint") == pytest.approx(1.2, abs=0.05)
    n = len(loop.sent["rt/arm_sdk"])
    loop.release()
    ramp_out = weights(loop.sent["rt/arm_sdk"][n:], 29)
    assert ramp_out[-1] == 0.0 and arm.released
    steps = [a - b for a, b in zip(ramp_out, ramp_out[1:])]
    # The hand-back at its own configured rate (0.8/s: a clean stop ends within 2 s).
    assert min(steps) >= 0 and max(steps) <= arm.ramp.release_rate_per_s * 0.02 + 1e-6
    assert max(steps) > 0.5 * 0.02 and len(ramp_out) <= 1.25 / 0.02 + 2
    for k, msg in enumerate(loop.sent["rt/arm_sdk"]):
        if k % 25 == 0:  # the bit-serial reference is slow; a sample through every phase suffices
            assert msg.crc == reference_crc(pack(msg)[:-4])
        assert msg.mode_machine == loop.mock.mode_machine
        assert [msg.motor_cmd[i].kp for i in (15, 18, 19, 22)] == [80, 80, 40, 80]
        assert msg.motor_cmd[15].mode == 1
    assert loop.mock.native_errors() == 0, loop.mock.errors
    assert loop.mock.report()["blend rt/arm_sdk"]["handed_back"]


def test_nothing_is_sent_before_the_robot_has_reported_its_state():
    config = load_robot_config("g1_dex3")
    arm = registry.output_adapter(config.adapter_outputs[0], config)
    arm.set_target({j: 0.0 for j in arm.output.joints}, 0.0)
    assert arm.tick(0.0) == [] and arm.tick(1.0) == []


def test_the_mock_refuses_a_bad_crc_a_jumping_blend_and_wrong_gains_and_holds():
    loop = Loop("g1_dex3")
    loop.run(0.2)
    arm = next(a for a in loop.adapters if a.output.topic == "rt/arm_sdk")
    w = arm.ramp.weight
    good = arm.encode(arm.stepper.sent, w)
    bad_crc = arm.encode(arm.stepper.sent, w)
    bad_crc.crc ^= 0x4
    jump = arm.encode(arm.stepper.sent, 1.0)
    gains = arm.encode(arm.stepper.sent, w)
    gains.motor_cmd[16].kp = 500.0
    gains.crc = reference_crc(pack(gains)[:-4])
    held = loop.mock.position("left_elbow_joint")
    for msg, reason in ((bad_crc, "bad_crc"), (jump, "ramp_rate"), (gains, "gains")):
        assert not loop.mock.on_message("rt/arm_sdk", msg, loop.t)
        assert loop.mock.errors.get(reason, 0) >= 1, (reason, loop.mock.errors)
    assert loop.mock.on_message("rt/arm_sdk", good, loop.t)
    assert loop.mock.position("left_elbow_joint") == held


@pytest.mark.parametrize("robot", ["g1_dex3", "h1_2_inspire"])
def test_arm_sdk_bytes_packed_from_numbers_equal_the_message_objects_bytes_crc_included(robot):
    loop = Loop(robot)
    loop.run(0.5)
    arm = next(a for a in loop.adapters if a.output.topic == "rt/arm_sdk")
    assert arm.hold_q  # the held motors (waist, torso) are in the message
    rng = random.Random(3)
    for k in range(50):
        q = [rng.uniform(-3.0, 3.0) for _ in arm.output.joints]
        weight = rng.choice([0.0, 1.0, rng.random()])
        arm.mode_machine = rng.choice([0, 5, 255])
        arm.hold_q = None if k % 10 == 0 else [rng.uniform(-1.0, 1.0) for _ in arm.hold_index]
        data = arm.encode_cdr(q, weight)
        oracle = arm.encode(q, weight)
        assert data == oracle.serialize()
        assert idl.HgLowCmd.deserialize(data).crc == reference_crc(pack(oracle)[:-4])
    sent = arm.tick(loop.t + 0.02)[0].message
    assert isinstance(sent, WireSample) and sent.type is idl.HgLowCmd


def test_dex3_bytes_packed_from_numbers_equal_the_message_objects_bytes():
    loop = Loop("g1_dex3")
    loop.run(0.2)
    hands = [a for a in loop.adapters if a.output.topic.startswith("rt/dex3/")]
    assert len(hands) == 2
    rng = random.Random(5)
    for hand in hands:
        for _ in range(20):
            q = [rng.uniform(-2.0, 2.0) for _ in range(u.DEX3_MOTORS)]
            assert hand.sample(q).data == hand.message(q).serialize()
        assert hand.sample(q[:5]).data == hand.message(q[:5]).serialize()  # a short command stays short


def test_the_mock_reads_arm_sdk_and_dex3_commands_from_their_bytes_with_the_verdicts_of_the_decoded_messages():
    loop = Loop("g1_dex3")
    loop.run(3.0, targets={"left_elbow_joint": 1.0, "right_hand_index_0_joint": 0.5})
    rng = random.Random(11)
    stream = []
    for k, (t, topic, data) in enumerate(loop.wire):
        if k % 7 == 4:  # every topic in turn (three topics per tick)
            data = bytearray(data)
            data[rng.randrange(8, len(data) - 8)] ^= 0x10  # a corrupted value (a CRC, a gain, a mode, a q)
            data = bytes(data)
        if k % 23 == 5 and topic.startswith("rt/dex3/"):
            short = idl.HgHandCmd.deserialize(data)
            short.motor_cmd = short.motor_cmd[:5]
            data = short.serialize()
        stream.append((t, topic, data))
    from_bytes, decoded = MockUnitree(loop.config), MockUnitree(loop.config)
    verdicts = set()
    last = 0.0
    for t, topic, data in stream:
        for mock in (from_bytes, decoded):
            mock.step(t - last)
        last = t
        a = from_bytes.on_cdr(topic, data, t)
        b = decoded.on_message(topic, idl.HgLowCmd.deserialize(data) if topic == "rt/arm_sdk"
                               else idl.HgHandCmd.deserialize(data), t)
        assert a == b, (topic, from_bytes.last_error, decoded.last_error)
        verdicts.add(a)
    assert verdicts == {True, False}
    assert from_bytes.errors == decoded.errors and {"bad_crc", "wrong_length"} <= set(from_bytes.errors)
    assert from_bytes.received == decoded.received and from_bytes.refused == decoded.refused
    assert all(from_bytes.position(j) == decoded.position(j) for j in from_bytes.own_pose)


def test_h1_lowcmd_carries_the_right_arm_at_12_to_15_and_the_left_at_16_to_19():
    loop = Loop("h1_inspire")
    loop.run(2.0, targets={"right_elbow_joint": 1.0, "left_elbow_joint": 0.2, "right_shoulder_pitch_joint": -0.5})
    msg = loop.sent["rt/lowcmd"][-1]
    assert msg.motor_cmd[15].q == pytest.approx(1.0, abs=1e-3)  # right elbow
    assert msg.motor_cmd[19].q == pytest.approx(0.2, abs=1e-3)  # left elbow
    assert msg.motor_cmd[12].q == pytest.approx(-0.5, abs=1e-3)
    assert list(msg.head) == [0xFE, 0xEF] and msg.level_flag == 0xFF
    assert all(msg.motor_cmd[i].mode == 0x0A for i in range(12, 20))
    assert msg.crc == reference_crc(pack(msg)[:-4])
    assert loop.mock.native_errors() == 0, loop.mock.errors


def test_inspire_slots_are_normalised_right_hand_first_with_one_meaning_open():
    loop = Loop("h1_inspire")
    loop.run(2.0, targets={"R_pinky_proximal_joint": 1.7, "L_thumb_proximal_yaw_joint": -0.1,
                           "L_index_proximal_joint": 0.85})
    msg = loop.sent["rt/inspire/cmd"][-1]
    values = [c.q for c in msg.cmds]
    assert len(values) == 12 and all(0.0 <= v <= 1.0 for v in values)
    assert values[0] == pytest.approx(0.0, abs=1e-3)  # right pinky closed
    assert values[11] == pytest.approx(1.0, abs=1e-3)  # left thumb rotation at its lower limit: open
    assert values[9] == pytest.approx(0.5, abs=1e-3)  # left index half way
    assert loop.mock.native_errors() == 0, loop.mock.errors


def test_dex3_mode_byte_packs_id_status_and_timeout():
    assert u.dex3_mode(3) == 0x13
    assert u.dex3_mode(6, status=0x01, timeout=True) == 0x96


def test_feedback_with_a_bad_crc_or_a_short_hand_array_is_rejected():
    config = load_robot_config("g1_dex3")
    mock = MockUnitree(config)
    mock.corrupt_crc_every = 1
    lowstate = registry.feedback_decoder(config.feedback[0], config)
    hand = registry.feedback_decoder(config.feedback[1], config)
    states = dict(mock.states())
    with pytest.raises(Rejected, match="bad_crc"):
        lowstate.decode(states["rt/lowstate"])
    short = states["rt/dex3/left/state"]
    short.motor_state = short.motor_state[:5]
    with pytest.raises(Rejected, match="wrong_length"):
        hand.decode(short)


def test_options_are_checked_at_load_naming_the_field(tmp_path):
    import yaml

    from egoscale_ros import resources
    from egoscale_ros.schema import ConfigError

    src = resources.robot_config_path("g1_dex3")
    data = yaml.safe_load(src.read_text())
    data["urdf"] = str(resources.resolve(data["urdf"], src.parent))
    data["extra_urdfs"] = [str(resources.resolve(p, src.parent)) for p in data["extra_urdfs"]]
    data["controllers"][0]["options"]["kp"] = [80] * 3
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"controller 'arms'.options.kp: expected 14 numbers"):
        load_robot_config(path)


def test_the_mock_refuses_a_short_hand_command_and_inspire_values_outside_zero_to_one():
    from egoscale_ros.interfaces import unitree_idl as idl

    g1 = Loop("g1_dex3")
    assert not g1.mock.on_message("rt/dex3/left/cmd", idl.HgHandCmd(motor_cmd=[idl.HgMotorCmd()] * 5), 0.0)
    assert g1.mock.errors == {"wrong_length": 1}
    h1 = Loop("h1_inspire")
    cmds = [idl.GoMotorCmd(q=1.0) for _ in range(12)]
    cmds[3].q = 1.4
    assert not h1.mock.on_message("rt/inspire/cmd", idl.GoMotorCmds(cmds=cmds), 0.0)
    assert not h1.mock.on_message("rt/inspire/cmd", idl.GoMotorCmds(cmds=cmds[:6]), 0.0)
    assert h1.mock.errors == {"out_of_range": 1, "wrong_length": 1}
