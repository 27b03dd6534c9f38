"""The far side of makers' ROS-topic interfaces (Galaxea R1 Pro, Sharpa Wave), for tests and the demo.

It takes what the robot takes and checks each message the way the robot reads it:

- Galaxea ``/motion_target/*`` (``galaxea_joint_target``): one position per joint of the group,
  read by index; names, when present, must be the group's joints in order; velocity either
  absent or one **positive** speed cap per joint (a signed or zero value is refused: the robot
  would read it as a speed limit); positions inside the URDF limits; and no jump away from the
  measured pose larger than the speed allows (the first target must start where the arm is).
- Sharpa ``wave/{side}/joint_commands`` (``sharpa_joint_commands``): exactly 22 positions read by
  index; names are ignored by the server, but when sent they must be the maker's index order
  (otherwise the sender's order and the server's disagree); limits and jumps as above.

"No jump": the first accepted message of a topic must start within ``FIRST_TOL`` of the measured
pose, and each later one may differ from the previous accepted one by no more than the URDF
velocity limit allows over the time between them (the caller passes the sender's stamps).

A refused message is counted by reason and moves nothing. Accepted ones move simulated joints
(first-order lag, speed cap) that it publishes as the robot does: Galaxea groups on
``/hdas/feedback_*`` without names (mapped by order on the other side), the Sharpa hands with
unprefixed names at their configured rate (10 Hz). ``place()`` puts a joint anywhere, outside
its limits too, to test preflight.
"""

from __future__ import annotations

import math
from typing import Any

from egoscale_ros.interfaces import registry
from egoscale_ros.interfaces.base import RosJointState
from egoscale_ros.interfaces.mock_body import MockBody
from egoscale_ros.interfaces.sharpa import SHARPA_WAVE_ORDER

OUTPUT_KINDS = ("galaxea_joint_target", "sharpa_joint_commands")
FEEDBACK_KINDS = ("galaxea_feedback", "sharpa_joint_states")
LIMIT_TOL = 1e-3
FIRST_TOL = 0.05  # rad: the first target of a topic starts at the measured pose
JUMP_SLACK = 0.02  # rad beyond what the velocity limit allows between two messages
JUMP_MIN_DT = 0.02  # s: the shortest gap a step is judged over (scheduling jitter)


class _TargetCheck:
    """Checks the messages of one command topic (one output of the config)."""

    def __init__(self, mock: MockRosRobot, output):
        self.mock = mock
        self.output = output
        self.joints = tuple(output.joints)
        self.lower = [mock.limits[j][0] for j in self.joints]
        self.upper = [mock.limits[j][1] for j in self.joints]
        self.max_speed = [mock.velocity_limit[j] for j in self.joints]
        self.last_t: float | None = None
        self.last_q: list[float] | None = None

    def verify(self, msg: RosJointState, now: float) -> list[str]:
        errors: list[str] = []
        n = len(self.joints)
        if len(msg.position) != n:
            return [f"wrong_length ({len(msg.position)} positions, expected {n})"]
        self.names_ok(msg, errors)
        q = [float(v) for v in msg.position]
        if not all(math.isfinite(v) for v in q):
            return [*errors, "non_finite"]
        if any(v < lo - LIMIT_TOL or v > hi + LIMIT_TOL for v, lo, hi in zip(q, self.lower, self.upper)):
            errors.append("out_of_limits")
        self.velocity_ok(msg, errors)
        if self.last_q is None:
            far = [(j, v - self.mock.position(j)) for v, j in zip(q, self.joints)
                   if abs(v - self.mock.position(j)) > FIRST_TOL]
            if far:  # the first target is not the measured pose
                errors.append(f"jump (first target {far[0][1]:+.3f} rad from the measured {far[0][0]})")
        else:
            dt = max(now - self.last_t, JUMP_MIN_DT)
            fast = [(j, v - p) for v, p, s, j in zip(q, self.last_q, self.max_speed, self.joints)
                    if abs(v - p) > s * dt + JUMP_SLACK]
            if fast:  # faster than the joint can move
                errors.append(f"jump ({fast[0][0]} {fast[0][1]:+.3f} rad in {now - self.last_t:.3f} s)")
        if not errors:
            self.last_t, self.last_q = now, q
        return errors

    def names_ok(self, msg: RosJointState, errors: list[str]) -> None:
        if msg.name and tuple(msg.name) != self.joints:
            errors.append("wrong_names")

    def velocity_ok(self, msg: RosJointState, errors: list[str]) -> None:
        pass


