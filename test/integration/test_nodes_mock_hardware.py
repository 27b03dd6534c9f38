"""Integration specs of single nodes against real DDS: mock hardware and camera."""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray

from egoscale_ros.nodes.wiring.qos import COMMAND_QOS, JOINT_STATE_QOS
from egoscale_ros.robot.config import load_robot_config


def test_mock_hardware_follows_arm_commands_and_counts_wrong_sized_ones(probe, g1_ros2_control):
    config = load_robot_config(g1_ros2_control)
    arms = next(c for c in config.controllers if c.name == "arms")
    states: list[JointState] = []
    diags: list[DiagnosticArray] = []
    probe.node.create_subscription(JointState, "joint_states", states.append, JOINT_STATE_QOS)
    probe.node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    pub = probe.node.create_publisher(Float64MultiArray, arms.topic, COMMAND_QOS)
    probe.start_node("mock_hardware_node", "-p", f"robot:={g1_ros2_control}")

    assert probe.spin_until(lambda: len(states) > 5, 60), "no joint_states from mock_hardware_node"
    assert set(states[-1].name) == set(config.movable_joints())
    target = [0.2] * len(arms.joints)
    assert probe.spin_until(lambda: pub.get_subscription_count() > 0, 10)
    for _ in range(50):
        pub.publish(Float64MultiArray(data=target))
        pub.publish(Float64MultiArray(data=[0.1, 0.2, 0.3]))  # wrong size: rejected, not applied
        probe.spin_for(0.02)

    def elbow_reached() -> bool:
        q = dict(zip(states[-1].name, states[-1].position))
        return abs(q["left_elbow_joint"] - 0.2) < 1e-3

    assert probe.spin_until(elbow_reached, 10), "mock joints did not converge to the command"

    def rejected_count() -> int:
        for d in reversed(diags):  # the latest report: earlier ones may predate the rejections
            for s in d.status:
                for kv in s.values:
                    if kv.key == f"rejected {arms.topic}":
                        return int(kv.value)
        return 0

    assert probe.spin_until(lambda: rejected_count() >= 1, 5), "wrong-sized commands were not counted"


def test_camera_node_publishes_rgb8_frames_with_frame_id(probe):
    frames: list[Image] = []
    probe.node.create_subscription(Image, "camera/head/image_raw", frames.append, COMMAND_QOS)
    probe.start_node("camera_node", "-p", "source:=synthetic", "-p", "width:=320", "-p", "height:=240",
                     "-p", "frame_id:=head_optical")
    assert probe.spin_until(lambda: len(frames) >= 5, 60)
    f = frames[-1]
    assert (f.width, f.height, f.encoding, f.header.frame_id) == (320, 240, "rgb8", "head_optical")
    assert len(f.data) == 320 * 240 * 3


def test_camera_node_refuses_an_unopenable_source_naming_it(probe):
    proc = probe.start_node("camera_node", "-p", "source:=/no/such/video.mp4")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "/no/such/video.mp4" in out and "FATAL" in out
