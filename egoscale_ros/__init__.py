"""egoscale_ros: EgoScale-style VLA policies on dexterous humanoids, with ROS 2.

The package is a functional core (every subpackage but ``nodes``, none of which imports rclpy)
wrapped by thin ROS 2 node shells in ``egoscale_ros.nodes``.
"""

__version__ = "0.1.0"