class _GalaxeaCheck(_TargetCheck):
    def velocity_ok(self, msg: RosJointState, errors: list[str]) -> None:
        if not msg.velocity:
            return
        if len(msg.velocity) != len(self.joints):
            errors.append("velocity_length")
        elif not all(math.isfinite(v) and v > 0 for v in msg.velocity):
            errors.append("signed_velocity")  # a speed cap is positive; a signed velocity is not one


class _SharpaCheck(_TargetCheck):
    def __init__(self, mock: MockRosRobot, output):
        super().__init__(mock, output)
        prefix = output.joints[0][: output.joints[0].index("_") + 1]
        self.index_joints = tuple(prefix + j for j in SHARPA_WAVE_ORDER)  # the joint each index moves

    def names_ok(self, msg: RosJointState, errors: list[str]) -> None:
        if msg.name and tuple(msg.name) != SHARPA_WAVE_ORDER:
            errors.append("index_order")  # the server reads by index: names in another order mislead


_CHECKS = {"galaxea_joint_target": _GalaxeaCheck, "sharpa_joint_commands": _SharpaCheck}


class MockRosRobot(MockBody):
    """The simulated robot behind one config's Galaxea / Sharpa outputs and feedback sources."""

    def __init__(self, config, lag_s: float | None = None, max_velocity: float | None = None):
        self.config = config
        self.sources = [s for s in config.feedback if s.type in FEEDBACK_KINDS]
        names = list(dict.fromkeys(j for s in self.sources for j in s.joints))
        super().__init__(config, names, lag_s, max_velocity)
        self.checks: dict[str, _TargetCheck] = {}
        for out in config.adapter_outputs:
            if out.type in _CHECKS:
                registry.output_class(out.type).validate(out, config)
                self.checks[out.topic] = _CHECKS[out.type](self, out)
        unknown = [j for c in self.checks.values() for j in c.joints if j not in self.joints.index]
        if unknown:
            raise ValueError(f"mock: commanded joints {unknown} are measured by no Galaxea/Sharpa feedback source")
        self.received = {t: 0 for t in self.checks}
        self.refused = {t: 0 for t in self.checks}
        self.errors: dict[str, int] = {}
        self.last_error = ""
        self._next_due = {s.name: 0.0 for s in self.sources}

    # -- commands -------------------------------------------------------------------------------
    def on_message(self, topic: str, msg: RosJointState, now: float) -> bool:
        """Check one command; True when accepted (joints move), False when refused (joints hold)."""
        check = self.checks[topic]
        self.received[topic] += 1
        errors = check.verify(msg, now)
        for reason in dict.fromkeys(e.split(" ")[0] for e in errors):
            self.errors[reason] = self.errors.get(reason, 0) + 1
        if errors:
            self.refused[topic] += 1
            self.last_error = f"{topic}: {', '.join(errors)}"
            return False
        self.joints.set_command(dict(zip(check.joints, (float(v) for v in msg.position))))
        return True

    # -- feedback -------------------------------------------------------------------------------
    def states(self, now: float) -> list[tuple[str, RosJointState]]:
        """(topic, message) of every source due at ``now`` (each at its configured rate)."""
        out = []
        for src in self.sources:
            if now < self._next_due[src.name]:
                continue
            if src.rate_hz > 0:
                period = 1.0 / src.rate_hz
                self._next_due[src.name] = max(self._next_due[src.name] + period, now - period)
            q = tuple(self.position(j) for j in src.joints)
            dq = tuple(float(self.joints.velocity[self.joints.index[j]]) for j in src.joints)
            if src.type == "sharpa_joint_states":
                names = tuple(j[len(src.prefix):] for j in src.joints) if src.prefix else tuple(src.source_names)
            else:
                names = ()  # Galaxea groups: positions in the group's order
            out.append((src.topic, RosJointState(names, q, dq)))
        return out

    def state_topics(self) -> list[str]:
        return [s.topic for s in self.sources]

    # -- report ---------------------------------------------------------------------------------
    def native_errors(self) -> int:
        return sum(self.errors.values())

    def report(self) -> dict[str, Any]:
        return {"received": dict(self.received), "refused": dict(self.refused),
                "native_errors": self.native_errors(), "errors": dict(self.errors),
                "last_error": self.last_error}
