"""Integration specs of policy_node against real DDS: chunks from camera + joint states, diagnostics."""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory, MultiDOFJointTrajectory

from egoscale_ros.nodes.wiring.qos import LATCHED_QOS, SENSOR_QOS
from egoscale_ros.nodes.wiring.stamps import duration_to_sec
from egoscale_ros.nodes.wiring.transforms import transform_to_matrix
from egoscale_ros.policy.export import ensure_default_policy
from egoscale_ros.policy.layout import sharpa_joint_names
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.kinematics import RobotKinematics


@pytest.fixture(scope="module")
def manifest() -> str:
    # The same cached reference policy the demo uses (exported on first use).
    return str(ensure_default_policy(preset="tiny", robot="g1_dex3", progress=False))


def policy_status(diags: list[DiagnosticArray]) -> dict[str, str]:
    for d in reversed(diags):
        for s in d.status:
            if s.name.endswith("policy_node"):
                return {kv.key: kv.value for kv in s.values}
    return {}


def test_policy_node_turns_camera_and_joint_states_into_stamped_chunks(probe, manifest):
    config = load_robot_config("g1_dex3")
    wrists: list[MultiDOFJointTrajectory] = []
    hands: list[JointTrajectory] = []
    diags: list[DiagnosticArray] = []
    probe.node.create_subscription(MultiDOFJointTrajectory, "policy/wrist_chunk", wrists.append, 10)
    probe.node.create_subscription(JointTrajectory, "policy/hand_chunk", hands.append, 10)
    probe.node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    # Reliable depth 1, as camera_node publishes: large frames sent best effort between processes
    # are lost to fragment drops when the machine is busy.
    image_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE)
    pub_image = probe.node.create_publisher(Image, "camera/head/image_raw", image_qos)
    pub_joints = probe.node.create_publisher(JointState, "joint_states", SENSOR_QOS)
    pub_instruction = probe.node.create_publisher(String, "policy/instruction", LATCHED_QOS)
    pub_instruction.publish(String(data="grasp the blue cube"))

    joints = config.movable_joints()
    home = {j: config.home_position(j) for j in joints}
    sent_stamps: set[tuple[int, int]] = set()
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[200:280, 300:380] = (40, 70, 200)
    counter = {"n": 0}

    def publish_inputs() -> None:
        now = probe.node.get_clock().now().to_msg()
        pub_joints.publish(JointState(header=_header(now), name=joints, position=[home[j] for j in joints]))
        counter["n"] += 1
        if counter["n"] % 3:
            return
        img = Image(header=_header(now), height=480, width=640)
        if counter["n"] % 30 == 0:  # an encoding the policy cannot read: rejected and counted
            img.encoding, img.step, img.data = "yuv422", 1280, bytes(480 * 1280)
        else:  # bgr8 is converted to the policy's RGB and counted
            img.encoding, img.step, img.data = "bgr8", 1920, frame[..., ::-1].tobytes()
            sent_stamps.add((now.sec, now.nanosec))
        pub_image.publish(img)

    probe.node.create_timer(0.01, publish_inputs)
    probe.start_node("policy_node", "-p", "robot:=g1_dex3", "-p", f"manifest:={manifest}",
                     "-p", "cameras:=[head]", "-p", "rate_hz:=30.0")

    assert probe.spin_until(lambda: len(wrists) >= 10 and len(hands) >= 10, 90), "no chunks from policy_node"
    w, h = wrists[-1], hands[-1]
    assert w.joint_names == ["left_wrist", "right_wrist"] and w.header.frame_id == config.base_frame
    assert (w.header.stamp.sec, w.header.stamp.nanosec) in sent_stamps  # stamped with the observation
    assert len(w.points) == 30 and len(h.points) == 30
    for k, point in enumerate(w.points):
        assert duration_to_sec(point.time_from_start) == pytest.approx(k / 30.0, abs=1e-6)
    assert h.joint_names == sharpa_joint_names("left") + sharpa_joint_names("right")
    assert any(hh.header.stamp == w.header.stamp for hh in hands)
    assert np.all(np.isfinite([p for pt in h.points for p in pt.positions]))

    # Relative wrist actions start from the wrist pose of the joint state at the image time.
    expected = RobotKinematics(config).wrist_pose("left", home)
    first = transform_to_matrix(w.points[0].transforms[0])
    assert np.linalg.norm(first[:3, 3] - expected[:3, 3]) < 0.01

    def diag_ready() -> bool:
        d = policy_status(diags)
        # the latched instruction arrives on its own subscription, in its own time
        return (int(d.get("images_rejected", 0)) >= 1 and int(d.get("chunks", 0)) >= 10
                and d.get("instruction") == "grasp the blue cube")
    assert probe.spin_until(diag_ready, 15), policy_status(diags)
    d = policy_status(diags)
    assert d["backend"].startswith("onnxruntime")
    assert int(d["images_converted"]) >= 1 and int(d["nan_chunks"]) == 0
    assert float(d["latency_ms_p50"]) > 0 and float(d["rate_hz"]) > 0
    assert d["instruction"] == "grasp the blue cube"


