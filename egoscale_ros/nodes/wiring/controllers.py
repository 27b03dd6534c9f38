"""Controller outputs: publishing joint commands in the configured message type, and decoding them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from egoscale_ros.nodes.wiring.joint_state_cdr import JointStateEncoder, stamp_parts
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS
from egoscale_ros.nodes.wiring.stamps import (
    sec_to_duration,
    sec_to_stamp,
)
from egoscale_ros.robot.spec import ControllerOutput, RobotConfig


def controller_qos(output: ControllerOutput) -> QoSProfile:
    """QoS of a controller output as configured (Galaxea's interface is best effort, depth 1).

    The internal topic of an adapter output is reliable: robot_interface_node takes every command.
    """
    if output.reliable or not output.is_ros:
        return COMMAND_QOS
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)


class ControllerPublisher:
    """Publishes joint commands on one controller output of the robot config.

    The message type, topic and joint order come from config (JointState, Float64MultiArray as
    for ros2_control forward controllers, or a one-point JointTrajectory). An output served by a
    maker's interface adapter is published as a named JointState on its ``ros_topic``
    (``command/joints/<name>``), which robot_interface_node turns into the maker's message.
    """

    def __init__(self, node: Node, output: ControllerOutput, horizon_s: float = 0.02):
        self.output = output
        self._node = node
        self._horizon_s = horizon_s
        msg_type = {"JointState": JointState, "Float64MultiArray": Float64MultiArray,
                    "JointTrajectory": JointTrajectory}[output.ros_type]
        self._pub = node.create_publisher(msg_type, output.ros_topic, controller_qos(output))
        self._type = output.ros_type
        self.published = 0
        # In-process consumers of this output (the robot interface node of the same container):
        # each gets (positions in the output's joint order, stamp in s) of every command; the
        # topic is then published only while something else subscribes it.
        self.sinks: list[Callable[[np.ndarray, float], None]] = []
        # Column of each output joint in a caller's joint order, per order seen (usually one).
        self._columns: dict[tuple[str, ...], np.ndarray] = {}
        # A JointState output's names never change: its messages are laid out as CDR bytes once
        # and each publish writes only the stamp and the numbers (joint_state_cdr), which rclpy
        # sends as they are instead of converting a message object.
        self._encoder: JointStateEncoder | None = None
        if self._type == "JointState":
            self._encoder = JointStateEncoder(output.joints)

    def publish_arrays(self, joints: Sequence[str], positions: np.ndarray, velocities: np.ndarray | None = None,
                       stamp_s: float | None = None) -> None:
        """Publish from arrays in the order ``joints`` (which must hold every joint of this output).

        The per-tick path of the command nodes: no dicts, and a JointState output fills its one
        message from the arrays directly.
        """
        key = tuple(joints)
        columns = self._columns.get(key)
        if columns is None:
            index = {j: i for i, j in enumerate(key)}
            missing = [j for j in self.output.joints if j not in index]
            if missing:
                raise KeyError(f"{self.output.ros_topic}: joints {missing} missing from the command")
            columns = self._columns[key] = np.array([index[j] for j in self.output.joints], dtype=np.intp)
        if self._encoder is None:
            names = self.output.joints
            q = np.asarray(positions, dtype=np.float64)[columns]
            dq = np.asarray(velocities, dtype=np.float64)[columns] if velocities is not None else None
            self.publish(dict(zip(names, q.tolist())), dict(zip(names, dq.tolist())) if dq is not None else None,
                         stamp_s=stamp_s)
            return
        # The command's own time (the tick it was computed for), else now; as sec_to_stamp splits it.
        ns = round(stamp_s * 1e9) if stamp_s is not None else self._node.get_clock().now().nanoseconds
        q = np.asarray(positions, dtype=np.float64)[columns]
        self.published += 1
        for sink in self.sinks:
            sink(q, ns * 1e-9)
        if self.sinks and self._pub.get_subscription_count() == 0:
            return  # handed over in process, and nobody else listens
        sec, nanosec = stamp_parts(ns)
        data = self._encoder.encode(sec, nanosec, q, np.asarray(velocities, dtype=np.float64)[columns]
                                    if velocities is not None else None)
        self._pub.publish(data)

    def publish(self, positions: dict[str, float], velocities: dict[str, float] | None = None,
                stamp_s: float | None = None) -> None:
        """Publish the joints this output carries; every one of them must be in ``positions``."""
        # The command's own time (the tick it was computed for), else now.
        stamp = sec_to_stamp(stamp_s) if stamp_s is not None else self._node.get_clock().now().to_msg()
        names = self.output.joints
        q = [float(positions[j]) for j in names]
        dq = [float(velocities.get(j, 0.0)) for j in names] if velocities else []
        if self._type == "JointState":
            msg = JointState()
            msg.header.stamp = stamp
            msg.name = list(names)
            msg.position = q
            msg.velocity = dq
        elif self._type == "Float64MultiArray":
            msg = Float64MultiArray()
            msg.layout.dim = [MultiArrayDimension(label="joints", size=len(q), stride=len(q))]
            msg.data = q
        else:
            msg = JointTrajectory()
            msg.header.stamp = stamp
            msg.joint_names = list(names)
            msg.points = [JointTrajectoryPoint(positions=q, velocities=dq,
                                               time_from_start=sec_to_duration(self._horizon_s))]
        self._pub.publish(msg)
        self.published += 1


def controller_publishers(node: Node, config: RobotConfig, joints: Iterable[str]) -> list[ControllerPublisher]:
    """Publishers for every controller output that carries any of ``joints``."""
    return [ControllerPublisher(node, out) for out in config.controller_for(list(joints))]


def decode_controller_message(msg: Any, output: ControllerOutput) -> dict[str, float]:
    """Joint positions carried by a controller command message (used by the mock hardware).

    Raises ValueError naming the topic when the message does not fit the configured joints.
    """
    if isinstance(msg, Float64MultiArray):
        if len(msg.data) != len(output.joints):
            raise ValueError(
                f"{output.ros_topic}: Float64MultiArray has {len(msg.data)} values, expected {len(output.joints)}"
            )
        return dict(zip(output.joints, (float(v) for v in msg.data)))
    if isinstance(msg, JointState):
        names, values = list(msg.name), list(msg.position)
    elif isinstance(msg, JointTrajectory):
        if not msg.points:
            raise ValueError(f"{output.ros_topic}: JointTrajectory has no points")
        names, values = list(msg.joint_names), list(msg.points[0].positions)
    else:
        raise ValueError(f"{output.ros_topic}: unsupported message type {type(msg).__name__}")
    if len(names) != len(values):
        raise ValueError(f"{output.ros_topic}: {len(names)} names but {len(values)} positions")
    unknown = set(names) - set(output.joints)
    if unknown:
        raise ValueError(f"{output.ros_topic}: joints {sorted(unknown)} are not in controller '{output.name}'")
    return {n: float(v) for n, v in zip(names, values)}
