"""Fixtures for integration tests: real node processes on a private ROS domain, a real probe node.

Nothing here mocks ROS: every node runs as its own process with real rclpy and Fast DDS, and the
test observes the topics from its own rclpy context on the same private domain.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor

from egoscale_ros.process_graph import private_ros_environment


class Probe:
    """A test-side node with helpers to wait for conditions while spinning."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=int(env["ROS_DOMAIN_ID"]))
        self.node = rclpy.create_node("test_probe", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.processes: list[subprocess.Popen] = []

    def spin_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def stamp(self, msg):
        """``msg`` with ``header.stamp`` = now: command nodes judge a target by its own stamp."""
        msg.header.stamp = self.node.get_clock().now().to_msg()
        return msg

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def start_node(self, executable: str, *ros_args: str, log: Path | None = None) -> subprocess.Popen:
        cmd = [sys.executable, "-m", f"egoscale_ros.nodes.{executable}", "--ros-args", *ros_args]
        proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.processes.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(2)
        for proc in self.processes:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture
def ros_env() -> dict[str, str]:
    return private_ros_environment()


@pytest.fixture
def probe(ros_env) -> Iterator[Probe]:
    p = Probe(ros_env)
    try:
        yield p
    finally:
        p.close()


G1_ARMS = ["left_shoulder_pitch_joint", "left_shoulder_roll_joint", "left_shoulder_yaw_joint", "left_elbow_joint",
           "left_wrist_roll_joint", "left_wrist_pitch_joint", "left_wrist_yaw_joint",
           "right_shoulder_pitch_joint", "right_shoulder_roll_joint", "right_shoulder_yaw_joint", "right_elbow_joint",
           "right_wrist_roll_joint", "right_wrist_pitch_joint", "right_wrist_yaw_joint"]


@pytest.fixture(scope="session")
def g1_ros2_control(tmp_path_factory) -> str:
    """g1_dex3 as a robot run through ros2_control: a Float64MultiArray forward controller for the
    arms, JointState for the hands, joint_states from the robot (the generic mock_hardware_node)."""
    import yaml

    from egoscale_ros import resources
    from egoscale_ros.robot.config import load_robot_config

    src = resources.robot_config_path("g1_dex3")
    hands = load_robot_config("g1_dex3").hands  # the hand joints live in the hand configs
    data = yaml.safe_load(src.read_text())
    data["urdf"] = str(resources.resolve(data["urdf"], src.parent))
    data["extra_urdfs"] = [str(resources.resolve(p, src.parent)) for p in data["extra_urdfs"]]
    data["name"] = "g1_dex3_ros2_control"
    data.pop("feedback", None)
    data.pop("native", None)
    data["controllers"] = [
        {"name": "arms", "topic": "upper_body_controller/commands", "type": "Float64MultiArray", "joints": G1_ARMS},
        *({"name": f"{side}_hand", "topic": f"dex3/{side}/cmd", "type": "JointState",
           "joints": list(hands[side].joints)} for side in ("left", "right")),
    ]
    path = tmp_path_factory.mktemp("robots") / "g1_dex3_ros2_control.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)
