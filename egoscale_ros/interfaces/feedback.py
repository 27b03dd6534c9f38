"""Assemble the one ``joint_states`` view from the robot's declared feedback sources.

Each joint comes from exactly one source (the config loader refuses overlaps). A source's
message is decoded by its kind's :class:`~egoscale_ros.interfaces.base.FeedbackDecoder`; a
refused message is counted per source and reason and changes nothing, so the last good values
stand until the source's own timeout reports it silent. Mimic joints (URDF ``<mimic>``) are
filled from the joint they follow, so the view covers every joint the kinematics needs.

Also here: :class:`NameMap` and the decoder of plain ROS JointState sources, which map the
names a maker publishes (unprefixed, or none at all) to URDF names.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from egoscale_ros.interfaces.base import ROS, FeedbackDecoder, JointSample, Rejected, RosJointState


class NameMap:
    """Source names -> URDF names for one source.

    ``joints``: URDF names in the source's order; ``source_names``: the names the source uses
    (same order), or ``prefix`` + source name = URDF name. ``by_order``: a message without names
    is mapped by the configured order (it must then carry exactly ``len(joints)`` values).
    """

    def __init__(self, joints: Sequence[str], source_names: Sequence[str] = (), prefix: str = "",
                 by_order: bool = True):
        self.joints = tuple(joints)
        if source_names:
            if len(source_names) != len(self.joints):
                raise ValueError(f"{len(source_names)} source names for {len(self.joints)} joints")
            self.to_urdf = dict(zip(source_names, self.joints))
        elif prefix:
            self.to_urdf = {j[len(prefix):]: j for j in self.joints if j.startswith(prefix)}
            unprefixed = [j for j in self.joints if not j.startswith(prefix)]
            if unprefixed:
                raise ValueError(f"joints {unprefixed} do not start with the prefix '{prefix}'")
        else:
            self.to_urdf = {j: j for j in self.joints}
        self.by_order = by_order

    def map(self, msg: RosJointState) -> JointSample:
        """The message's joints under URDF names; :class:`Rejected` when it does not fit."""
        n = len(msg.position)
        if not msg.name:
            if not self.by_order:
                raise Rejected("unnamed", "message has no joint names")
            if n != len(self.joints):
                raise Rejected("wrong_length", f"unnamed message with {n} positions for {len(self.joints)} joints")
            names = self.joints
        else:
            if len(msg.name) != n:
                raise Rejected("length_mismatch", f"{len(msg.name)} names but {n} positions")
            try:
                names = tuple(self.to_urdf[s] for s in msg.name)
            except KeyError as exc:
                raise Rejected("unknown_joint", f"joint '{exc.args[0]}' is not declared for this source") from None
        for extra_field, values in (("velocity", msg.velocity), ("effort", msg.effort)):
            if values and len(values) != n:
                raise Rejected("length_mismatch", f"{len(values)} {extra_field} values for {n} positions")
        if not all(math.isfinite(v) for v in msg.position):
            raise Rejected("non_finite", "position holds NaN or inf")
        sample = JointSample(dict(zip(names, (float(v) for v in msg.position))))
        if msg.velocity:
            sample.velocity = dict(zip(names, (float(v) for v in msg.velocity)))
        if msg.effort:
            sample.effort = dict(zip(names, (float(v) for v in msg.effort)))
        return sample


class JointStateFeedback(FeedbackDecoder):
    """A sensor_msgs/JointState source (ros2_control's broadcaster, Galaxea, Sharpa), name-mapped.

    Options: ``by_order`` (default true): map unnamed messages by the configured order.
    """

    kind = "joint_state"
    transport = ROS

    def __init__(self, source, config) -> None:
        super().__init__(source, config)
        from egoscale_ros.schema import ConfigError

        opts = dict(source.options)
        by_order = opts.pop("by_order", True)
        if opts:
            raise ConfigError(f"{config.path.name}: feedback '{source.name}'.options: unknown field(s) {sorted(opts)}")
        if not isinstance(by_order, bool):
            raise ConfigError(f"{config.path.name}: feedback '{source.name}'.options.by_order: expected true/false")
        try:
            self.names = NameMap(source.joints, source.source_names, source.prefix, by_order)
        except ValueError as exc:
            raise ConfigError(f"{config.path.name}: feedback '{source.name}': {exc}") from exc

    def decode(self, message: RosJointState) -> JointSample:
        return self.names.map(message)