def test_policy_node_observes_the_robot_only_through_its_declared_joint_state_source(probe, manifest):
    # The probe is the declared source; a stranger publishes whole joint states 0.8 rad away on
    # every joint. No chunk may be composed from the stranger's pose, the policy says why (ERROR,
    # "untrusted") and produces nothing while the stranger is there, then resumes by itself.
    import rclpy

    config = load_robot_config("g1_dex3")
    wrists: list[MultiDOFJointTrajectory] = []
    diags: list[DiagnosticArray] = []
    probe.node.create_subscription(MultiDOFJointTrajectory, "policy/wrist_chunk", wrists.append, 10)
    probe.node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 50)
    image_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE)
    pub_image = probe.node.create_publisher(Image, "camera/head/image_raw", image_qos)
    pub_joints = probe.node.create_publisher(JointState, "joint_states", SENSOR_QOS)
    stranger = rclpy.create_node("stranger", context=probe.context)
    pub_foreign = {"pub": None}
    joints = config.movable_joints()
    home = {j: config.home_position(j) for j in joints}
    frame = np.zeros((480, 640, 3), np.uint8).tobytes()
    tick = {"n": 0}

    def publish_inputs() -> None:
        now = probe.node.get_clock().now().to_msg()
        pub_joints.publish(JointState(header=_header(now), name=joints, position=[home[j] for j in joints]))
        if pub_foreign["pub"] is not None:
            pub_foreign["pub"].publish(JointState(header=_header(now), name=joints,
                                                  position=[home[j] + 0.8 for j in joints]))
        tick["n"] += 1
        if tick["n"] % 3 == 0:
            pub_image.publish(Image(header=_header(now), height=480, width=640, encoding="rgb8", step=1920,
                                    data=frame))

    probe.node.create_timer(0.01, publish_inputs)
    probe.start_node("policy_node", "-p", "robot:=g1_dex3", "-p", f"manifest:={manifest}",
                     "-p", "cameras:=[head]", "-p", "rate_hz:=30.0", "-p", "joint_state_source:=test_probe")
    assert probe.spin_until(lambda: len(wrists) >= 5, 90), "no chunks from the declared source's states"

    expected = RobotKinematics(config).wrist_pose("left", home)[:3, 3]

    def composed_from_home(chunks) -> bool:
        return all(np.linalg.norm(transform_to_matrix(w.points[0].transforms[0])[:3, 3] - expected) < 0.01
                   for w in chunks)

    def untrusted() -> bool:
        s = _policy_status_message(diags)
        return s is not None and s[0] == 2 and "untrusted" in s[1] and "stranger" in s[1]

    before = len(wrists)
    pub_foreign["pub"] = stranger.create_publisher(JointState, "joint_states", SENSOR_QOS)
    try:
        assert probe.spin_until(untrusted, 10), _policy_status_message(diags)
        while_foreign = len(wrists)
        probe.spin_for(1.0)
        assert len(wrists) == while_foreign, "chunks while a second node publishes joint_states"
        assert composed_from_home(wrists[before:]), "a chunk was composed from the stranger's joint state"
    finally:
        stranger.destroy_publisher(pub_foreign["pub"])
        pub_foreign["pub"] = None
    resumed = len(wrists)
    assert probe.spin_until(lambda: len(wrists) >= resumed + 5, 30), "chunks did not resume without the stranger"
    assert composed_from_home(wrists[resumed:])
    stranger.destroy_node()


def _policy_status_message(diags: list[DiagnosticArray]) -> tuple[int, str] | None:
    for d in reversed(diags):
        for s in d.status:
            if s.name.endswith("policy_node"):
                return s.level[0], s.message
    return None


def test_policy_node_refuses_a_missing_manifest_naming_it(probe, tmp_path):
    proc = probe.start_node("policy_node", "-p", "robot:=g1_dex3", "-p", f"manifest:={tmp_path}/none.yaml")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "none.yaml" in out and "not found" in out


def _header(stamp: Time):
    from std_msgs.msg import Header

    return Header(stamp=stamp, frame_id="test")
