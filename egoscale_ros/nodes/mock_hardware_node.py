"""mock_hardware_node: stands in for the robot's controllers in tests and the demo.

Subscribes to every controller command topic of the robot config (with the configured message
type), moves simulated joints toward the commands (``egoscale_ros.hardware.mock``) and publishes
``joint_states`` for every movable joint of the robot's URDFs.
"""

from __future__ import annotations

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from egoscale_ros.hardware.mock import MockJoints
from egoscale_ros.nodes.wiring.controllers import controller_qos, decode_controller_message
from egoscale_ros.nodes.wiring.diagnostics import Diagnostics
from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare, robot_config_from_parameters
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS

COMMAND_SILENCE_S = 0.2  # a controller input quiet for longer is reported as an error

MSG_TYPES = {"JointState": JointState, "Float64MultiArray": Float64MultiArray, "JointTrajectory": JointTrajectory}


class MockHardwareNode(Node):
    def __init__(self) -> None:
        super().__init__("mock_hardware_node")
        self.config = robot_config_from_parameters(self)
        mock = self.config.mock
        rate = declare(self, "rate_hz", mock.rate_hz)
        lag = declare(self, "lag_s", mock.lag_s)
        vmax = declare(self, "max_velocity", mock.max_velocity)

        names = self.config.movable_joints()
        infos = [self.config.joint_info(n) for n in names]
        mimic = [j.mimic for j in infos if j.mimic is not None]
        self.joints = MockJoints(
            names,
            self.config.home,
            lower=np.array([j.lower for j in infos]),
            upper=np.array([j.upper for j in infos]),
            lag_s=float(lag),
            max_velocity=float(vmax),
            mimic=mimic,
        )
        self.received: dict[str, int] = {}
        self.rejected: dict[str, int] = {}
        self.last_command: dict[str, float] = {}  # topic -> monotonic time of its last command
        for out in self.config.controllers:
            self.received[out.ros_topic] = 0
            self.rejected[out.ros_topic] = 0
            self.create_subscription(
                MSG_TYPES[out.ros_type], out.ros_topic, lambda msg, o=out: self._on_command(msg, o), controller_qos(out)
            )
        self.pub = self.create_publisher(JointState, "joint_states", COMMAND_QOS)
        self._last = time.monotonic()
        self.create_timer(1.0 / float(rate), self._tick)
        self.diagnostics = Diagnostics(self, self._diag_values, self._diag_level)
        self.get_logger().info(
            f"mock hardware for {self.config.name}: {len(names)} joints at {rate:.0f} Hz, "
            f"{len(self.config.controllers)} controller inputs"
        )

    def _on_command(self, msg, output) -> None:
        try:
            targets = decode_controller_message(msg, output)
        except ValueError as exc:
            self.rejected[output.ros_topic] += 1
            self.get_logger().warn(str(exc), throttle_duration_sec=2.0)
            return
        if self.joints.set_command(targets):
            self.rejected[output.ros_topic] += 1
            return
        self.received[output.ros_topic] += 1
        self.last_command[output.ros_topic] = time.monotonic()

    def _tick(self) -> None:
        now = time.monotonic()
        self.joints.step(min(now - self._last, 0.1))  # a stalled timer must not teleport joints
        self._last = now
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = self.joints.names
        msg.position = self.joints.position.tolist()
        msg.velocity = self.joints.velocity.tolist()
        self.pub.publish(msg)

    def _diag_values(self) -> dict:
        values = {f"received {t}": n for t, n in self.received.items()}
        values.update({f"rejected {t}": n for t, n in self.rejected.items()})
        return values

    def _diag_level(self) -> tuple[int, str]:
        # Like a robot's own command timeout: a controller input that went quiet is reported.
        now = time.monotonic()
        silent = {t: now - last for t, last in self.last_command.items() if now - last > COMMAND_SILENCE_S}
        if silent:
            return DiagnosticStatus.ERROR, "commands silent: " + ", ".join(
                f"{t} for {age:.2f} s" for t, age in silent.items()) + " (holding the last)"
        if any(self.rejected.values()):
            return DiagnosticStatus.WARN, "some commands were rejected"
        return DiagnosticStatus.OK, "ok"


def main(args: list[str] | None = None) -> int:
    return run(MockHardwareNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
