"""ROS wiring shared by the node shells, one concern per module; nothing here computes."""
