"""ament_python build of egoscale_ros (also installable with plain pip for the dev venv)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "egoscale_ros"

NODES = [
    "camera_node",
    "policy_node",
    "chunk_smoother_node",
    "wrist_ik_node",
    "hand_retarget_node",
    "command_container",
    "mock_hardware_node",
    "robot_interface_node",
    "mock_unitree_node",
    "recorder_node",
    "mock_ros_robot_node",
    "viz_node",
]


def share(subdir: str, pattern: str = "*") -> tuple:
    return (f"share/{PACKAGE}/{subdir}", [p for p in glob(f"{subdir}/{pattern}") if "." in p.rsplit("/", 1)[-1]])


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        share("launch", "*.launch.py"),
        share("config/robots", "*.yaml"),
        share("config/hands", "*.yaml"),
        share("config/policies", "*.yaml"),
        share("urdf", "*.urdf"),
        share("urdf/hands", "*.urdf"),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="egoscale_ros maintainers",
    maintainer_email="maintainers@egoscale-ros.dev",
    description="Deploys EgoScale-style VLA policies on dexterous humanoids with ROS 2.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [f"{n} = {PACKAGE}.nodes.{n}:main" for n in NODES]
        + ["egoscale-ros = egoscale_ros.cli:main"],
    },
)
