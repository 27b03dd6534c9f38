"""Sharpa Wave hand: ``wave/{side}/joint_commands`` in, ``wave/{side}/joint_states`` out.

The maker's ROS sample server takes sensor_msgs/JointState commands (radians) and reads the 22
positions **by index**, in the maker's joint order, ignoring the names; it publishes feedback at
about 10 Hz with names **without a side prefix** (``thumb_DIP``), the same for both hands.

Output ``sharpa_joint_commands``: the output's ``joints`` must be that hand's 22 joints in the
maker's order (the config is refused otherwise: a reordered list would move the wrong fingers).
Options: ``max_velocity`` (rad/s toward the targets, default 10), ``names`` (send the maker's
unprefixed names alongside, default true; the server ignores them, a reader of the topic sees
which position is which).

Feedback ``sharpa_joint_states``: a JointState source whose ``prefix`` (``left_`` / ``right_``)
turns the unprefixed names into URDF names.
"""

from __future__ import annotations

from typing import Any

from egoscale_ros.interfaces.base import Packet, RosJointState
from egoscale_ros.interfaces.feedback import JointStateFeedback
from egoscale_ros.interfaces.joint_targets import Ramp, RampedOutput
from egoscale_ros.interfaces.options import Options

# The maker's index order of the 22 joints (the server reads positions by this index).
SHARPA_WAVE_ORDER: tuple[str, ...] = (
    "thumb_CMC_FE", "thumb_CMC_AA", "thumb_MCP_FE", "thumb_MCP_AA", "thumb_IP",
    "index_MCP_FE", "index_MCP_AA", "index_PIP", "index_DIP",
    "middle_MCP_FE", "middle_MCP_AA", "middle_PIP", "middle_DIP",
    "ring_MCP_FE", "ring_MCP_AA", "ring_PIP", "ring_DIP",
    "pinky_CMC", "pinky_MCP_FE", "pinky_MCP_AA", "pinky_PIP", "pinky_DIP",
)  # fmt: skip


def side_prefix(joints: tuple[str, ...]) -> str | None:
    """``left_`` / ``right_`` when ``joints`` are exactly that hand's joints in the maker's order."""
    for prefix in ("left_", "right_"):
        if joints == tuple(prefix + j for j in SHARPA_WAVE_ORDER):
            return prefix
    return None


class SharpaCommandOutput(RampedOutput):
    """One hand's 22 positions, in the maker's index order, on ``wave/{side}/joint_commands``."""

    kind = "sharpa_joint_commands"

    def __init__(self, output, config) -> None:
        super().__init__(output, config)
        o = Options(output, config)
        if side_prefix(tuple(output.joints)) is None:
            raise o.fail("joints", "a Sharpa Wave output carries one hand's 22 joints in the maker's index order "
                                   f"({', '.join(SHARPA_WAVE_ORDER)}, each with the side prefix), got "
                                   f"{list(output.joints)}")
        self.ramp = Ramp(output.joints, o.number("max_velocity", 10.0, 1e-3, 100.0))
        self.names = SHARPA_WAVE_ORDER if o.flag("names", True) else ()
        o.done()

    def packet(self, q: list[float]) -> Packet:
        return Packet(self.output.topic, RosJointState(self.names, tuple(q)))

    def diagnostics(self) -> dict[str, Any]:
        return dict(self.errors)


class SharpaFeedback(JointStateFeedback):
    """``wave/{side}/joint_states``: unprefixed names; the source's ``prefix`` is required."""

    kind = "sharpa_joint_states"

    def __init__(self, source, config) -> None:
        from egoscale_ros.schema import ConfigError

        if not source.prefix and not source.source_names:
            raise ConfigError(f"{config.path.name}: feedback '{source.name}'.prefix: the Sharpa hands publish "
                              "names without a side prefix; state it (left_ or right_)")
        super().__init__(source, config)
