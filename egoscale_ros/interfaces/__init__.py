"""The robot's side: one adapter per maker interface kind, and the feedback assembly.

Standard topics are the package's inside. At its edge each robot is driven through the interface
its maker ships (Unitree DDS messages, Galaxea and Sharpa topics, ros2_control controllers), and
measured joints arrive from the sources the robot config declares. Nothing here imports rclpy:
adapters turn joint targets into the maker's messages and the maker's messages into joints; the
node shells (``robot_interface_node``, the native mocks) only move them.
"""
