"""launch_pytest test of launch/bringup.launch.py on mock hardware.

Runs where the ROS 2 launch framework is installed (a ROS 2 workspace: `colcon test`); elsewhere it
skips, saying so. The same graph is exercised without launch by test/integration.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

launch_pytest = pytest.importorskip(
    "launch_pytest",
    reason="the ROS 2 launch framework (launch, launch_ros, launch_pytest) is not installed here; "
    "run this test in a ROS 2 workspace (colcon test)",
)
launch = pytest.importorskip("launch")
pytest.importorskip("launch_ros")

import rclpy  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parents[2] / "launch" / "bringup.launch.py"


@launch_pytest.fixture
def bringup():
    return launch.LaunchDescription(
        [
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
                launch_arguments={"robot": "g1_dex3", "hardware": "mock"}.items(),
            ),
            launch_pytest.actions.ReadyToTest(),
        ]
    )


@pytest.mark.launch(fixture=bringup)
def test_bringup_drives_the_mock_arm_controller():
    rclpy.init()
    node = rclpy.create_node("bringup_probe")
    received: list[Float64MultiArray] = []
    node.create_subscription(Float64MultiArray, "upper_body_controller/commands", received.append, 10)
    try:
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline and len(received) < 20:
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.shutdown()
    assert len(received) >= 20, "no arm commands reached upper_body_controller/commands"
    assert all(len(m.data) == 14 for m in received)
