"""Finding the graph's topics as they appear, for nodes that take every topic (recorder, live view).

A topic is taken once it has a publisher, with a QoS that matches all of its publishers: reliable
and transient local only where every publisher is (so latched topics arrive, and best-effort
publishers still match). Also the one image conversion both nodes need: a raw frame to a JPEG
``CompressedImage``, serialized.
"""

from __future__ import annotations

import importlib

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from egoscale_ros.camera.image_ops import encode_jpeg
from egoscale_ros.policy.transforms import image_to_rgb
from egoscale_ros.recording.cdr import compressed_image

JPEG_FORMAT = "rgb8; jpeg compressed bgr8"


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
