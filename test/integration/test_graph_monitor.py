"""Specification: the demo's monitor keeps observing while the demo samples the joint states from
its own thread (each sample makes a subscription and removes it again while the monitor spins on
its thread). A removal that raced the spin thread's wait set used to end that thread, and the
demo then counted no command at all."""

from __future__ import annotations

import sys
import threading
import time

import rclpy
from rclpy.node import Node
from sensor_msgs.msg import JointState

from egoscale_ros.nodes.graph_monitor import BackgroundMonitor
from egoscale_ros.nodes.wiring.qos import JOINT_STATE_QOS
from egoscale_ros.robot.config import load_robot_config

SAMPLES = 1500  # the race showed within a hundred samples with threads switching this often


def test_the_monitor_keeps_spinning_while_another_thread_samples_the_joint_states(ros_env, monkeypatch):
    for key in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_BUILTIN_TRANSPORTS"):
        monkeypatch.setenv(key, ros_env[key])
    domain = int(ros_env["ROS_DOMAIN_ID"])
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=domain)
    talker = Node("joint_state_talker", context=context)
    pub = talker.create_publisher(JointState, "joint_states", JOINT_STATE_QOS)
    stop = threading.Event()

    def talk() -> None:  # keeps the monitor's executor waking up
        while not stop.is_set():
            pub.publish(JointState(name=["j"], position=[0.0]))
            time.sleep(0.001)

    background = BackgroundMonitor(load_robot_config("g1_dex3"), domain_id=domain, name="monitor_under_test")
    talking = threading.Thread(target=talk, daemon=True)
    talking.start()
    switch = sys.getswitchinterval()
    try:
        assert background.monitor.sample_joint_states(timeout_s=10.0), "the talker was never heard"
        sys.setswitchinterval(1e-6)  # threads interleave every few bytecodes
        for _ in range(SAMPLES):
            background.monitor.sample_joint_states(timeout_s=0.0)
        sys.setswitchinterval(switch)
        # Still spinning: a new sample is heard.
        assert background.monitor.sample_joint_states(timeout_s=10.0) == {"j": 0.0}
    finally:
        sys.setswitchinterval(switch)
        stop.set()
        talking.join(timeout=2.0)
        background.close()
        talker.destroy_node()
        rclpy.try_shutdown(context=context)
