"""Integration specs of wrist_ik_node against real DDS and the mock hardware node."""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray
from trajectory_msgs.msg import MultiDOFJointTrajectory, MultiDOFJointTrajectoryPoint

from egoscale_ros.kinematics import se3
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS, JOINT_STATE_QOS, LATCHED_QOS, SENSOR_QOS
from egoscale_ros.nodes.wiring.transforms import matrix_to_transform
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.kinematics import RobotKinematics

ARM_GOAL = {  # a comfortable reach, both arms mirrored
    "left": [-0.4, 0.4, 0.1, 0.9, 0.2, 0.3, -0.2],
    "right": [-0.4, -0.4, -0.1, 0.9, -0.2, 0.3, 0.2],
}


def _targets_msg(poses: dict[str, np.ndarray], base_frame: str) -> MultiDOFJointTrajectory:
    msg = MultiDOFJointTrajectory()
    msg.header.frame_id = base_frame
    msg.joint_names = [f"{s}_wrist" for s in poses]
    msg.points = [MultiDOFJointTrajectoryPoint(transforms=[matrix_to_transform(p) for p in poses.values()])]
    return msg


def _diag_value(diags: list[DiagnosticArray], key: str) -> str | None:
    for d in reversed(diags):
        for s in d.status:
            if s.name.endswith("wrist_ik_node"):
                for kv in s.values:
                    if kv.key == key:
                        return kv.value
    return None


@pytest.fixture
def g1_graph(probe, g1_ros2_control):
    config = load_robot_config(g1_ros2_control)  # the arms on a ros2_control forward controller
    kin = RobotKinematics(config)
    arms = next(c for c in config.controllers if c.name == "arms")
    got = {"states": [], "commands": [], "diags": []}
    probe.node.create_subscription(JointState, "joint_states", got["states"].append, JOINT_STATE_QOS)
    # The G1's arms go out through the maker's interface: the IK node publishes the internal
    # command topic of that adapter (a named JointState); ros2_control outputs are arrays.
    msg_type = JointState if arms.ros_type == "JointState" else Float64MultiArray
    probe.node.create_subscription(msg_type, arms.ros_topic, got["commands"].append, COMMAND_QOS)
    probe.node.create_subscription(DiagnosticArray, "/diagnostics", got["diags"].append, 10)
    pub = probe.node.create_publisher(MultiDOFJointTrajectory, "command/wrist_targets", COMMAND_QOS)
    estop = probe.node.create_publisher(Bool, "safety/estop", LATCHED_QOS)
    probe.start_node("mock_hardware_node", "-p", f"robot:={g1_ros2_control}")
    ik = probe.start_node("wrist_ik_node", "-p", f"robot:={g1_ros2_control}")
    assert probe.spin_until(lambda: pub.get_subscription_count() > 0 and len(got["states"]) > 3, 60), (
        "wrist_ik_node or mock_hardware_node did not come up"
    )
    return config, kin, arms, got, pub, estop, ik


def _values(command) -> list[float]:
    return list(command.position) if isinstance(command, JointState) else list(command.data)


def _goal_poses(kin) -> dict[str, np.ndarray]:
    q = {j: v for side, vals in ARM_GOAL.items() for j, v in zip(kin.config.arms[side].joints, vals)}
    return {side: kin.wrist_pose(side, q) for side in ("left", "right")}


def test_wrist_targets_move_the_mock_arms_there_within_limits(g1_graph, probe):
    config, kin, arms, got, pub, _, ik = g1_graph
    goals = _goal_poses(kin)
    msg = _targets_msg(goals, config.base_frame)

    def reached() -> bool:
        pub.publish(probe.stamp(msg))
        if not got["states"]:
            return False
        q = dict(zip(got["states"][-1].name, got["states"][-1].position))
        errors = [se3.pose_error(kin.wrist_pose(s, q), goals[s]) for s in goals]
        return all(dp < 2e-3 and dr < np.radians(2) for dp, dr in errors)

    assert probe.spin_until(reached, 20), "the mock robot's wrists did not reach the targets"
    assert ik.poll() is None
    commands = np.array([_values(c) for c in got["commands"]])
    assert commands.shape[1] == len(arms.joints) and np.isfinite(commands).all()
    lower = np.array([config.joint_info(j).lower for j in arms.joints])
    upper = np.array([config.joint_info(j).upper for j in arms.joints])
    assert np.all(commands >= lower - 1e-9) and np.all(commands <= upper + 1e-9)
    assert probe.spin_until(lambda: _diag_value(got["diags"], "solves") not in (None, "0"), 5)
    assert _diag_value(got["diags"], "ik_failures") == "0"


