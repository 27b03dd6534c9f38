"""Conversions between ROS stamps/durations and integer nanoseconds or float seconds.

Through integer nanoseconds wherever exactness matters: a float split can round nanosec up to 1e9."""

from __future__ import annotations

from builtin_interfaces.msg import Duration, Time
from rclpy.node import Node

# How far ahead of this node's clock an input may be stamped (clock offset between computers);
# later is a clock gone wrong, and the input is refused.
FUTURE_TOLERANCE_S = 0.1


def stamp_to_ns(stamp: Time) -> int:
    """Exact integer nanoseconds of a stamp (a dictionary key that floats cannot be)."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def stamp_to_sec(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_stamp(t: float) -> Time:
    return ns_to_stamp(round(t * 1e9))


def sec_to_duration(t: float) -> Duration:
    # Through integer nanoseconds: splitting the float first can round nanosec up to 1e9.
    ns = round(t * 1e9)
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def duration_to_ns(d: Duration) -> int:
    return int(d.sec) * 1_000_000_000 + int(d.nanosec)


def duration_to_sec(d: Duration) -> float:
    return d.sec + d.nanosec * 1e-9


def now_sec(node: Node) -> float:
    return node.get_clock().now().nanoseconds * 1e-9
