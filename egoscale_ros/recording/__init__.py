"""Recording runs as ROS 2 MCAP, and what is made from a recording: reports and offline replays.

No rclpy import here: the recorder node feeds serialized messages to :mod:`.writer`; the readers
decode files with ``mcap-ros2-support``.
"""
