"""A synthetic reaching task that closes the loop: the camera shows a ball, a policy reaches it."""
