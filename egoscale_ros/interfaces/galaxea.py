"""Galaxea R1 Pro: joint targets on ``/motion_target/*``, feedback from ``/hdas/feedback_*``.

Galaxea's own policy node drives the arms and torso with sensor_msgs/JointState targets on
``/motion_target/target_joint_state_arm_{left,right}`` and ``/motion_target/target_joint_state_torso``
and reads ``/hdas/feedback_arm_{left,right}`` and ``/hdas/feedback_torso`` (best effort, depth 1).
Galaxea documents ``JointState.velocity`` on the target topics as a per-joint **maximum speed**
for the motion, not a signed instantaneous velocity; so this adapter sends positions only, or
the positive ``speed_cap`` the config states, never a velocity derived from the motion.

Output ``galaxea_joint_target`` options:

- ``speed_cap``: rad/s, one number or one per joint, each > 0; absent: positions only;
- ``max_velocity``: how fast the sent positions may move toward the targets (rad/s, default 3);
- ``names``: send the joint names with the positions (default true; the controller reads by index).

Feedback ``galaxea_feedback``: a JointState per group, mapped to URDF names as any JointState
source (named messages through ``source_names`` / ``prefix``, unnamed ones by configured order).
"""

from __future__ import annotations

from typing import Any

from egoscale_ros.interfaces.base import Packet, RosJointState
from egoscale_ros.interfaces.feedback import JointStateFeedback
from egoscale_ros.interfaces.joint_targets import Ramp, RampedOutput
from egoscale_ros.interfaces.options import Options


class GalaxeaJointTargetOutput(RampedOutput):
    """Targets of one Galaxea joint group (an arm or the torso) on its ``/motion_target`` topic."""

    kind = "galaxea_joint_target"

    def __init__(self, output, config) -> None:
        super().__init__(output, config)
        o = Options(output, config)
        self.speed_cap = o.positive_per_joint("speed_cap")
        self.ramp = Ramp(output.joints, o.number("max_velocity", 3.0, 1e-3, 50.0))
        self.send_names = o.flag("names", True)
        o.done()

    def packet(self, q: list[float]) -> Packet:
        names = self.output.joints if self.send_names else ()
        return Packet(self.output.topic, RosJointState(tuple(names), tuple(q), self.speed_cap or ()))

    def diagnostics(self) -> dict[str, Any]:
        return {"velocity": "speed cap" if self.speed_cap else "positions only", **self.errors}


class GalaxeaFeedback(JointStateFeedback):
    """``/hdas/feedback_*``: one JointState per joint group (options as :class:`JointStateFeedback`)."""

    kind = "galaxea_feedback"
