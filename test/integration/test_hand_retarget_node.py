"""Integration specs of hand_retarget_node against real DDS and the mock hardware node.

The policy's hand space is the Sharpa Wave's; a G1 wears Dex3-1 hands (retargeted), an R1 Pro
wears Sharpa Wave hands (passed through).
"""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool

from egoscale_ros.nodes.wiring.qos import COMMAND_QOS, JOINT_STATE_QOS, LATCHED_QOS
from egoscale_ros.retarget.config import load_hand_config
from egoscale_ros.retarget.retargeter import Retargeter
from egoscale_ros.robot.config import load_robot_config

# A relaxed grasp in the Sharpa space: fingers half flexed, thumb opposed.
SHARPA_POSE = {
    "thumb_CMC_FE": 0.9, "thumb_CMC_AA": 0.1, "thumb_MCP_FE": 0.4, "thumb_MCP_AA": 0.0, "thumb_IP": 0.5,
    "index_MCP_FE": 0.7, "index_MCP_AA": 0.0, "index_PIP": 0.8, "index_DIP": 0.4,
    "middle_MCP_FE": 0.8, "middle_MCP_AA": 0.0, "middle_PIP": 0.9, "middle_DIP": 0.5,
    "ring_MCP_FE": 0.8, "ring_MCP_AA": 0.0, "ring_PIP": 0.9, "ring_DIP": 0.5,
    "pinky_CMC": 0.1, "pinky_MCP_FE": 0.8, "pinky_MCP_AA": 0.0, "pinky_PIP": 0.9, "pinky_DIP": 0.5,
}


def _sharpa_targets(pose: dict[str, float] = SHARPA_POSE) -> JointState:
    msg = JointState()
    msg.name = [f"{side}_{j}" for side in ("left", "right") for j in pose]
    msg.position = [float(v) for _side in ("left", "right") for v in pose.values()]
    return msg


def _diag_value(diags: list[DiagnosticArray], key: str) -> str | None:
    for d in reversed(diags):
        for s in d.status:
            if s.name.endswith("hand_retarget_node"):
                for kv in s.values:
                    if kv.key == key:
                        return kv.value
    return None


def _graph(probe, robot: str):
    config = load_robot_config(robot)
    outputs = {side: next(c for c in config.controllers if set(config.hands[side].joints) <= set(c.joints))
               for side in config.hands}
    got = {"states": [], "diags": [], **{side: [] for side in outputs}}
    probe.node.create_subscription(JointState, "joint_states", got["states"].append, JOINT_STATE_QOS)
    for side, out in outputs.items():
        assert out.ros_type == "JointState"  # named JointState, or an adapter's internal command topic
        probe.node.create_subscription(JointState, out.ros_topic, got[side].append, COMMAND_QOS)
    probe.node.create_subscription(DiagnosticArray, "/diagnostics", got["diags"].append, 10)
    pub = probe.node.create_publisher(JointState, "command/hand_targets", COMMAND_QOS)
    estop = probe.node.create_publisher(Bool, "safety/estop", LATCHED_QOS)
    probe.start_node("mock_hardware_node", "-p", f"robot:={robot}")
    # The policy's hand is a parameter the graph plan sets from the manifest (no default in the node).
    node = probe.start_node("hand_retarget_node", "-p", f"robot:={robot}", "-p", "source:=sharpa_wave")
    assert probe.spin_until(lambda: pub.get_subscription_count() > 0 and len(got["states"]) > 3, 90), (
        "hand_retarget_node or mock_hardware_node did not come up"
    )
    return config, got, pub, estop, node


def _expected(config, side: str) -> dict[str, float]:
    """What the core retargeter makes of SHARPA_POSE for this robot's hand (converged)."""
    hand = config.hands[side]
    r = Retargeter.from_config(hand.retarget, side, source="sharpa_wave")
    source = {f"{side}_{j}": v for j, v in SHARPA_POSE.items()}
    for _ in range(30):
        q = r.retarget(source)
    return dict(zip(r.joint_names, q))


