"""``egoscale-ros status`` shows a running node's state from /diagnostics (real node, real DDS)."""

from __future__ import annotations

import subprocess
import sys
import time

from egoscale_ros.process_graph import private_ros_environment


def test_status_lists_a_running_node_and_fails_when_nothing_reports():
    env = private_ros_environment()
    node = subprocess.Popen([sys.executable, "-m", "egoscale_ros.nodes.mock_hardware_node", "--ros-args",
                             "-p", "robot:=g1_dex3"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120  # the node's start-up on a loaded machine
        while True:
            status = subprocess.run([sys.executable, "-m", "egoscale_ros.cli", "status", "--once", "--wait", "4"],
                                    env=env, capture_output=True, text=True, timeout=120)
            if "mock_hardware_node" in status.stdout or time.monotonic() > deadline or node.poll() is not None:
                break
    finally:
        node.send_signal(2)
        node.wait(timeout=30)
    assert status.returncode == 0, status.stdout + status.stderr
    header, row = status.stdout.splitlines()[:2]
    assert header.split()[:2] == ["node", "level"]
    assert row.split()[:2] == ["mock_hardware_node", "OK"]

    # Another domain, where nobody runs.
    empty = private_ros_environment(domain_id=100 + (int(env["ROS_DOMAIN_ID"]) - 100 + 50) % 100)
    silent = subprocess.run([sys.executable, "-m", "egoscale_ros.cli", "status", "--once", "--wait", "2"],
                            env=empty, capture_output=True, text=True, timeout=120)
    assert silent.returncode == 1 and "no node has published" in silent.stdout
