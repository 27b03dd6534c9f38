"""mock_ros_robot_node: a mock Galaxea R1 Pro / Sharpa Wave — the far side of their ROS topics.

Subscribes the robot config's Galaxea target topics (``/motion_target/*``) and Sharpa command
topics (``wave/{side}/joint_commands``) as the robot does (best effort), checks every message
(``egoscale_ros.interfaces.mock_ros_robot``), moves its joints and publishes ``/hdas/feedback_*``
and ``wave/{side}/joint_states`` (unprefixed names, at the configured 10 Hz). Its diagnostics
count what it received, refused and why (``native_errors``). It never publishes ``joint_states``:
that view is robot_interface_node's, assembled from this feedback exactly as on the robot.

On SIGINT it prints its report (JSON, the demo reads it) and writes it to ``report_path`` when
one is given.

Parameters: ``robot``, ``urdf``, ``rate_hz`` (simulation and Galaxea feedback), ``place``
("joint=value": report that joint there, even outside its limits), ``report_path``.
"""

from __future__ import annotations

import time

from rclpy.node import Node
from sensor_msgs.msg import JointState

from egoscale_ros.interfaces.base import RosJointState
from egoscale_ros.interfaces.mock_ros_robot import MockRosRobot
from egoscale_ros.nodes.wiring import mock_status
from egoscale_ros.nodes.wiring.diagnostics import Diagnostics
from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare, robot_config_from_parameters
from egoscale_ros.nodes.wiring.qos import SENSOR_QOS
from egoscale_ros.nodes.wiring.stamps import stamp_to_sec


def to_plain(msg: JointState) -> RosJointState:
    return RosJointState(tuple(msg.name), tuple(msg.position), tuple(msg.velocity), tuple(msg.effort),
                         stamp_to_sec(msg.header.stamp))


class MockRosRobotNode(Node):
    def __init__(self) -> None:
        super().__init__("mock_ros_robot_node")
        self.config = robot_config_from_parameters(self)
        rate = float(declare(self, "rate_hz", min(self.config.mock.rate_hz, 100.0)))
        if not rate > 0:
            raise ValueError(f"parameter rate_hz must be > 0, got {rate}")
        self.mock = MockRosRobot(self.config)
        placed = mock_status.parse_place(str(declare(self, "place", "")))
        if placed:
            self.mock.place(*placed)
        self.report_path = str(declare(self, "report_path", ""))
        for topic in self.mock.checks:
            self.create_subscription(JointState, topic, lambda m, t=topic: self._on_command(t, m), SENSOR_QOS)
        self.pubs = {t: self.create_publisher(JointState, t, SENSOR_QOS) for t in self.mock.state_topics()}
        self._last = time.monotonic()
        self.create_timer(1.0 / rate, self._tick)
        self.diagnostics = Diagnostics(self, self._diag_values, lambda: mock_status.level(self.mock))
        self.get_logger().info(
            f"mock Galaxea/Sharpa side of {self.config.name}: takes {', '.join(self.mock.checks)}; publishes "
            f"{', '.join(self.mock.state_topics())}"
        )

    def _on_command(self, topic: str, msg: JointState) -> None:
        plain = to_plain(msg)
        # Steps are judged over the time between the sender's stamps (delivery bunches messages
        # up under load); an unstamped message is judged by its arrival.
        sent = plain.stamp_s if plain.stamp_s > 0 else time.time()
        if not self.mock.on_message(topic, plain, sent):
            self.get_logger().warn(f"refused {self.mock.last_error}", throttle_duration_sec=2.0)

    def _tick(self) -> None:
        now = time.monotonic()
        self.mock.step(min(now - self._last, 0.1))
        self._last = now
        stamp = self.get_clock().now().to_msg()
        for topic, state in self.mock.states(now):
            msg = JointState()
            msg.header.stamp = stamp
            msg.name, msg.position, msg.velocity = list(state.name), list(state.position), list(state.velocity)
            self.pubs[topic].publish(msg)

    def close(self) -> None:
        report = self.mock.report()
        mock_status.hand_in(report, self.report_path)

    def _diag_values(self) -> dict:
        return mock_status.report_values(self.mock.report())


def main(args: list[str] | None = None) -> int:
    return run(MockRosRobotNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
