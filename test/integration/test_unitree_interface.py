"""The Unitree robots through their own interfaces, against the native mock on a private domain.

Processes: robot_interface_node (the same node hardware:=real runs) and mock_unitree_node, both
on a private native DDS domain over loopback with multicast off; the test listens on that domain
to what the maker's side receives, and on the ROS side to joint_states.
"""

from __future__ import annotations

import json
import random
import struct

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import JointState

from egoscale_ros.interfaces import settings
from egoscale_ros.interfaces.dds import NativeBus
from egoscale_ros.interfaces.fixed_cdr import pack
from egoscale_ros.interfaces.unitree import MAX_DT
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS, JOINT_STATE_QOS
from egoscale_ros.robot.config import load_robot_config

ROBOTS = ["g1_dex3", "h1_inspire", "h1_2_inspire"]


def reference_crc(packed: bytes) -> int:
    crc = 0xFFFFFFFF
    for (word,) in struct.iter_unpack("<I", packed):
        for bit in range(31, -1, -1):
            top = (crc >> 31) & 1
            crc = (crc << 1) & 0xFFFFFFFF
            if top ^ ((word >> bit) & 1):
                crc ^= 0x04C11DB7
    return crc


# Every test's native side has a discovery tag of its own: runs side by side never cross.
TAG = settings.private_tag()


def native_args(domain: int, robot: str, *extra: str, tag: str = TAG) -> list[str]:
    return ["-p", f"robot:={robot}", "-p", f"native_domain_id:={domain}", "-p", "native_loopback:=true",
            "-p", f"native_tag:={tag}", *extra]


def status(diags, node: str):
    for d in reversed(diags):
        for s in d.status:
            if s.name.endswith(node):
                return s
    return None


def value(diags, node: str, key: str):
    s = status(diags, node)
    return next((kv.value for kv in s.values if kv.key == key), None) if s else None


