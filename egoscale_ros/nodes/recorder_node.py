"""recorder_node: records the running graph into one ROS 2 MCAP file (``ros2 bag``, Foxglove, rosbags).

Discovers topics as they appear (every 0.5 s) and subscribes to each with the QoS its publishers
offer (reliable and transient local where they all are, so latched topics arrive too). Messages
go to disk as the serialized bytes DDS delivered; raw camera frames are JPEG-compressed to
``<topic>/compressed`` at ``image_rate_hz``. What is recorded and why follows
:mod:`egoscale_ros.recording.topics`; the file's bounds (``max_bytes``, ``max_seconds``,
``min_free_bytes``) and the clear stop on a full disk follow :mod:`egoscale_ros.recording.writer`.

Parameters: ``path`` (required), ``max_bytes`` (2 GiB), ``max_seconds`` (0 = unlimited),
``min_free_bytes`` (256 MiB), ``image_rate_hz`` (10; 0 = every frame), ``jpeg_quality`` (80),
``exclude`` (regular expressions of absolute topic names not to record), ``robot`` / ``urdf``
(the robot config; stored in the file for reports and replays) and the native DDS settings of
robot_interface_node (``native_domain_id``, ``native_interface``, ``native_loopback``,
``native_tag``).

The maker's native messages (Unitree ``rt/arm_sdk``, ``rt/lowstate``, ``rt/dex3/*``) travel on
the robot's own DDS domain, not as ROS topics: the recorder listens there too
(:class:`~egoscale_ros.nodes.wiring.native_tap.NativeTap`) and records them as ROS 2 channels
under their ROS 2 names (``/arm_sdk`` of type ``unitree_hg/msg/LowCmd``, see
:mod:`egoscale_ros.recording.native_schema`). A maker's ROS topics (Galaxea, Sharpa) are recorded
as every other topic.
"""

from __future__ import annotations

import threading

from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node

from egoscale_ros.nodes.robot_interface_node import native_settings_from_parameters
from egoscale_ros.nodes.topic_discovery import GraphTopics
from egoscale_ros.nodes.wiring.diagnostics import Diagnostics
from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare
from egoscale_ros.recording.native import native_channels
from egoscale_ros.recording.topics import compile_patterns
from egoscale_ros.recording.writer import McapRecorder, RecordingLimits, unused_path


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("recorder_node")
        path = str(declare(self, "path", ""))
        if not path:
            raise ValueError("parameter path is required: the MCAP file to write (e.g. run.mcap)")
        limits = RecordingLimits(
            max_bytes=int(declare(self, "max_bytes", 2 * 1024**3)),
            max_seconds=float(declare(self, "max_seconds", 0.0)),
            min_free_bytes=int(declare(self, "min_free_bytes", 256 * 1024**2)),
        )
        image_rate_hz = float(declare(self, "image_rate_hz", 10.0))
        jpeg_quality = int(declare(self, "jpeg_quality", 80))
        # A string-array parameter needs a non-empty default to get its type; '' means nothing.
        exclude = compile_patterns([p for p in declare(self, "exclude", [""]) if p])
        # Which robot this is: reports and replays read it to find limits and kinematics.
        robot = str(declare(self, "robot", ""))
        urdf = str(declare(self, "urdf", ""))
        target = unused_path(path)
        if str(target) != path:
            self.get_logger().warning(f"{path} exists (a restarted recorder never overwrites it): recording to {target}")
        self.recorder = McapRecorder(target, limits, metadata={"robot": robot, "urdf": urdf})
        self._lock = threading.Lock()  # the native tap writes from its own thread
        self._reported_stop = False
        self.graph = GraphTopics(self, self.recorder.add_topic, self._write, exclude, image_rate_hz, jpeg_quality,
                                 verb="recording", paused=self._stopped)
        self.native = self._start_native(robot, urdf)
        self.diagnostics = Diagnostics(self, self._diag_values, self._diag_level)
        self.get_logger().info(f"recording to {target} (max {limits.max_bytes / 1e6:.0f} MB"
                               + (f", {limits.max_seconds:g} s" if limits.max_seconds else "") + ")")

    def _stopped(self) -> bool:
        if self.recorder.stopped is not None:
            self._report_stop()
            return True
        return False

    def _start_native(self, robot: str, urdf: str):
        """Listen on the robot's native DDS topics, if its config has any."""
        if not robot:
            return None
        from egoscale_ros.robot.config import load_robot_config

        config = load_robot_config(robot, urdf_override=urdf or None)
        channels = [c for c in native_channels(config) if not any(p.fullmatch(c.topic) for p in self.graph.exclude)]
        if not channels:
            return None
        from egoscale_ros.interfaces import settings
        from egoscale_ros.nodes.wiring.native_tap import NativeTap

        native = native_settings_from_parameters(self, config)
        for c in channels:
            self.recorder.add_topic(c.topic, c.type_name, c.definition)
            # A ROS topic of the same name (a bridge) would be the same messages twice.
            self.graph.skipped[c.topic] = "recorded from the native domain"
        tap = NativeTap(native, channels, self._write,
                        lambda text: self.get_logger().error(text, throttle_duration_sec=5.0))
        self.get_logger().info(f"recording native {', '.join(f'{c.dds_topic} ({c.type_name})' for c in channels)} "
                               f"from {settings.describe(native)}")
        return tap

    def _write(self, topic: str, data: bytes, log_time_ns: int) -> None:
        with self._lock:
            written = self.recorder.write(topic, data, log_time_ns)
        if not written:
            self._report_stop()

    def _report_stop(self) -> None:
        if self._reported_stop or self.recorder.stopped is None:
            return
        self._reported_stop = True
        reason = self.recorder.stopped
        log = self.get_logger().error if "disk" in reason or "failed" in reason else self.get_logger().warning
        log(f"recording stopped: {reason}; {self.recorder.messages} messages in {self.recorder.path}")

    # -- diagnostics -------------------------------------------------------------------------------

    def _diag_values(self) -> dict:
        rec = self.recorder
        return {"path": str(rec.path), "messages": rec.messages, "megabytes": round(rec.bytes_written / 1e6, 3),
                "seconds": round(rec.elapsed_s(), 1), "topics": len(rec.topics),
                "images_compressed": self.graph.images_compressed, "images_rejected": self.graph.images_rejected,
                "skipped_topics": len(self.graph.skipped), "stopped": rec.stopped or "",
                **({f"native {t}": n for t, n in self.native.received.items()} if self.native else {})}

    def _diag_level(self) -> tuple[int, str]:
        stopped = self.recorder.stopped
        if stopped is not None:
            level = DiagnosticStatus.ERROR if "disk" in stopped or "failed" in stopped else DiagnosticStatus.WARN
            return level, f"recording stopped: {stopped}"
        return DiagnosticStatus.OK, f"recording {len(self.recorder.topics)} topics"

    def close(self) -> None:
        if self.native is not None:
            self.native.close()
        with self._lock:
            self.recorder.close()
        self.get_logger().info(f"recording closed: {self.recorder.messages} messages, "
                               f"{self.recorder.bytes_written / 1e6:.1f} MB in {self.recorder.path}")


def main(args: list[str] | None = None) -> int:
    return run(RecorderNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
