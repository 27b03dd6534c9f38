"""Integration: the control an evaluation uses to run many reaching episodes on one graph.

A real camera_node process on a private domain draws the ball where ``sim/ball`` puts it.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PointStamped
from sensor_msgs.msg import Image

from egoscale_ros.camera.reach_scene import BALL_RGB
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS, LATCHED_QOS
from egoscale_ros.reach.task import ReachTask
from egoscale_ros.robot.config import load_robot_config


def test_camera_node_draws_the_ball_where_sim_ball_puts_it(probe):
    task = ReachTask(load_robot_config("g1_dex3"))
    ball = task.sample_balls(1, np.random.default_rng(0))[0]
    frames: list[np.ndarray] = []
    probe.node.create_subscription(
        Image, "camera/head/image_raw",
        lambda m: frames.append(np.frombuffer(bytes(m.data), np.uint8).reshape(m.height, m.width, 3)),
        COMMAND_QOS)
    pub = probe.node.create_publisher(PointStamped, "sim/ball", LATCHED_QOS)
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

