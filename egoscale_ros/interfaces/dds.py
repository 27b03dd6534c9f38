"""The maker's DDS side through the Cyclone DDS Python binding: one participant, writers, readers.

Cyclone DDS is configured per participant from :class:`~egoscale_ros.interfaces.settings.NativeSettings`
(network interface, multicast, unicast peers), never through the process environment, so it
cannot disturb the ROS side (Fast DDS) running in the same process. Readers keep only the newest
sample of a topic (``take_latest``): a state stream at 500 Hz is worth its last value.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any
from xml.sax.saxutils import escape

from egoscale_ros.interfaces.settings import NativeSettings


def cyclone_config(settings: NativeSettings) -> str:
    """Cyclone DDS XML for ``settings`` (loopback + multicast off -> unicast discovery to peers)."""
    parts = ["<CycloneDDS><Domain id=\"any\"><General>"]
    if settings.network_interface:
        parts.append(f"<Interfaces><NetworkInterface name=\"{escape(settings.network_interface)}\"/></Interfaces>")
    parts.append(f"<AllowMulticast>{'true' if settings.multicast else 'false'}</AllowMulticast>")
    parts.append("</General>")
    discovery = []
    if not settings.multicast:
        peers = "".join(f"<Peer address=\"{escape(p)}\"/>" for p in (settings.peers or ("127.0.0.1",)))
        discovery.append(f"<ParticipantIndex>auto</ParticipantIndex>"
                         f"<MaxAutoParticipantIndex>60</MaxAutoParticipantIndex><Peers>{peers}</Peers>")
    if settings.tag:
        discovery.append(f"<Tag>{escape(settings.tag)}</Tag>")  # only equal tags discover each other
    if discovery:
        parts.append("<Discovery>" + "".join(discovery) + "</Discovery>")
    parts.append("</Domain></CycloneDDS>")
    return "".join(parts)


#: Signals whose Python handler may raise (a node's SIGINT raises KeyboardInterrupt).
_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM back while the binding takes samples: a Python signal handler that
    raises while its take is in progress (a node's SIGINT raises KeyboardInterrupt) kills the
    process with SIGSEGV — a reader taken from while SIGINTs came every 0.3 ms died after 7–16 of
    them, and held it took 40 000. A held signal is delivered as soon as the take returns, so a
    stop is not lost."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class NativeBus:
    """One Cyclone DDS participant on the native domain, with its writers and readers by topic."""

    def __init__(self, settings: NativeSettings):
        from cyclonedds.domain import Domain, DomainParticipant

        self.settings = settings
        self._domain = Domain(settings.domain_id, cyclone_config(settings))
        self.participant = DomainParticipant(settings.domain_id)
        self._topics: dict[str, Any] = {}
        self.writers: dict[str, Any] = {}
        self.readers: dict[str, Any] = {}
        self._reader_types: dict[str, type] = {}

    def _topic(self, name: str, idl_type: type):
        from cyclonedds.topic import Topic

        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = Topic(self.participant, name, idl_type)
        return topic

    def writer(self, name: str, idl_type: type, reliable: bool = False):
        from cyclonedds.core import Policy, Qos
        from cyclonedds.pub import DataWriter
        from cyclonedds.util import duration

        if name not in self.writers:
            rel = Policy.Reliability.Reliable(duration(milliseconds=100)) if reliable else Policy.Reliability.BestEffort
            qos = Qos(rel, Policy.History.KeepLast(1))
            self.writers[name] = DataWriter(self.participant, self._topic(name, idl_type), qos=qos)
        return self.writers[name]

    def reader(self, name: str, idl_type: type, depth: int = 1):
        from cyclonedds.core import Policy, Qos
        from cyclonedds.sub import DataReader

        if name not in self.readers:
            qos = Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(depth))
            self.readers[name] = DataReader(self.participant, self._topic(name, idl_type), qos=qos)
            self._reader_types[name] = idl_type
        return self.readers[name]

    def write(self, name: str, sample: Any) -> None:
        self.writers[name].write(sample)

    def write_cdr(self, name: str, data: bytes) -> None:
        """Write one sample given as its wire bytes (what ``sample.serialize()`` returns): what
        ``DataWriter.write`` does once it has serialised a sample."""
        from cyclonedds._clayer import ddspy_write
        from cyclonedds.core import DDSException

        data = data.ljust((len(data) + 3) & ~3, b"\0")  # whole 4-byte words, as the binding pads
        ret = ddspy_write(self.writers[name]._ref, data)
        if ret < 0:
            raise DDSException(ret, f"Occurred while writing a sample on {name}")

    def take(self, name: str, limit: int = 64) -> list[Any]:
        """Every sample waiting on ``name`` (oldest first), without blocking.

        Lifecycle notices (a writer went away) arrive as invalid samples and are skipped.
        """
        wanted = self._reader_types[name]
        with _signals_held():
            taken = self.readers[name].take(N=limit)
        return [s for s in taken if isinstance(s, wanted)]

    def take_cdr(self, name: str, limit: int = 64) -> list[bytes]:
        """:meth:`take` as each sample's wire bytes, for a decoder that reads them without
        building the message objects (what ``DataReader.take`` does before deserialising)."""
        from cyclonedds._clayer import ddspy_take
        from cyclonedds.core import DDSException, InstanceState, SampleState, ViewState

        with _signals_held():
            ret = ddspy_take(self.readers[name]._ref, SampleState.Any | ViewState.Any | InstanceState.Any, limit)
        if isinstance(ret, int):
            raise DDSException(ret, f"Occurred while taking data on {name}")
        return [data for data, info in ret if info.valid_data]

    def take_latest(self, name: str) -> Any | None:
        samples = self.take(name)
        return samples[-1] if samples else None

    def matched_publishers(self, name: str) -> int:
        """How many writers on the native domain this reader has matched (0: nobody publishes)."""
        try:
            return len(self.readers[name].get_matched_publications())
        except Exception:  # an older binding without the call: unknown
            return -1

    def close(self) -> None:
        self.writers.clear()
        self.readers.clear()
        self._topics.clear()
        self.participant = None
        self._domain = None
