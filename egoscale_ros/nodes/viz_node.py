"""viz_node: serves the running graph live to Foxglove (``viz:=true``; connect to ws://HOST:PORT).

Forwards every topic of the graph as it appears (as :mod:`egoscale_ros.recording.topics` picks
them for a recording: camera frames JPEG-compressed at ``image_rate_hz``, everything else as
delivered), and draws the wrists: ``/viz/wrist_targets`` (the executed per-tick targets) and
``/viz/wrist_chunk`` (the newest predicted chunk) as Foxglove PosesInFrame in the base frame.

Parameters: ``robot``, ``host`` (127.0.0.1; 0.0.0.0 to serve the network), ``port`` (8765),
``image_rate_hz`` (10), ``jpeg_quality`` (70), ``exclude`` (regular expressions of topics).
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from trajectory_msgs.msg import MultiDOFJointTrajectory

from egoscale_ros.nodes.topic_discovery import GraphTopics
from egoscale_ros.nodes.wiring.diagnostics import Diagnostics
from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare, robot_config_from_parameters
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS
from egoscale_ros.nodes.wiring.stamps import stamp_to_ns
from egoscale_ros.recording.live import LiveView
from egoscale_ros.recording.topics import compile_patterns


class VizNode(Node):
    def __init__(self) -> None:
        super().__init__("viz_node")
        self.config = robot_config_from_parameters(self)
        host = str(declare(self, "host", "127.0.0.1"))
        port = int(declare(self, "port", 8765))
        image_rate_hz = float(declare(self, "image_rate_hz", 10.0))
        jpeg_quality = int(declare(self, "jpeg_quality", 70))
        exclude = compile_patterns([p for p in declare(self, "exclude", [""]) if p])
        self.view = LiveView(host, port)
        for topic, out in (("command/wrist_targets", "/viz/wrist_targets"), ("policy/wrist_chunk", "/viz/wrist_chunk")):
            self.create_subscription(MultiDOFJointTrajectory, topic, lambda msg, o=out: self._on_wrists(o, msg),
                                     COMMAND_QOS)
        self.graph = GraphTopics(self, self.view.add_topic, self.view.log, exclude, image_rate_hz, jpeg_quality,
                                 verb="serving")
        self.diagnostics = Diagnostics(self, self._diag_values)
        self.get_logger().info(f"live view for Foxglove on ws://{host}:{self.view.port}")

    def _on_wrists(self, out: str, msg: MultiDOFJointTrajectory) -> None:
        positions, quats = [], []
        for point in msg.points:
            for tf in point.transforms:
                positions.append((tf.translation.x, tf.translation.y, tf.translation.z))
                quats.append((tf.rotation.x, tf.rotation.y, tf.rotation.z, tf.rotation.w))
        if positions:
            self.view.log_poses(out, stamp_to_ns(msg.header.stamp), msg.header.frame_id or self.config.base_frame,
                                np.array(positions), np.array(quats))

    def _diag_values(self) -> dict:
        return {"port": self.view.port, "topics": len(self.view.topics), "messages_sent": self.view.sent,
                "skipped_topics": len(self.graph.skipped)}

    def close(self) -> None:
        self.view.close()


def main(args: list[str] | None = None) -> int:
    return run(VizNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
