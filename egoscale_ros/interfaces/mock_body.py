"""The simulated joints behind a native mock (Unitree, Galaxea/Sharpa): built from the robot
config, stepped in time, and a joint that can be reported at a placed value (a fault to find)."""

from __future__ import annotations

import numpy as np

from egoscale_ros.hardware.mock import MockJoints


class MockBody:
    """``joints`` (the feedback sources' joints, at the config's home pose) with their URDF limits,
    lag and speed (the mock config's unless given), mimic joints followed."""

    def __init__(self, config, names: list[str], lag_s: float | None = None, max_velocity: float | None = None):
        infos = {n: config.joint_info(n) for n in names}
        self.limits = {n: (i.lower, i.upper) for n, i in infos.items()}
        self.velocity_limit = {n: i.velocity for n, i in infos.items()}  # what the joints physically can
        mimic = [config.joint_info(n).mimic for n in config.movable_joints()
                 if config.joint_info(n).mimic_joint and config.joint_info(n).mimic_joint in infos]
        self.joints = MockJoints(names, config.home, np.array([self.limits[n][0] for n in names]),
                                 np.array([self.limits[n][1] for n in names]),
                                 lag_s if lag_s is not None else config.mock.lag_s,
                                 max_velocity if max_velocity is not None else config.mock.max_velocity, mimic)
        self.placed: dict[str, float] = {}

    def position(self, joint: str) -> float:
        """Where ``joint`` is reported: its placed value, else where it is."""
        if joint in self.placed:
            return self.placed[joint]
        return float(self.joints.position[self.joints.index[joint]])

    def step(self, dt: float) -> None:
        self.joints.step(dt)

    def place(self, joint: str, value: float) -> None:
        """Report ``joint`` at ``value`` from now on (even outside its limits)."""
        if joint not in self.joints.index:
            raise ValueError(f"place: '{joint}' is not a joint of the mock ({', '.join(self.joints.names)})")
        self.placed[joint] = float(value)
