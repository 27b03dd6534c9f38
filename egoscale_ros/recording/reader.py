"""Read a ROS 2 MCAP recording back: channels, counts, the run's metadata and decoded messages.

Messages are decoded with ``mcap-ros2-support`` from the schemas stored in the file, so any
recording (ours, ``ros2 bag record -s mcap``) can be read without ROS installed. Topics are
looked up by their name relative to the robot's namespace (``policy/wrist_chunk`` finds
``/policy/wrist_chunk`` and ``/robot1/policy/wrist_chunk``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egoscale_ros.recording.writer import METADATA_NAME


class RecordingError(ValueError):
    """The file is missing, not MCAP, or lacks what a tool needs; the message says which."""


@dataclass
class Recording:
    path: Path
    channels: dict[str, str]  # topic -> ROS 2 type
    counts: dict[str, int]
    start_ns: int
    end_ns: int
    metadata: dict[str, str] = field(default_factory=dict)
    indexed: bool = True  # False when the file has no summary (stopped by a full disk)

    @property
    def duration_s(self) -> float:
        return max(0, self.end_ns - self.start_ns) * 1e-9

    def topic(self, name: str) -> str | None:
        """The recorded topic named ``name`` relative to the robot's namespace (None if absent)."""
        name = name.strip("/")
        exact = f"/{name}"
        if exact in self.channels:
            return exact
        matches = sorted(t for t in self.channels if t.endswith(exact))
        return matches[0] if matches else None

    def require(self, name: str) -> str:
        topic = self.topic(name)
        if topic is None:
            raise RecordingError(f"{self.path} has no topic {name!r}; it records {sorted(self.channels)}")
        return topic

    def messages(self, topics: Iterable[str]) -> Iterator[tuple[str, int, Any]]:
        """``(topic, log_time_ns, decoded message)`` of the given absolute topics, in log-time order."""
        from mcap.reader import make_reader
        from mcap_ros2.decoder import DecoderFactory

        wanted = [t for t in topics if t]
        if not wanted:
            return
        with open(self.path, "rb") as f:
            reader = make_reader(f, decoder_factories=[DecoderFactory()])
            for _schema, channel, message, decoded in reader.iter_decoded_messages(
                    topics=wanted, log_time_order=self.indexed):
                yield channel.topic, message.log_time, decoded

    def serialized(self, name: str) -> list[tuple[int, bytes]]:
        """Every message of topic ``name`` (relative) as ``(log_time_ns, serialized bytes)``; [] if absent."""
        from mcap.reader import make_reader

        topic = self.topic(name)
        if topic is None:
            return []
        with open(self.path, "rb") as f:
            reader = make_reader(f)
            return [(m.log_time, m.data) for _, _, m in reader.iter_messages(topics=[topic],
                                                                             log_time_order=self.indexed)]

    def log_times(self, name: str) -> list[int]:
        """Arrival times (ns) of topic ``name`` (relative), without decoding; [] if absent."""
        from mcap.reader import make_reader

        topic = self.topic(name)
        if topic is None:
            return []
        with open(self.path, "rb") as f:
            reader = make_reader(f)
            return [m.log_time for _, _, m in reader.iter_messages(topics=[topic], log_time_order=self.indexed)]

    def decode(self, name: str) -> list[tuple[int, Any]]:
        """Every message of topic ``name`` (relative) as ``(log_time_ns, message)``; [] if absent."""
        topic = self.topic(name)
        return [(t, m) for _, t, m in self.messages([topic])] if topic else []


def open_recording(path: str | Path) -> Recording:
    """Read a recording's summary (or scan it when the summary is missing)."""
    from mcap.exceptions import McapError
    from mcap.reader import make_reader

    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"no recording at {path}")
    try:
        with open(path, "rb") as f:
            reader = make_reader(f)
            summary = reader.get_summary()
            metadata: dict[str, str] = {}
            try:
                for record in reader.iter_metadata():
                    if record.name == METADATA_NAME:
                        metadata = dict(record.metadata)
            except McapError:
                pass
            if summary is not None and summary.statistics is not None:
                schemas = summary.schemas
                channels = {c.topic: schemas[c.schema_id].name for c in summary.channels.values()}
                stats = summary.statistics
                counts = {summary.channels[cid].topic: n for cid, n in stats.channel_message_counts.items()}
                counts = {t: counts.get(t, 0) for t in channels}
                return Recording(path, channels, counts, stats.message_start_time, stats.message_end_time, metadata)
        return _scan(path, metadata)
    except (McapError, OSError, ValueError) as exc:
        raise RecordingError(f"{path} is not a readable MCAP recording: {exc}") from exc


def _scan(path: Path, metadata: dict[str, str]) -> Recording:
    """A recording without a summary (cut short by a full disk): count by reading it through."""
    from mcap.reader import make_reader

    channels: dict[str, str] = {}
    counts: dict[str, int] = {}
    start, end = None, 0
    with open(path, "rb") as f:
        reader = make_reader(f)
        try:
            for schema, channel, message in reader.iter_messages(log_time_order=False):
                channels.setdefault(channel.topic, schema.name if schema else "")
                counts[channel.topic] = counts.get(channel.topic, 0) + 1
                start = message.log_time if start is None else min(start, message.log_time)
                end = max(end, message.log_time)
        except Exception:  # a truncated tail: keep what was complete
            pass
    return Recording(path, channels, counts, start or 0, end, metadata, indexed=False)
