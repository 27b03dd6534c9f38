"""QoS profiles of the graph's streams: latest-value sensors, every-message commands, latched state."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# Latest-value streams (images, joint states at 200 Hz): a late sample is worthless.
SENSOR_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.BEST_EFFORT
)


# Chunks, targets and commands: every message matters, small queue so nothing old piles up.
COMMAND_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)


# Instruction and e-stop: a late joiner must get the last value.
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


# E-stop from any publisher: volatile and reliable matches volatile and transient-local writers.
ESTOP_VOLATILE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)


# Joint states are published reliably by the mock (and by most drivers); a best-effort
# subscriber matches both reliable and best-effort publishers.
JOINT_STATE_QOS = SENSOR_QOS
