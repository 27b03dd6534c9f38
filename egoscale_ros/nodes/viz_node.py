"""viz_node: serves the running graph live to Foxglove (``viz:=true``; connect to ws://HOST:PORT).

Forwards every topic of the graph as it appears (as :mod:`egoscale_ros.recording.topics` picks
them for a recording: camera frames JPEG-compressed at ``image_rate_hz``, everything else as
delivered), and draws the wrists: ``/viz/wrist_targets`` (the executed per-tick targets) and
``/viz/wrist_chunk`` (the newest predicted chunk) as Foxglove PosesInFrame in the base frame.

Parameters: ``robot``, ``host`` (127.0.0.1; 0.0.0.0 to serve the network), ``port`` (8765),
``image_rate_hz`` (10), ``jpeg_quality`` (70), ``exclude`` (regular expressions of topics).
"""

from __future__ import annotations

import time

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image
from trajectory_msgs.msg import MultiDOFJointTrajectory

from egoscale_ros.nodes import topic_discovery
from egoscale_ros.nodes.wiring.diagnostics import Diagnostics
from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare, robot_config_from_parameters
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS
from egoscale_ros.nodes.wiring.stamps import stamp_to_ns
from egoscale_ros.policy.transforms import ImageRejected
from egoscale_ros.recording.live import LiveView
from egoscale_ros.recording.msgdefs import MessageDefinitionNotFound
from egoscale_ros.recording.topics import (
    COMPRESS,
    COMPRESSED_IMAGE,
    compile_patterns,
    compressed_topic,
    recording_action,
)

DISCOVERY_PERIOD_S = 0.5


class VizNode(Node):
    def __init__(self) -> None:
        super().__init__("viz_node")
        self.config = robot_config_from_parameters(self)
        host = str(declare(self, "host", "127.0.0.1"))
        port = int(declare(self, "port", 8765))
        rate = float(declare(self, "image_rate_hz", 10.0))
        self.image_period_s = 1.0 / rate if rate > 0 else 0.0
        self.jpeg_quality = int(declare(self, "jpeg_quality", 70))
        self.exclude = compile_patterns([p for p in declare(self, "exclude", [""]) if p])
        self.view = LiveView(host, port)
        self.subscribed: set[str] = set()
        self.skipped: dict[str, str] = {}
        self._last_image: dict[str, float] = {}
        for topic, out in (("command/wrist_targets", "/viz/wrist_targets"), ("policy/wrist_chunk", "/viz/wrist_chunk")):
            self.create_subscription(MultiDOFJointTrajectory, topic, lambda msg, o=out: self._on_wrists(o, msg),
                                     COMMAND_QOS)
        self.create_timer(DISCOVERY_PERIOD_S, self._discover)
        self.diagnostics = Diagnostics(self, self._diag_values)
        self.get_logger().info(f"live view for Foxglove on ws://{host}:{self.view.port}")

    def _discover(self) -> None:
        graph, candidates = topic_discovery.new_topics(self, self.subscribed | set(self.skipped))
        for topic, type_name in candidates:
            action = recording_action(topic, type_name, graph, self.exclude)
            if action is None:
                continue
            qos = topic_discovery.publishers_qos(self, topic)
            if qos is None:
                continue
            try:
                if action == COMPRESS:
                    out = compressed_topic(topic)
                    self.view.add_topic(out, COMPRESSED_IMAGE)
                    self.create_subscription(Image, topic, lambda msg, t=out: self._on_image(t, msg), qos)
                else:
                    self.view.add_topic(topic, type_name)
                    self.create_subscription(topic_discovery.message_class(type_name), topic,
                                             lambda data, t=topic: self.view.log(t, data, time.time_ns()),
                                             qos, raw=True)
                self.subscribed.add(topic)
            except (MessageDefinitionNotFound, ImportError, AttributeError, ValueError) as exc:
                self.skipped[topic] = str(exc)
                self.get_logger().warning(f"not serving {topic}: {exc}")

    def _on_image(self, topic: str, msg: Image) -> None:
        now = time.monotonic()
        if self.image_period_s and now - self._last_image.get(topic, -1e9) < self.image_period_s * 0.95:
            return
        self._last_image[topic] = now
        try:
            self.view.log(topic, topic_discovery.jpeg_cdr(msg, self.jpeg_quality), time.time_ns())
        except (ImageRejected, ValueError) as exc:
            self.get_logger().warning(f"{topic}: frame not served: {exc}", throttle_duration_sec=5.0)

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
                "skipped_topics": len(self.skipped)}

    def close(self) -> None:
        self.view.close()


def main(args: list[str] | None = None) -> int:
    return run(VizNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
