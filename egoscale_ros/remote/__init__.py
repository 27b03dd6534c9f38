"""Clients of remote policy servers (GR00T's ZeroMQ server, openpi's websocket server).

The robot-side stack stays the same for a remote policy: the policy node builds observations,
stamps chunks with the observation time and publishes them; only the inference step becomes a
request to a server on another computer. No module here imports rclpy.
"""
