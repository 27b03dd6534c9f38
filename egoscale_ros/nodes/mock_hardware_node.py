"""mock_hardware_node: stands in for the robot's controllers in tests and the demo.

Subscribes to every controller command topic of the robot config (with the configured message
type), moves simulated joints toward the commands (``egoscale_ros.hardware.mock``) and publishes
``joint_states`` for every movable joint of the robot's URDFs.

For evaluations that run many episodes on one graph: ``mock/reset`` (sensor_msgs/JointState)
puts the named joints - every joint at its home value when the message names none - at the given
positions, at rest; while ``mock/hold`` (std_msgs/Bool) is True, commands are counted but not
followed (the command nodes are held by the e-stop meanwhile, so nothing would pull the joints
back to where they were).
"""

from __future__ import annotations

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from egoscale_ros.hardware.mock import MimicLink, MockJoints
from egoscale_ros.nodes import common

MSG_TYPES = {"JointState": JointState, "Float64MultiArray": Float64MultiArray, "JointTrajectory": JointTrajectory}


class MockHardwareNode(Node):
    def __init__(self) -> None:
        super().__init__("mock_hardware_node")
        self.config = common.robot_config_from_parameters(self)
        mock = self.config.mock
        rate = common.declare(self, "rate_hz", mock.rate_hz)
        lag = common.declare(self, "lag_s", mock.lag_s)
        vmax = common.declare(self, "max_velocity", mock.max_velocity)

        names = self.config.movable_joints()
        infos = [self.config.joint_info(n) for n in names]
        mimic = [MimicLink(j.name, j.mimic_joint, j.mimic_multiplier, j.mimic_offset) for j in infos if j.mimic_joint]
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
        for out in self.config.controllers:
            self.received[out.ros_topic] = 0
            self.rejected[out.ros_topic] = 0
            self.create_subscription(
                MSG_TYPES[out.ros_type], out.ros_topic, lambda msg, o=out: self._on_command(msg, o), common.controller_qos(out)
            )
        self.holding = False
        self.resets = 0
        self.held_commands = 0
        self.create_subscription(JointState, "mock/reset", self._on_reset, 10)
        self.create_subscription(Bool, "mock/hold", self._on_hold, common.LATCHED_QOS)
        self.pub = self.create_publisher(JointState, "joint_states", common.COMMAND_QOS)
        self._last = time.monotonic()
        self.create_timer(1.0 / float(rate), self._tick)
        self.diagnostics = common.Diagnostics(self, self._diag_values, self._diag_level)
        self.get_logger().info(
            f"mock hardware for {self.config.name}: {len(names)} joints at {rate:.0f} Hz, "
            f"{len(self.config.controllers)} controller inputs"
        )

    def _on_command(self, msg, output) -> None:
        try:
            targets = common.decode_controller_message(msg, output)
        except ValueError as exc:
            self.rejected[output.ros_topic] += 1
            self.get_logger().warn(str(exc), throttle_duration_sec=2.0)
            return
        if self.holding:
            self.held_commands += 1
            return
        if self.joints.set_command(targets):
            self.rejected[output.ros_topic] += 1
            return
        self.received[output.ros_topic] += 1

    def _on_reset(self, msg: JointState) -> None:
        if len(msg.name) != len(msg.position):
            common.warning(self)(f"mock/reset: {len(msg.name)} names but {len(msg.position)} positions")
            return
        if msg.name:
            positions = dict(zip(msg.name, msg.position))
        else:
            positions = {n: self.config.home_position(n) for n in self.joints.names}
        ignored = self.joints.reset(positions)
        if ignored:
            common.warning(self)(f"mock/reset: ignored unknown or non-finite joints {ignored[:5]}")
        self.resets += 1

    def _on_hold(self, msg: Bool) -> None:
        self.holding = bool(msg.data)

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
        values.update(resets=self.resets, holding=self.holding, held_commands=self.held_commands)
        return values

    def _diag_level(self) -> tuple[int, str]:
        if any(self.rejected.values()):
            return DiagnosticStatus.WARN, "some commands were rejected"
        return DiagnosticStatus.OK, "ok"


def main(args: list[str] | None = None) -> int:
    return common.run(MockHardwareNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
