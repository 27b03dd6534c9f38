"""Joint limits in force for a robot: the URDF's, tightened by the config's ``safety`` section.

The config may only tighten (a looser value is refused naming the joint and field); the URDF
gives no acceleration limits, so the config's ``safety.acceleration`` supplies them.
"""

from __future__ import annotations

from collections.abc import Sequence

from egoscale_ros.robot.spec import RobotConfig
from egoscale_ros.safety.limits import JointLimits, LimitsError
from egoscale_ros.schema import ConfigError


def joint_limits(config: RobotConfig, joints: Sequence[str], speed_scale: float = 1.0) -> JointLimits:
    """Limits of ``joints`` (in that order) from the robot's URDFs and safety config.

    The velocity in force is the URDF's × ``safety.velocity_scale``, capped by ``safety.arm_velocity``
    / ``safety.hand_velocity`` and a joint's own ``safety.joints.<j>.velocity``, then × ``speed_scale``
    (a launch argument in (0, 1]: it can only lower them). A joint whose URDF gives no velocity (or
    0) must get one from the config; it is never "unlimited".
    """
    urdf_joints = {j: config.joint_info(j) for j in joints}
    safety = config.safety
    overrides = {j: o for j, o in safety.joints.items() if j in urdf_joints}
    arms, hands = set(config.arm_joints), set(config.hand_joints)
    caps = {j: safety.arm_velocity if j in arms else safety.hand_velocity if j in hands else None for j in joints}
    for j in joints:
        own = getattr(overrides.get(j), "velocity", None)
        if not getattr(urdf_joints[j], "velocity_given", True) and own is None and caps[j] is None:
            group = "arm_velocity" if j in arms else "hand_velocity" if j in hands else None
            also = f" or safety.{group}" if group else ""
            raise ConfigError(f"{config.path.name}: joint '{j}' has no velocity limit in its URDF (0 or missing); "
                              f"give one as safety.joints.{j}.velocity{also} (rad/s)")
    try:
        base = JointLimits.from_joints(urdf_joints, joints).tightened(
            overrides, velocity_scale=safety.velocity_scale, acceleration=safety.acceleration
        )
        capped = {j: {"velocity": min(c, float(base.velocity[base.index(j)]))} for j, c in caps.items() if c is not None}
        return base.tightened(capped).tightened(velocity_scale=speed_scale)
    except LimitsError as exc:
        raise ConfigError(f"{config.path.name}.safety: {exc}") from exc
