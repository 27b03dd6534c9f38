"""Declaring node parameters and loading the robot config they name."""

from __future__ import annotations

from typing import Any

from rclpy.node import Node
from rclpy.parameter import Parameter

from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.spec import RobotConfig


def declare(node: Node, name: str, default: Any) -> Any:
    """Declare a parameter with a default and return its value."""
    return node.declare_parameter(name, default).value


def required(node: Node, name: str, kind: Parameter.Type) -> Any:
    """Declare a parameter that has no default here and return its value; refuse to start without it.

    For the values the graph plan hands a node from the robot config and the policy manifest
    (rates, frames, hand joints): one source, so ``ros2 param`` shows what the node runs with.
    """
    value = node.declare_parameter(name, kind).value
    if value is None:
        raise ValueError(f"parameter {name} is not set (the graph plan, egoscale_ros.graph, sets it from the "
                         f"robot config and the policy manifest)")
    return value


def robot_config_from_parameters(node: Node) -> RobotConfig:
    """Load the robot config named by the ``robot`` parameter (``urdf`` may override its URDF).

    A bad config is fatal at start: the error names the file and field.
    """
    robot = declare(node, "robot", "g1_dex3")
    urdf = declare(node, "urdf", "")
    return load_robot_config(robot, urdf_override=urdf or None)
