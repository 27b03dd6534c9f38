"""Fault injection for ``egoscale-ros demo --inject``: what each fault is, when it happens, and
how the stack's answer is judged (no rclpy in the core modules here)."""
