"""reach_driver: the evaluation's hands on a running graph - it sets episodes up and watches them.

Publishes the ball on ``sim/ball`` (the reaching scene of camera_node), keeps the newest
``joint_states`` message and counts the policy's wrist chunks. Spins on its own thread in a
private rclpy context (:class:`BackgroundDriver`), so the evaluation's main thread can run
episodes with plain sleeps.
"""

from __future__ import annotations

import threading

import numpy as np
from geometry_msgs.msg import PointStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import MultiDOFJointTrajectory

from egoscale_ros.nodes.wiring.background import BackgroundNode
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS, JOINT_STATE_QOS, LATCHED_QOS
from egoscale_ros.robot.config import RobotConfig


class ReachDriver(Node):
    def __init__(self, config: RobotConfig, name: str = "reach_driver", context=None):
        super().__init__(name, context=context)
        self.config = config
        self._lock = threading.Lock()
        self._joint_state: JointState | None = None
        self.chunks = 0
        self.pub_ball = self.create_publisher(PointStamped, "sim/ball", LATCHED_QOS)
        self.create_subscription(JointState, "joint_states", self._on_joint_state, JOINT_STATE_QOS)
        self.create_subscription(MultiDOFJointTrajectory, "policy/wrist_chunk", self._on_chunk, COMMAND_QOS)

    def _on_joint_state(self, msg: JointState) -> None:
        with self._lock:
            self._joint_state = msg  # converted only when sampled: joint states come at 200 Hz

    def _on_chunk(self, _msg: MultiDOFJointTrajectory) -> None:
        with self._lock:
            self.chunks += 1

    def joint_positions(self) -> dict[str, float] | None:
        with self._lock:
            msg = self._joint_state
        if msg is None or len(msg.name) != len(msg.position):
            return None
        return dict(zip(msg.name, msg.position))

    def chunk_count(self) -> int:
        with self._lock:
            return self.chunks

    def set_ball(self, position: np.ndarray | None) -> None:
        msg = PointStamped()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.config.base_frame
        x, y, z = (float("nan"),) * 3 if position is None else (float(v) for v in position)
        msg.point.x, msg.point.y, msg.point.z = x, y, z
        self.pub_ball.publish(msg)


class BackgroundDriver(BackgroundNode[ReachDriver]):
    """A :class:`ReachDriver` spinning on its own thread; ``close()`` joins it before teardown."""

    def __init__(self, config: RobotConfig, domain_id: int, name: str = "reach_driver"):
        super().__init__(lambda context: ReachDriver(config, name=name, context=context), domain_id, name)
        self.driver = self.node