@dataclass
class SourceStatus:
    """Counters of one feedback source, as diagnostics and preflight report them."""

    name: str
    topic: str
    timeout_s: float
    expected_rate_hz: float = 0.0
    received: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    last_rejection: str = ""
    last_s: float = -math.inf
    _arrivals: deque = field(default_factory=lambda: deque(maxlen=200))

    def rate_hz(self, now: float, window_s: float = 2.0) -> float:
        """Messages per second over the last ``window_s`` (0 when silent)."""
        recent = [t for t in self._arrivals if now - t <= window_s]
        if len(recent) < 2:
            return 0.0
        span = max(now - recent[0], recent[-1] - recent[0])
        return (len(recent) - 1) / span if span > 0 else 0.0

    def silent(self, now: float) -> bool:
        return now - self.last_s > self.timeout_s

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


class FeedbackAssembly:
    """The one joint view built from every declared source, with per-source counters.

    ``mimic``: (joint, source joint, multiplier, offset) for joints that follow another one.
    """

    def __init__(self, sources: Sequence[Any], mimic: Sequence[tuple[str, str, float, float]] = (),
                 clock=time.monotonic):
        self._clock = clock
        self.status = {s.name: SourceStatus(s.name, s.topic, s.timeout_s, s.rate_hz) for s in sources}
        self.owner = {j: s.name for s in sources for j in s.joints}
        self.position: dict[str, float] = {}
        self.velocity: dict[str, float] = {}
        self.effort: dict[str, float] = {}
        self.extra: dict[str, Any] = {}
        measured = set(self.owner)
        self.mimic = [m for m in mimic if m[1] in measured and m[0] not in measured]
        self.joint_names = [*self.owner, *(m[0] for m in self.mimic)]

    def accept(self, source: str, sample: JointSample, now: float | None = None) -> bool:
        """Take a decoded message of ``source``; one carrying joints it does not own is refused."""
        now = self._clock() if now is None else now
        st = self.status[source]
        foreign = [j for j in sample.position if self.owner.get(j) != source]
        if foreign:
            self.reject(source, Rejected("unknown_joint", f"joint(s) {foreign} do not come from this source"))
            return False
        self.position.update(sample.position)
        self.velocity.update(sample.velocity)
        self.effort.update(sample.effort)
        self.extra.update(sample.extra)
        for joint, leader, multiplier, offset in self.mimic:
            if leader in sample.position:
                self.position[joint] = multiplier * self.position[leader] + offset
                self.velocity[joint] = multiplier * self.velocity.get(leader, 0.0)
        st.received += 1
        st.last_s = now
        st._arrivals.append(now)
        return True

    def reject(self, source: str, error: Rejected) -> None:
        st = self.status[source]
        st.rejected[error.reason] = st.rejected.get(error.reason, 0) + 1
        st.last_rejection = str(error)

    def complete(self) -> bool:
        """True once every declared joint has been measured at least once."""
        return all(j in self.position for j in self.owner)

    def missing(self) -> list[str]:
        return [j for j in self.owner if j not in self.position]

    def silent_sources(self, now: float | None = None) -> list[str]:
        now = self._clock() if now is None else now
        return [n for n, st in self.status.items() if st.silent(now)]

    def view(self) -> tuple[list[str], list[float], list[float], list[float]]:
        """Names, positions, velocities, efforts of every joint measured so far."""
        names = [j for j in self.joint_names if j in self.position]
        return (names, [self.position[j] for j in names], [self.velocity.get(j, 0.0) for j in names],
                [self.effort.get(j, 0.0) for j in names])

    def diagnostics(self, now: float | None = None) -> dict[str, Any]:
        now = self._clock() if now is None else now
        values: dict[str, Any] = {}
        for name, st in self.status.items():
            values[f"feedback {name} topic"] = st.topic
            values[f"feedback {name} received"] = st.received
            values[f"feedback {name} rate_hz"] = round(st.rate_hz(now), 2)
            values[f"feedback {name} silent"] = st.silent(now)
            values[f"feedback {name} rejected"] = st.rejected_total
            for reason, n in st.rejected.items():
                values[f"feedback {name} rejected {reason}"] = n
            if st.last_rejection:
                values[f"feedback {name} last_rejection"] = st.last_rejection
        missing = self.missing()
        values["feedback missing_joints"] = ",".join(missing) if missing else "none"
        return values
