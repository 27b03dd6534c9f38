"""Integration specs of the command path's input safety, against real DDS and the mock hardware:
an e-stop from a volatile publisher (``ros2 topic pub`` defaults), from the CLI and as a
service; a second joint_states publisher holds the arms without a jump and is reported."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import Trigger

from egoscale_ros.nodes.wiring.qos import COMMAND_QOS
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.limits import joint_limits


def _status(diags: list[DiagnosticArray], node: str):
    for d in reversed(diags):
        for s in d.status:
            if s.name.endswith(node):
                return s
    return None


@pytest.fixture
def g1_arms(probe, g1_ros2_control):
    config = load_robot_config(g1_ros2_control)
    arms = next(c for c in config.controllers if c.name == "arms")
    got = {"commands": [], "diags": []}
    probe.node.create_subscription(Float64MultiArray, arms.topic, got["commands"].append, COMMAND_QOS)
    probe.node.create_subscription(DiagnosticArray, "/diagnostics", got["diags"].append, 50)
    probe.start_node("mock_hardware_node", "-p", f"robot:={g1_ros2_control}")
    probe.start_node("wrist_ik_node", "-p", f"robot:={g1_ros2_control}")
    assert probe.spin_until(lambda: len(got["commands"]) > 10, 60), "wrist_ik_node sent no commands"
    return config, arms, got


def _estopped(got) -> bool:
    s = _status(got["diags"], "wrist_ik_node")
    return s is not None and "e-stop" in s.message


def test_an_estop_from_a_volatile_publisher_latches(g1_arms, probe):
    _, _, got = g1_arms
    volatile = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)  # `ros2 topic pub` defaults
    pub = probe.node.create_publisher(Bool, "safety/estop", volatile)
    assert probe.spin_until(lambda: pub.get_subscription_count() > 0, 10)
    pub.publish(Bool(data=True))
    assert probe.spin_until(lambda: _estopped(got), 5), "a volatile e-stop did not reach wrist_ik_node"
    pub.publish(Bool(data=False))  # released, but latched until a reset
    probe.spin_for(1.5)
    assert _estopped(got)


def test_estop_service_and_cli(g1_arms, probe, ros_env):
    _, _, got = g1_arms
    client = probe.node.create_client(Trigger, "/wrist_ik_node/estop")
    assert client.wait_for_service(timeout_sec=10)
    future = client.call_async(Trigger.Request())
    assert probe.spin_until(future.done, 5) and future.result().success
    assert probe.spin_until(lambda: _estopped(got), 5)
    reset = subprocess.run([sys.executable, "-m", "egoscale_ros.cli", "estop", "--reset"], env=ros_env,
                           capture_output=True, text=True, timeout=60)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert "/wrist_ik_node/estop_reset" in reset.stdout
    assert probe.spin_until(lambda: not _estopped(got), 5), "the CLI's reset did not clear the e-stop"
    press = subprocess.run([sys.executable, "-m", "egoscale_ros.cli", "estop"], env=ros_env,
                           capture_output=True, text=True, timeout=60)
    assert press.returncode == 0, press.stdout + press.stderr
    assert probe.spin_until(lambda: _estopped(got), 5), "the CLI's e-stop did not reach wrist_ik_node"


def test_a_second_joint_states_publisher_holds_the_arms_without_a_jump(g1_arms, probe):
    config, arms, got = g1_arms
    limits = joint_limits(config, list(arms.joints))
    foreign = probe.node.create_publisher(JointState, "joint_states", COMMAND_QOS)
    start = len(got["commands"])
    for _ in range(100):  # 1 s of a stranger's view: every arm joint 0.8 rad away from home
        msg = probe.stamp(JointState())
        msg.name = list(arms.joints)
        msg.position = [config.home_position(j) + 0.8 for j in arms.joints]
        foreign.publish(msg)
        probe.spin_for(0.01)

    def reported() -> bool:
        s = _status(got["diags"], "wrist_ik_node")
        return s is not None and s.level[0] == 2 and "untrusted" in s.message

    assert probe.spin_until(reported, 5), "a second joint_states publisher went unreported"
    commands = np.array([c.data for c in got["commands"][start - 1:]])
    steps = np.abs(np.diff(commands, axis=0)).max(axis=0)
    # 50 Hz ticks; a late tick may carry up to max_dt (0.05 s) of motion.
    assert np.all(steps <= limits.velocity * 0.05 + 1e-9), f"command jumped: {steps}"
