"""The running graph served live to Foxglove over a WebSocket (``foxglove-sdk``).

ROS topics are forwarded as they arrive, as serialized CDR with their ``ros2msg`` definitions
(the same schemas a recording holds), so Foxglove decodes every standard message itself: images,
joint states, diagnostics, chunks. Wrist targets and predicted chunks are also sent as Foxglove
``PosesInFrame`` so the 3D panel draws them in the robot's base frame. No rclpy here.
"""

from __future__ import annotations

import numpy as np

from egoscale_ros.recording.msgdefs import message_definition

ROS2MSG = "ros2msg"
CDR = "cdr"


class LiveView:
    """A Foxglove WebSocket server with one channel per forwarded topic."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8765, name: str = "egoscale_ros"):
        import foxglove

        self._foxglove = foxglove
        self.server = foxglove.start_server(name=name, host=host, port=port)
        self.port = self.server.port
        self._channels: dict[str, object] = {}
        self._pose_channels: dict[str, object] = {}
        self.sent = 0

    @property
    def topics(self) -> list[str]:
        return [*self._channels, *self._pose_channels]

    def add_topic(self, topic: str, type_name: str) -> None:
        """Advertise ``topic`` of ROS 2 type ``type_name`` (raises if its definition is unknown)."""
        if topic in self._channels:
            return
        schema = self._foxglove.Schema(name=type_name, encoding=ROS2MSG, data=message_definition(type_name).encode())
        self._channels[topic] = self._foxglove.Channel(topic, schema=schema, message_encoding=CDR)

    def log(self, topic: str, data: bytes, log_time_ns: int) -> None:
        self._channels[topic].log(bytes(data), log_time=log_time_ns)
        self.sent += 1

    def log_poses(self, topic: str, stamp_ns: int, frame: str, positions: np.ndarray, quaternions: np.ndarray) -> None:
        """Poses ``(N, 3)`` positions and ``(N, 4)`` xyzw quaternions as one PosesInFrame."""
        from foxglove.channels import PosesInFrameChannel
        from foxglove.messages import Pose, PosesInFrame, Quaternion, Timestamp, Vector3

        channel = self._pose_channels.get(topic)
        if channel is None:
            channel = self._pose_channels[topic] = PosesInFrameChannel(topic)
        poses = [Pose(position=Vector3(x=float(p[0]), y=float(p[1]), z=float(p[2])),
                      orientation=Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))
                 for p, q in zip(positions, quaternions)]
        stamp = Timestamp(int(stamp_ns // 1_000_000_000), int(stamp_ns % 1_000_000_000))
        channel.log(PosesInFrame(timestamp=stamp, frame_id=frame, poses=poses), log_time=stamp_ns)
        self.sent += 1

    def close(self) -> None:
        self.server.stop()
