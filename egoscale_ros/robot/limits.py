"""Joint limits in force for a robot: the URDF's, tightened by the config's ``safety`` section.

The config may only tighten (a looser value is refused naming the joint and field); the URDF
gives no acceleration limits, so the config's ``safety.acceleration`` supplies them.
"""

from __future__ import annotations

from collections.abc import Sequence

from egoscale_ros.robot.spec import RobotConfig
from egoscale_ros.safety.limits import JointLimits, LimitsError
from egoscale_ros.schema import ConfigError


def joint_limits(config: RobotConfig, joints: Sequence[str]) -> JointLimits:
    """Limits of ``joints`` (in that order) from the robot's URDFs and safety config."""
    urdf_joints = {j: config.joint_info(j) for j in joints}
    safety = config.safety
    overrides = {j: o for j, o in safety.joints.items() if j in urdf_joints}
    try:
        return JointLimits.from_joints(urdf_joints, joints).tightened(
            overrides, velocity_scale=safety.velocity_scale, acceleration=safety.acceleration
        )
    except LimitsError as exc:
        raise ConfigError(f"{config.path.name}.safety: {exc}") from exc
