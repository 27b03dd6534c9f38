"""A ROS 2 MCAP file of serialized (CDR) messages, with bounded size, duration and free disk.

The recorder node hands over each message as the bytes DDS delivered, so nothing is decoded or
re-encoded on the way to disk. Recording stops - the file is finished and stays readable - when
it reaches ``max_bytes`` or ``max_seconds``, when the disk's free space falls below
``min_free_bytes``, or when a write fails (disk full); :attr:`McapRecorder.stopped` then says
why, in words an operator can act on.
"""

from __future__ import annotations

import errno
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mcap.writer import CompressionType, Writer

from egoscale_ros.recording.msgdefs import message_definition

PROFILE = "ros2"
SCHEMA_ENCODING = "ros2msg"
MESSAGE_ENCODING = "cdr"
FREE_SPACE_CHECK_S = 1.0
METADATA_NAME = "egoscale_ros"  # the run's robot etc., read back by reports and replays


@dataclass(frozen=True)
class RecordingLimits:
    """When to stop: bytes written, seconds since the first message, free space left on disk."""

    max_bytes: int = 2 * 1024**3
    max_seconds: float = 0.0  # 0 = no duration limit
    min_free_bytes: int = 256 * 1024**2

    def __post_init__(self) -> None:
        if self.max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0, got {self.max_bytes}")
        if self.max_seconds < 0:
            raise ValueError(f"max_seconds must be >= 0 (0 = unlimited), got {self.max_seconds}")
        if self.min_free_bytes < 0:
            raise ValueError(f"min_free_bytes must be >= 0, got {self.min_free_bytes}")


def unused_path(path: str | Path) -> Path:
    """``path``, or when a file is already there ``<stem>-2<suffix>``, ``-3``… (never overwrite a run:
    a recorder that is restarted mid-run must keep what the first one wrote)."""
    path = Path(path)
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


class _CountingStream:
    """File wrapper that counts bytes and turns a failed write into a recorder stop."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.written = 0

    def write(self, data: bytes) -> int:
        n = self.raw.write(data)
        self.written += len(data)
        return n if n is not None else len(data)

    def flush(self) -> None:
        self.raw.flush()

    def tell(self) -> int:
        return self.written

    def close(self) -> None:
        self.raw.close()


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class McapRecorder:
    """Writes serialized ROS 2 messages to ``path``; one channel per topic."""

    def __init__(
        self,
        path: str | Path,
        limits: RecordingLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        free_bytes: Callable[[Path], int] | None = None,
        chunk_size: int = 1024 * 1024,
        metadata: dict[str, str] | None = None,
    ):
        self.path = Path(path)
        self.limits = limits or RecordingLimits()
        self._clock = clock
        self._free_bytes = free_bytes or (lambda p: shutil.disk_usage(p).free)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._dir = self.path.parent
        free = self._free_bytes(self._dir)
        if free < self.limits.min_free_bytes:
            raise OSError(errno.ENOSPC, f"cannot record to {self.path}: {_mb(free)} free on its disk, below "
                                        f"min_free_bytes ({_mb(self.limits.min_free_bytes)})")
        self._stream = _CountingStream(open(self.path, "wb"))
        self._writer = Writer(self._stream, chunk_size=chunk_size, compression=CompressionType.ZSTD)
        self._writer.start(profile=PROFILE, library="egoscale_ros")
        if metadata:
            self._writer.add_metadata(METADATA_NAME, {k: str(v) for k, v in metadata.items()})
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.stopped: str | None = None
        self.closed = False
        self._started: float | None = None
        self._last_free_check = -float("inf")

    # -- channels --------------------------------------------------------------------------------

    def add_topic(self, topic: str, type_name: str, definition: str | None = None) -> None:
        """Declare ``topic`` of ROS 2 type ``type_name``, with its ``ros2msg`` ``definition`` or (None)
        the installed one; raises if the type's definition is unknown."""
        if topic in self._channels:
            return
        if type_name not in self._schemas:
            text = definition if definition is not None else message_definition(type_name)
            self._schemas[type_name] = self._writer.register_schema(type_name, SCHEMA_ENCODING, text.encode())
        self._channels[topic] = self._writer.register_channel(topic, MESSAGE_ENCODING, self._schemas[type_name])
        self.counts[topic] = 0

    @property
    def topics(self) -> list[str]:
        return list(self._channels)

    # -- messages --------------------------------------------------------------------------------

    def write(self, topic: str, data: bytes, log_time_ns: int, publish_time_ns: int | None = None) -> bool:
        """Append one serialized message; False once recording has stopped (the message is dropped)."""
        if self.stopped is not None:
            return False
        now = self._clock()
        if self._started is None:
            self._started = now
        reason = self._limit_reached(now)
        if reason is not None:
            self.stop(reason)
            return False
        channel = self._channels[topic]
        count = self.counts[topic]
        try:
            self._writer.add_message(channel, log_time_ns, bytes(data),
                                     log_time_ns if publish_time_ns is None else publish_time_ns, count)
        except OSError as exc:
            self._write_failed(exc)
            return False
        self.counts[topic] = count + 1
        return True

    @property
    def bytes_written(self) -> int:
        return self._stream.written

    @property
    def messages(self) -> int:
        return sum(self.counts.values())

    def elapsed_s(self) -> float:
        return 0.0 if self._started is None else self._clock() - self._started

    def _limit_reached(self, now: float) -> str | None:
        lim = self.limits
        if self._stream.written >= lim.max_bytes:
            return f"size limit reached: {_mb(self._stream.written)} of max_bytes {_mb(lim.max_bytes)}"
        if lim.max_seconds and now - (self._started or now) >= lim.max_seconds:
            return f"duration limit reached: max_seconds {lim.max_seconds:g} s"
        if now - self._last_free_check >= FREE_SPACE_CHECK_S:
            self._last_free_check = now
            free = self._free_bytes(self._dir)
            if free < lim.min_free_bytes:
                return (f"disk nearly full: {_mb(free)} free on the disk of {self.path}, below min_free_bytes "
                        f"{_mb(lim.min_free_bytes)}")
        return None

    def _write_failed(self, exc: OSError) -> None:
        what = "disk full" if exc.errno == errno.ENOSPC else f"write failed ({exc.strerror or exc})"
        self.stopped = (f"{what} writing {self.path} after {self.messages} messages ({_mb(self._stream.written)}); "
                        "the file keeps the chunks written before, readable without its index")
        self._close(finish=False)

    # -- end ---------------------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """Finish the file now (summary and index written) and refuse further messages."""
        if self.stopped is None:
            self.stopped = reason
        self._close(finish=True)

    def close(self) -> None:
        if not self.closed and self.stopped is None:
            self.stopped = "closed"
        self._close(finish=True)

    def _close(self, finish: bool) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if finish:
                self._writer.finish()
            self._stream.flush()
        except OSError as exc:
            if exc.errno == errno.ENOSPC and "disk full" not in (self.stopped or ""):
                self.stopped = f"{self.stopped}; then disk full while finishing {self.path} (index missing)"
        finally:
            try:
                self._stream.close()
            except OSError:
                pass

    def summary(self) -> dict:
        return {"path": str(self.path), "messages": self.messages, "bytes": self.bytes_written,
                "seconds": round(self.elapsed_s(), 3), "stopped": self.stopped, "topics": dict(self.counts)}