@pytest.mark.parametrize("robot", ["r1pro_sharpa", "h1_inspire"])
def test_other_robots_per_their_controller_outputs(probe, robot):
    """R1 Pro: one JointState output per arm (best effort); H1: 4-DoF arms, position first."""
    config = load_robot_config(robot)
    kin = RobotKinematics(config)
    states: list[JointState] = []
    commands: dict[str, list] = {}
    probe.node.create_subscription(JointState, "joint_states", states.append, JOINT_STATE_QOS)
    for out in config.controller_for(config.arm_joints):
        commands[out.ros_topic] = []  # an adapter's output: its internal command topic (named JointState)
        msg_type = JointState if out.ros_type == "JointState" else Float64MultiArray
        probe.node.create_subscription(msg_type, out.ros_topic, commands[out.ros_topic].append, SENSOR_QOS)
    pub = probe.node.create_publisher(MultiDOFJointTrajectory, "command/wrist_targets", COMMAND_QOS)
    probe.start_node("mock_hardware_node", "-p", f"robot:={robot}")
    ik = probe.start_node("wrist_ik_node", "-p", f"robot:={robot}")
    assert probe.spin_until(lambda: pub.get_subscription_count() > 0 and len(states) > 3, 60)
    goal_q = {}
    for side, arm in config.arms.items():
        chain = kin.arm_chain(side)
        goal_q.update(zip(arm.joints, chain.clip(np.array(arm.rest_pose) + 0.25)))
    goals = {side: kin.wrist_pose(side, goal_q) for side in config.arms}
    msg = _targets_msg(goals, config.base_frame)

    def reached() -> bool:
        pub.publish(probe.stamp(msg))
        q = dict(zip(states[-1].name, states[-1].position))
        return all(se3.pose_error(kin.wrist_pose(s, q), goals[s])[0] < 2e-3 for s in goals)

    assert probe.spin_until(reached, 20), f"{robot}: the mock robot's wrists did not reach the targets"
    assert ik.poll() is None
    assert all(len(c) > 0 for c in commands.values()), {t: len(c) for t, c in commands.items()}


def test_estop_freezes_the_commands_and_bad_targets_are_rejected(g1_graph, probe):
    config, kin, arms, got, pub, estop, ik = g1_graph
    goals = _goal_poses(kin)
    for _ in range(20):
        pub.publish(probe.stamp(_targets_msg(goals, config.base_frame)))
        probe.spin_for(0.02)
    assert probe.spin_until(lambda: len(got["commands"]) > 5, 10)

    estop.publish(Bool(data=True))
    probe.spin_for(0.3)
    frozen = len(got["commands"])
    moved = {s: p @ se3.make_transform(trans=np.array([0.0, 0.0, 0.05])) for s, p in goals.items()}
    for _ in range(30):
        pub.publish(probe.stamp(_targets_msg(moved, config.base_frame)))
        probe.spin_for(0.02)
    after = np.array([_values(c) for c in got["commands"][frozen:]])
    assert len(after) > 0, "commands keep flowing (holding) during an e-stop"
    assert np.ptp(after, axis=0).max() < 1e-12, "an engaged e-stop freezes the command"

    bad = _targets_msg(goals, config.base_frame)
    bad.points[0].transforms[0].translation.x = float("nan")
    wrong_frame = _targets_msg(goals, "no_such_frame")
    for _ in range(5):
        pub.publish(probe.stamp(bad))
        pub.publish(probe.stamp(wrong_frame))
        probe.spin_for(0.05)
    assert probe.spin_until(lambda: int(_diag_value(got["diags"], "rejected_messages") or 0) >= 2, 5)
    assert ik.poll() is None, "bad input never crashes the node"
