"""Finding the graph's topics as they appear, for nodes that take every topic (recorder, live view).

A topic is taken once it has a publisher, with a QoS that matches all of its publishers: reliable
and transient local only where every publisher is (so latched topics arrive, and best-effort
publishers still match). :class:`GraphTopics` is the whole loop both nodes run: discover every
0.5 s, pick what to take (:mod:`egoscale_ros.recording.topics`), subscribe, and turn raw camera
frames into JPEG ``CompressedImage`` at a bounded rate; the node only says where messages go.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable, Iterable

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from egoscale_ros.camera.image_ops import encode_jpeg
from egoscale_ros.policy.transforms import ImageRejected, image_to_rgb
from egoscale_ros.recording.cdr import compressed_image
from egoscale_ros.recording.msgdefs import MessageDefinitionNotFound
from egoscale_ros.recording.topics import COMPRESS, COMPRESSED_IMAGE, compressed_topic, recording_action

JPEG_FORMAT = "rgb8; jpeg compressed bgr8"
DISCOVERY_PERIOD_S = 0.5


def message_class(type_name: str):
    """``pkg/msg/Type`` -> the generated Python class (ImportError/AttributeError if not installed)."""
    package, _, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


def matching_qos(publishers) -> QoSProfile:
    """QoS that matches every publisher: reliable / transient local only when all of them are."""
    profiles = [p.qos_profile for p in publishers]
    reliable = all(q.reliability == ReliabilityPolicy.RELIABLE for q in profiles)
    latched = all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in profiles)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100 if reliable else 10,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


def new_topics(node: Node, seen: set[str]) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """The graph (topic -> types) and its topics not in ``seen`` that have exactly one type."""
    graph = {name: list(types) for name, types in node.get_topic_names_and_types()}
    return graph, [(t, types[0]) for t, types in graph.items() if t not in seen and len(types) == 1]


def publishers_qos(node: Node, topic: str) -> QoSProfile | None:
    """The QoS to subscribe ``topic`` with; None while it has no publisher."""
    publishers = node.get_publishers_info_by_topic(topic)
    return matching_qos(publishers) if publishers else None


def jpeg_cdr(msg, quality: int) -> bytes:
    """A sensor_msgs/Image as a serialized JPEG CompressedImage with the same header.

    Raises ImageRejected or ValueError for frames that cannot be converted.
    """
    rgb, _ = image_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data)
    stamp = msg.header.stamp
    return compressed_image(stamp.sec, stamp.nanosec, msg.header.frame_id, JPEG_FORMAT, encode_jpeg(rgb, quality))


class GraphTopics:
    """Takes every topic of the graph as it appears and hands each message to ``on_message``.

    ``add_topic(topic, type_name)`` declares an output channel (raising if the type cannot be
    carried: the topic is then skipped with a warning); ``on_message(topic, cdr_bytes, log_ns)``
    receives every message as serialized bytes - camera frames as JPEG ``CompressedImage`` on
    ``<topic>/compressed``, at most ``image_rate_hz`` per camera (0: every frame).
    ``paused()`` true skips discovery (e.g. once a recording has stopped).
    """

    def __init__(self, node: Node, add_topic: Callable[[str, str], None],
                 on_message: Callable[[str, bytes, int], None], exclude: Iterable[re.Pattern] = (),
                 image_rate_hz: float = 10.0, jpeg_quality: int = 80, verb: str = "taking",
                 paused: Callable[[], bool] = lambda: False):
        self.node = node
        self.add_topic = add_topic
        self.on_message = on_message
        self.exclude = list(exclude)
        self.image_period_s = 1.0 / image_rate_hz if image_rate_hz > 0 else 0.0
        self.jpeg_quality = jpeg_quality
        self.verb = verb
        self.paused = paused
        self.subscribed: set[str] = set()
        self.skipped: dict[str, str] = {}
        self.images_compressed = 0
        self.images_rejected = 0
        self._last_image: dict[str, float] = {}
        node.create_timer(DISCOVERY_PERIOD_S, self.discover)

    def discover(self) -> None:
        if self.paused():
            return
        graph, candidates = new_topics(self.node, self.subscribed | set(self.skipped))
        for topic, type_name in candidates:
            action = recording_action(topic, type_name, graph, self.exclude)
            if action is None:
                continue
            qos = publishers_qos(self.node, topic)
            if qos is None:
                continue  # only subscribers so far: wait for a publisher to learn its QoS
            try:
                self._subscribe(topic, type_name, action, qos)
            except (MessageDefinitionNotFound, ImportError, AttributeError, ValueError) as exc:
                self.skipped[topic] = str(exc)
                self.node.get_logger().warning(f"not {self.verb} {topic}: {exc}")

    def _subscribe(self, topic: str, type_name: str, action: str, qos: QoSProfile) -> None:
        from sensor_msgs.msg import Image

        if action == COMPRESS:
            out = compressed_topic(topic)
            self.add_topic(out, COMPRESSED_IMAGE)
            self.node.create_subscription(Image, topic, lambda msg, t=out: self._on_image(t, msg), qos)
        else:
            self.add_topic(topic, type_name)
            self.node.create_subscription(message_class(type_name), topic,
                                          lambda data, t=topic: self.on_message(t, data, time.time_ns()),
                                          qos, raw=True)
        self.subscribed.add(topic)

    def _on_image(self, topic: str, msg) -> None:
        now = time.monotonic()
        if self.image_period_s and now - self._last_image.get(topic, -1e9) < self.image_period_s * 0.95:
            return
        self._last_image[topic] = now
        try:
            data = jpeg_cdr(msg, self.jpeg_quality)
        except (ImageRejected, ValueError) as exc:
            self.images_rejected += 1
            self.node.get_logger().warning(f"{topic}: frame dropped: {exc}", throttle_duration_sec=5.0)
            return
        self.images_compressed += 1
        self.on_message(topic, data, time.time_ns())
