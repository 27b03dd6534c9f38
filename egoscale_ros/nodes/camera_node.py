"""camera_node: publishes one camera's frames as ``camera/<name>/image_raw`` (rgb8).

The frame source (V4L2 device, video file, image folder, RTSP/GStreamer URL or the built-in
synthetic scene) comes from ``egoscale_ros.camera``. Capture runs on its own thread, so a blocking
device read never stalls the executor; frames are stamped with the time the source handed them
over (before resizing). A source that cannot be opened stops the node at start with a message
naming it; one that stops delivering is reported on diagnostics and reopened with backoff.
"""

from __future__ import annotations

import threading
import time

from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from egoscale_ros.camera.factory import create_source
from egoscale_ros.camera.image_ops import JPEG_FORMAT, encode_jpeg
from egoscale_ros.camera.reconnect import LOST, ReconnectPolicy, SupervisedSource
from egoscale_ros.nodes.wiring.diagnostics import Diagnostics
from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare
from egoscale_ros.nodes.wiring.stamps import ns_to_stamp


class CameraNode(Node):
    def __init__(self) -> None:
        super().__init__("camera_node")
        name = declare(self, "camera", "head")
        spec = declare(self, "source", "synthetic")
        self.frame_id = declare(self, "frame_id", f"{name}_camera_optical_frame")
        width = int(declare(self, "width", 640)) or None
        height = int(declare(self, "height", 480)) or None
        self.rate_hz = float(declare(self, "rate_hz", 30.0))
        self.compressed = bool(declare(self, "publish_compressed", False))
        self.jpeg_quality = int(declare(self, "jpeg_quality", 85))
        stall_s = float(declare(self, "stall_timeout_s", 2.0))
        # Reliable, depth 1: large frames sent best effort between processes are mostly lost to
        # fragment drops under load; depth 1 keeps a slow subscriber from ever receiving old frames.
        reliable = bool(declare(self, "reliable", True))
        if self.rate_hz <= 0:
            raise ValueError(f"parameter rate_hz must be > 0, got {self.rate_hz}")

        self.source = SupervisedSource(
            create_source(spec, width, height, fps=self.rate_hz), ReconnectPolicy(stall_timeout_s=stall_s)
        )
        self.source.open()  # CameraError naming the source stops the node at start
        topic = f"camera/{name}/image_raw"
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT)
        self.pub = self.create_publisher(Image, topic, qos)
        self.pub_compressed = (
            self.create_publisher(CompressedImage, f"{topic}/compressed", qos) if self.compressed else None
        )
        self.published = 0
        self.missed = 0
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._capture_loop, name=f"capture_{name}", daemon=True)
        self._thread.start()
        self.diagnostics = Diagnostics(self, self._diag_values, self._diag_level)
        self.get_logger().info(f"camera '{name}': {self.source.describe()} → {topic} at {self.rate_hz:g} Hz")

    def _capture_loop(self) -> None:
        period = 1.0 / self.rate_hz
        next_due = time.monotonic()
        while not self._stop.is_set():
            frame = self.source.read()
            if frame is None:
                self.missed += 1
            else:
                self._publish(frame)
            next_due += period
            delay = next_due - time.monotonic()
            if delay < -period:  # fell behind (slow device): do not try to catch up in a burst
                next_due = time.monotonic()
            self._stop.wait(max(0.0, delay))

    def _publish(self, frame) -> None:
        # Stamped with the capture time, on this node's clock: now minus how long ago the source
        # handed the frame over (resizing and encoding are not the scene's age).
        age_ns = max(0, time.time_ns() - self.source.captured_ns)
        stamp = ns_to_stamp(self.get_clock().now().nanoseconds - age_ns)
        msg = Image()
        msg.header.stamp = stamp
        msg.header.frame_id = self.frame_id
        msg.height, msg.width = int(frame.shape[0]), int(frame.shape[1])
        msg.encoding = "rgb8"
        msg.step = msg.width * 3
        msg.data = frame.tobytes()
        self.pub.publish(msg)
        if self.pub_compressed is not None:
            cmsg = CompressedImage()
            cmsg.header = msg.header
            cmsg.format = JPEG_FORMAT
            cmsg.data = encode_jpeg(frame, self.jpeg_quality)
            self.pub_compressed.publish(cmsg)
        self.published += 1

    def _diag_values(self) -> dict:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        values = {"source": self.source.describe(), "frames_published": self.published,
                  "frames_missed": self.missed, "rate_hz": self.published / elapsed}
        values.update(self.source.policy.status(time.monotonic()))
        return values

    def _diag_level(self) -> tuple[int, str]:
        if self.source.policy.state == LOST:
            return DiagnosticStatus.ERROR, f"source lost: {self.source.policy.last_error}"
        if not self.source.healthy:
            return DiagnosticStatus.WARN, f"source {self.source.policy.state}"
        return DiagnosticStatus.OK, "streaming"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.source.close()


def main(args: list[str] | None = None) -> int:
    return run(CameraNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