@pytest.fixture
def g1(probe):
    return _graph(probe, "g1_dex3")


def test_policy_hand_targets_move_the_mock_dex3_hands_to_the_retargeted_pose(g1, probe):
    config, got, pub, _, node = g1
    msg = _sharpa_targets()
    expected = {side: _expected(config, side) for side in config.hands}

    def reached() -> bool:
        pub.publish(probe.stamp(msg))
        if not got["states"]:
            return False
        q = dict(zip(got["states"][-1].name, got["states"][-1].position))
        return all(abs(q[j] - v) < 0.02 for side in expected for j, v in expected[side].items())

    assert probe.spin_until(reached, 30), "the mock robot's hands did not reach the retargeted pose"
    assert node.poll() is None
    for side in config.hands:
        joints = list(config.hands[side].joints)
        commands = np.array([[dict(zip(c.name, c.position))[j] for j in joints] for c in got[side]])
        assert commands.shape[1] == len(joints) and np.isfinite(commands).all()
        lower = np.array([config.joint_info(j).lower for j in joints])
        upper = np.array([config.joint_info(j).upper for j in joints])
        assert np.all(commands >= lower - 1e-9) and np.all(commands <= upper + 1e-9)
    assert probe.spin_until(lambda: _diag_value(got["diags"], "left_solves") not in (None, "0"), 5)
    assert _diag_value(got["diags"], "failures") == "0"


def test_bad_hand_targets_are_rejected_and_counted_and_estop_freezes(g1, probe):
    config, got, pub, estop, node = g1
    good = _sharpa_targets()
    for _ in range(20):
        pub.publish(probe.stamp(good))
        probe.spin_for(0.02)
    assert probe.spin_until(lambda: len(got["left"]) > 5, 10)

    nan = _sharpa_targets()
    nan.position[3] = float("nan")
    short = _sharpa_targets()
    short.position = short.position[:-1]
    unknown = _sharpa_targets()
    unknown.name[0] = "left_sixth_finger"
    partial = _sharpa_targets()
    partial.name, partial.position = partial.name[:5], partial.position[:5]
    for _ in range(3):
        for bad in (nan, short, unknown, partial):
            pub.publish(probe.stamp(bad))
        probe.spin_for(0.05)
    assert probe.spin_until(lambda: int(_diag_value(got["diags"], "rejected_messages") or 0) >= 4, 5)
    assert node.poll() is None, "bad input never crashes the node"

    estop.publish(Bool(data=True))
    probe.spin_for(0.3)
    frozen = len(got["left"])
    open_hand = _sharpa_targets({j: 0.0 for j in SHARPA_POSE})
    for _ in range(30):
        pub.publish(probe.stamp(open_hand))
        probe.spin_for(0.02)
    after = np.array([c.position for c in got["left"][frozen:]])
    assert len(after) > 0, "commands keep flowing (holding) during an e-stop"
    assert np.ptp(after, axis=0).max() < 1e-12, "an engaged e-stop freezes the hand command"


def test_r1pro_wearing_the_policy_hand_gets_the_targets_passed_through(probe):
    config, got, pub, _, node = _graph(probe, "r1pro_sharpa")
    msg = _sharpa_targets()
    limits = load_hand_config("sharpa_wave", "left")
    assert limits.hand == "sharpa_wave"

    def reached() -> bool:
        pub.publish(probe.stamp(msg))
        if not got["states"]:
            return False
        q = dict(zip(got["states"][-1].name, got["states"][-1].position))
        return all(abs(q[n] - v) < 0.01 for n, v in zip(msg.name, msg.position))

    assert probe.spin_until(reached, 30), "pass-through targets did not reach the mock Sharpa hands"
    assert probe.spin_until(lambda: _diag_value(got["diags"], "left_mode") == "passthrough", 5)
    assert node.poll() is None
