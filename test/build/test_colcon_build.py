"""The package builds with colcon as a ROS 2 ament_python package and runs from the install space.

colcon comes from PyPI (colcon-common-extensions + catkin-pkg, pinned in requirements-dev.txt);
without catkin-pkg colcon would silently build plain Python, so the ament index entry and the
libexec layout are asserted, not assumed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NODES = ["camera_node", "policy_node", "chunk_smoother_node", "wrist_ik_node", "hand_retarget_node",
         "mock_hardware_node", "egoscale-ros"]
IGNORED = shutil.ignore_patterns(".venv", ".venv-*", ".git", "build", "install", "log", "__pycache__", "*.egg-info",
                                 ".pytest_cache", ".ruff_cache")


@pytest.fixture(scope="module")
def install_space(tmp_path_factory) -> Path:
    colcon = Path(sys.executable).parent / "colcon"
    if not colcon.exists():
        pytest.skip("colcon is not installed in this environment (make setup installs it)")
    ws = tmp_path_factory.mktemp("ws")
    shutil.copytree(REPO, ws / "src" / "egoscale_ros", ignore=IGNORED)
    result = subprocess.run(
        [str(colcon), "build", "--base-paths", "src", "--event-handlers", "console_direct-"],
        cwd=ws, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return ws / "install" / "egoscale_ros"


def test_colcon_builds_an_ament_python_package(install_space):
    assert (install_space / "share/ament_index/resource_index/packages/egoscale_ros").is_file()
    share = install_space / "share/egoscale_ros"
    for rel in ["package.xml", "launch/bringup.launch.py", "config/robots/g1_dex3.yaml",
                "urdf/g1_upper_body.urdf", "urdf/hands/dex3_left.urdf"]:
        assert (share / rel).is_file(), rel
    for exe in NODES:
        assert (install_space / "lib/egoscale_ros" / exe).is_file(), exe


def test_installed_package_finds_its_share_folder_through_the_ament_index(install_space):
    site = next((install_space / "lib").glob("python3*/site-packages"))
    env = dict(os.environ, AMENT_PREFIX_PATH=str(install_space), PYTHONPATH=str(site))
    env.pop("EGOSCALE_ROS_SHARE", None)
    result = subprocess.run(
        [sys.executable, str(install_space / "lib/egoscale_ros/egoscale-ros"), "check", "--robot", "g1_dex3", "--json"],
        env=env, capture_output=True, text=True, timeout=120, cwd=install_space,
    )
    assert result.returncode == 0, result.stderr
    assert str(install_space / "share/egoscale_ros") in result.stdout
