"""What every interface adapter provides, and the plain data it exchanges with the node shells.

An :class:`OutputAdapter` turns the joint targets of one controller output into the maker's
messages; a :class:`FeedbackDecoder` turns one source's messages into measured joints. Both are
pure: the shell hands them messages and the clock and sends what they return. A message that
must be refused raises :class:`Rejected` with a short reason key that diagnostics count.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

#: transports an adapter speaks: the maker's own DDS (Cyclone), or ROS 2 topics
DDS = "dds"
ROS = "ros"


class Rejected(ValueError):
    """A message refused. ``reason`` is a short key counted on diagnostics (``bad_crc``)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class WireSample:
    """A DDS sample already serialised: ``data`` is what ``type.serialize`` would return for it.

    An output that builds its message straight from arrays hands this over: the robot interface
    writes the bytes as they are, and a reader that wants the fields calls :meth:`decode`.
    """

    type: type
    data: bytes

    def decode(self) -> Any:
        return self.type.deserialize(self.data)


@dataclass(frozen=True)
class RosJointState:
    """A sensor_msgs/JointState as plain data (the shell converts; the core never sees rclpy)."""

    name: tuple[str, ...]
    position: tuple[float, ...]
    velocity: tuple[float, ...] = ()
    effort: tuple[float, ...] = ()
    stamp_s: float = 0.0


@dataclass(frozen=True)
class Packet:
    """One message to send now: on ``topic`` over the adapter's transport.

    ``message`` is a DDS sample (an IDL struct instance, or a :class:`WireSample` of its bytes) or a
    :class:`RosJointState`.
    """

    topic: str
    message: Any


@dataclass
class JointSample:
    """Measured joints decoded from one feedback message (URDF names)."""

    position: dict[str, float]
    velocity: dict[str, float] = field(default_factory=dict)
    effort: dict[str, float] = field(default_factory=dict)
    #: what else the message told (e.g. Unitree ``mode_machine``), for the output adapters
    extra: dict[str, Any] = field(default_factory=dict)


class OutputAdapter(ABC):
    """Turns the targets of one controller output into the maker's messages.

    Life cycle: the shell feeds :meth:`on_feedback` with every assembled joint view and
    :meth:`set_target` with every command that reached the output's ``ros_topic``, and calls
    :meth:`tick` at the output's rate, sending what it returns (nothing while it is not safe to
    send). On a clean stop it calls :meth:`release` and keeps ticking until :attr:`released`.
    """

    kind: ClassVar[str]
    transport: ClassVar[str]

    def __init__(self, output, config) -> None:
        self.output = output
        self.config = config
        self.errors: dict[str, int] = {}

    @classmethod
    def validate(cls, output, config) -> None:
        """Check the output's ``options`` at config load; raise ConfigError naming the field."""
        cls(output, config)

    def topics(self) -> dict[str, type | None]:
        """Topics this adapter publishes on (value: the IDL type for DDS, None for ROS JointState)."""
        return {self.output.topic: None}

    def on_feedback(self, position: dict[str, float], extra: dict[str, Any]) -> None:  # noqa: B027
        """The latest measured joints (and what the feedback messages said besides)."""

    @abstractmethod
    def set_target(self, position: dict[str, float], now: float) -> None:
        """New joint targets for this output (only its joints; already through the safety gate)."""

    @abstractmethod
    def tick(self, now: float) -> list[Packet]:
        """Messages to send at time ``now`` (seconds, monotonic)."""

    def release(self) -> None:  # noqa: B027
        """Begin the clean hand-back (e.g. ramp the arm_sdk blend weight out)."""

    @property
    def released(self) -> bool:
        """True once nothing more needs sending after :meth:`release`."""
        return True

    def diagnostics(self) -> dict[str, Any]:
        return {}

    def count_error(self, reason: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1


class FeedbackDecoder(ABC):
    """Decodes one feedback source's messages into measured URDF joints."""

    kind: ClassVar[str]
    transport: ClassVar[str]

    def __init__(self, source, config) -> None:
        self.source = source
        self.config = config

    @classmethod
    def validate(cls, source, config) -> None:
        cls(source, config)

    def message_type(self) -> type | None:
        """IDL type of the source's DDS topic (None: a ROS JointState topic)."""
        return None

    @abstractmethod
    def decode(self, message: Any) -> JointSample:
        """The joints in ``message``; raises :class:`Rejected` for a message that must be refused."""