@pytest.mark.parametrize("robot", ROBOTS)
def test_the_maker_side_receives_valid_commands_and_feedback_becomes_joint_states(probe, robot, tmp_path):
    config = load_robot_config(robot)
    domain = random.randint(200, 230)
    listener = NativeBus(settings.loopback(domain, TAG))
    adapters = {o.topic: o for o in config.adapter_outputs}
    from egoscale_ros.interfaces import registry

    types = {}
    for out in config.adapter_outputs:
        types.update(registry.output_adapter(out, config).topics())
    for topic, idl_type in types.items():
        listener.reader(topic, idl_type, depth=256)
    received: dict[str, list] = {t: [] for t in types}
    states: list[JointState] = []
    probe.node.create_subscription(JointState, "joint_states", states.append, JOINT_STATE_QOS)
    pubs = {o.name: probe.node.create_publisher(JointState, o.ros_topic, COMMAND_QOS)
            for o in config.adapter_outputs}
    report = tmp_path / "report.json"
    mock = probe.start_node("mock_unitree_node", *native_args(domain, robot, "-p", f"report_path:={report}"))
    iface = probe.start_node("robot_interface_node", *native_args(domain, robot))

    def collect() -> None:
        for topic in types:
            received[topic].extend(listener.take(topic, limit=256))

    try:
        assert probe.spin_until(lambda: len(states) > 3, 90), "no joint_states from robot_interface_node"
        # Feedback became joint_states with the URDF names, starting at the mock's home pose.
        q = dict(zip(states[-1].name, states[-1].position))
        assert set(config.arm_joints + config.hand_joints) <= set(q)
        for j in config.arm_joints:
            assert q[j] == pytest.approx(config.home_position(j), abs=1e-3), j

        # Hand over, then command a small motion of every output's first joint.
        target = {}
        for out in config.adapter_outputs:
            lo, hi = config.joint_info(out.joints[0]).lower, config.joint_info(out.joints[0]).upper
            target[out.name] = {j: q[j] for j in out.joints}
            target[out.name][out.joints[0]] = min(max(q[out.joints[0]] + 0.3, lo), hi)

        def moved() -> bool:
            collect()
            for out in config.adapter_outputs:
                msg = JointState(name=list(target[out.name]), position=list(target[out.name].values()))
                pubs[out.name].publish(probe.stamp(msg))
            now = dict(zip(states[-1].name, states[-1].position))
            return all(abs(now[o.joints[0]] - target[o.name][o.joints[0]]) < 0.02 for o in config.adapter_outputs)

        assert probe.spin_until(moved, 60), "the mock robot's joints did not follow the commands"
        iface.send_signal(2)  # clean stop: the blend weight goes back to 0 first
        assert probe.spin_until(lambda: iface.poll() is not None, 30)
        assert iface.returncode == 0
        probe.spin_for(0.5)
        collect()
    finally:
        listener.close()

    # What the maker's side received, checked here independently of the mock's own checks.
    for topic, msgs in received.items():
        out = adapters[topic]
        assert msgs, f"nothing arrived on {topic}"
        opts = out.options
        if out.type in ("unitree_hg_arm_sdk", "unitree_go_lowcmd"):
            for k, msg in enumerate(msgs):
                if k % 40 == 0 or k == len(msgs) - 1:
                    assert msg.crc == reference_crc(pack(msg)[:-4]), f"{topic}: bad CRC in message {k}"
                for i, kp, kd in zip(opts["motor_index"], opts["kp"], opts["kd"]):
                    assert msg.motor_cmd[i].kp == pytest.approx(kp) and msg.motor_cmd[i].kd == pytest.approx(kd)
                    assert msg.motor_cmd[i].mode == opts.get("mode", 1)
        if out.type == "unitree_hg_arm_sdk":
            w = [m.motor_cmd[opts["blend_index"]].q for m in msgs]
            top = w.index(max(w))
            assert w[0] <= opts["blend_rate_per_s"] * MAX_DT + 1e-6 and max(w) == 1.0 and w[-1] == 0.0
            rising, falling = w[:top + 1], w[top:]
            assert all(b >= a for a, b in zip(rising, rising[1:])), "blend weight not monotone at start"
            assert all(b <= a for a, b in zip(falling, falling[1:])), "blend weight not monotone at shutdown"
            up = max(b - a for a, b in zip(rising, rising[1:]))
            down = max(a - b for a, b in zip(falling, falling[1:]))
            assert up <= opts["blend_rate_per_s"] * MAX_DT + 1e-6, f"blend weight stepped up by {up}"
            release = opts.get("release_rate_per_s", opts["blend_rate_per_s"])
            assert down <= release * MAX_DT + 1e-6, f"blend weight stepped down by {down}"
        if out.type == "unitree_go_lowcmd":  # H1: right arm at 12-15, left at 16-19
            msg = msgs[-1]
            for joint, index in zip(out.joints, opts["motor_index"]):
                side = "right" if joint.startswith("right_") else "left"
                assert (12 <= index <= 15) == (side == "right"), (joint, index)
            assert list(msg.head) == [0xFE, 0xEF] and msg.level_flag == 0xFF
        if out.type == "unitree_inspire":
            for msg in msgs:
                assert len(msg.cmds) == 12 and all(0.0 <= c.q <= 1.0 for c in msg.cmds)
            assert out.joints[0].startswith("R_") and out.joints[6].startswith("L_")
            # Slot 0 (right pinky) was commanded 0.3 rad closer to closed: below fully open.
            assert msgs[-1].cmds[0].q < 1.0 - 0.3 / 1.7 + 0.02
        if out.type == "unitree_dex3":
            for msg in msgs[-5:]:
                assert len(msg.motor_cmd) == 7
                assert [c.mode & 0x0F for c in msg.motor_cmd] == list(range(7))
    mock.send_signal(2)  # the mock writes its report on its way out
    mock.wait(30)
    rep = json.loads(report.read_text())
    assert rep["native_errors"] == 0, rep
    for key, blend in rep.items():
        if key.startswith("blend "):
            assert blend["handed_back"], rep


