"""Integration: the controls an evaluation uses to run many reaching episodes on one graph.

Real node processes on a private domain: camera_node draws the ball where ``sim/ball`` puts it;
mock_hardware_node goes home on ``mock/reset`` and ignores commands while ``mock/hold`` is set.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PointStamped
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64MultiArray

from egoscale_ros.camera.reach_scene import BALL_RGB
from egoscale_ros.nodes import common
from egoscale_ros.reach.task import ReachTask
from egoscale_ros.robot.config import load_robot_config


def test_camera_node_draws_the_ball_where_sim_ball_puts_it(probe):
    task = ReachTask(load_robot_config("g1_dex3"))
    ball = task.sample_balls(1, np.random.default_rng(0))[0]
    frames: list[np.ndarray] = []
    probe.node.create_subscription(
        Image, "camera/head/image_raw",
        lambda m: frames.append(np.frombuffer(bytes(m.data), np.uint8).reshape(m.height, m.width, 3)),
        common.COMMAND_QOS)
    pub = probe.node.create_publisher(PointStamped, "sim/ball", common.LATCHED_QOS)
    probe.start_node("camera_node", "-p", "source:=reach", "-p", "robot:=g1_dex3", "-p", "width:=320",
                     "-p", "height:=240", "-p", "rate_hz:=10.0")
    assert probe.spin_until(lambda: len(frames) > 0, 60.0), "no frame from camera_node"
    u, v = np.round(task.scene.pixel_of(ball)).astype(int)
    assert np.abs(frames[-1][v, u].astype(int) - BALL_RGB).max() > 60  # no ball yet

    msg = PointStamped()
    msg.header.frame_id = "pelvis"
    msg.point.x, msg.point.y, msg.point.z = (float(c) for c in ball)
    pub.publish(msg)
    count = len(frames)
    assert probe.spin_until(
        lambda: len(frames) > count + 1 and np.abs(frames[-1][v, u].astype(int) - BALL_RGB).max() < 90, 20.0
    ), "the ball did not appear where the camera projects it"


def test_mock_hardware_resets_home_and_holds(probe):
    config = load_robot_config("g1_dex3")
    arms = next(c for c in config.controllers if c.name == "arms")
    states: list[JointState] = []
    probe.node.create_subscription(JointState, "joint_states", states.append, common.JOINT_STATE_QOS)
    command = probe.node.create_publisher(Float64MultiArray, arms.topic, common.controller_qos(arms))
    reset = probe.node.create_publisher(JointState, "mock/reset", 10)
    hold = probe.node.create_publisher(Bool, "mock/hold", common.LATCHED_QOS)
    probe.start_node("mock_hardware_node", "-p", "robot:=g1_dex3")
    assert probe.spin_until(lambda: len(states) > 0, 60.0), "no joint_states from the mock"
    joint = arms.joints[3]  # left elbow
    home = config.home_position(joint)

    def position() -> float:
        return dict(zip(states[-1].name, states[-1].position))[joint]

    target = [config.home_position(j) for j in arms.joints]
    target[3] = home + 0.5
    assert probe.spin_until(lambda: (command.publish(Float64MultiArray(data=target)), abs(position() - home - 0.5)
                                     < 0.01)[1], 20.0), "the mock did not follow the command"

    hold.publish(Bool(data=True))
    probe.spin_for(0.5)
    reset.publish(JointState())
    assert probe.spin_until(lambda: abs(position() - home) < 1e-6, 10.0), "mock/reset did not put it home"
    for _ in range(10):  # held: commands are not followed
        command.publish(Float64MultiArray(data=target))
        probe.spin_for(0.05)
    assert abs(position() - home) < 1e-6

    hold.publish(Bool(data=False))
    assert probe.spin_until(lambda: (command.publish(Float64MultiArray(data=target)), abs(position() - home - 0.5)
                                     < 0.01)[1], 20.0), "the mock did not follow commands after the hold"
