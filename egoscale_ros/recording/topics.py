"""Which topics a recording takes, and how.

Everything the graph publishes is recorded as delivered (chunks, per-tick targets, controller
commands, joint states, diagnostics, the policy's observations, native robot messages) except
ROS-internal topics and what an operator excludes. Raw camera frames are the bulk of the data:
they are recorded as JPEG ``CompressedImage`` on ``<topic>/compressed`` at a bounded rate,
unless the camera already publishes that topic, which is then recorded as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

RAW = "raw"
COMPRESS = "compress"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
ALWAYS_EXCLUDED = ("/rosout", "/parameter_events")


def compile_patterns(patterns: Iterable[str]) -> list[re.Pattern]:
    """Regular expressions (full match against the absolute topic name); a bad one names itself."""
    compiled = []
    for p in patterns:
        try:
            compiled.append(re.compile(p))
        except re.error as exc:
            raise ValueError(f"parameter exclude: {p!r} is not a regular expression ({exc})") from exc
    return compiled


def recording_action(topic: str, type_name: str, graph: Mapping[str, Iterable[str]],
                     exclude: Iterable[re.Pattern] = ()) -> str | None:
    """``RAW``, ``COMPRESS`` or None (not recorded) for ``topic`` of ``type_name``.

    ``graph`` maps every topic currently in the graph to its types (as rclpy lists them).
    """
    if topic in ALWAYS_EXCLUDED or any(p.fullmatch(topic) for p in exclude):
        return None
    if type_name == IMAGE and topic.endswith("image_raw"):
        if COMPRESSED_IMAGE in graph.get(f"{topic}/compressed", ()):
            return None
        return COMPRESS
    return RAW


def compressed_topic(topic: str) -> str:
    return f"{topic}/compressed"