def test_bad_feedback_and_a_silent_robot_are_named_and_commands_hold(probe, tmp_path):
    """Bad CRCs on rt/lowstate are refused and counted; a robot on another domain is named silent."""
    domain = random.randint(200, 215)
    diags: list[DiagnosticArray] = []
    states: list[JointState] = []
    probe.node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 50)
    probe.node.create_subscription(JointState, "joint_states", states.append, JOINT_STATE_QOS)
    mock = probe.start_node("mock_unitree_node", *native_args(domain, "g1_dex3", "-p", "corrupt_crc_every:=3"))
    iface = probe.start_node("robot_interface_node", *native_args(domain, "g1_dex3"))
    # A second interface on the wrong native domain hears nothing and says so.
    lost = probe.start_node("robot_interface_node", *native_args(domain + 15, "g1_dex3"),
                            "-r", "__node:=lost_interface", "-r", "joint_states:=lost/joint_states")

    def counted() -> bool:
        bad = value(diags, "robot_interface_node", "feedback lowstate rejected bad_crc")
        return bad is not None and int(bad) >= 3 and len(states) > 3

    assert probe.spin_until(counted, 90), "bad CRCs were not counted on diagnostics"
    assert probe.spin_until(lambda: status(diags, "lost_interface") is not None, 30)
    s = status(diags, "lost_interface")
    assert "rt/lowstate" in s.message and "never heard" in s.message, s.message
    assert iface.poll() is None and lost.poll() is None
    # the good two in three still make whole joint_states
    assert len(states[-1].name) >= 17
    # The robot stops talking: named on diagnostics, the interface keeps running (commands hold).
    mock.send_signal(2)
    mock.wait(30)

    def silent() -> bool:
        s = status(diags, "/robot_interface_node")
        return s is not None and "went silent" in s.message and "rt/lowstate" in s.message

    assert probe.spin_until(silent, 30), status(diags, "/robot_interface_node")
    assert iface.poll() is None


@pytest.mark.parametrize("robot", ROBOTS)
def test_preflight_passes_against_the_mock_and_names_a_joint_placed_outside_its_limits(probe, capsys, robot):
    from egoscale_ros import cli
    from egoscale_ros.interfaces import registry

    config = load_robot_config(robot)
    lowstate = next(s for s in config.feedback if s.topic == "rt/lowstate")
    state_type = registry.feedback_decoder(lowstate, config).message_type()
    good, bad = random.randint(200, 215), random.randint(216, 230)
    probe.start_node("mock_unitree_node", *native_args(good, robot))
    probe.start_node("mock_unitree_node", *native_args(bad, robot, "-p", "place:=left_elbow_joint=3.5"))
    for domain in (good, bad):  # wait until each mock publishes (start-up takes seconds on a busy machine)
        bus = NativeBus(settings.loopback(domain, TAG))
        bus.reader("rt/lowstate", state_type)
        try:
            assert probe.spin_until(lambda b=bus: bool(b.take("rt/lowstate")), 90), "mock_unitree_node not up"
        finally:
            bus.close()

    def check(domain: int) -> tuple[int, dict]:
        rc = cli.main(["check", "--robot", robot, "--live", "--seconds", "2",
                       "--native-domain", str(domain), "--native-loopback", "--native-tag", TAG, "--json"])
        return rc, json.loads(capsys.readouterr().out)

    rc, report = check(good)
    assert rc == 0, report["problems"]
    assert all(s["received"] > 0 for s in report["sources"].values()), report["sources"]
    rc, report = check(bad)
    assert rc == 1
    assert report["joints"]["left_elbow_joint"]["status"] == "outside_limits"
    assert any(p.startswith("left_elbow_joint:") for p in report["problems"]), report["problems"]
