"""Chunk messages read straight from their CDR bytes, as a raw subscription delivers them.

A wrist chunk (trajectory_msgs/MultiDOFJointTrajectory, 30 points of two transforms) turned
into Python message objects is a few hundred objects, about 1 ms per chunk, 30 times a second,
before the smoother sees a number. The smoother needs only the stamp, the frame, the names, the
step times and the numbers, which lie in the bytes as runs of doubles: read here with a few
``struct`` and ``numpy.frombuffer`` calls per point. Layout: ROS 2's CDR (XCDR1, little-endian),
each primitive aligned to its size from the end of the 4-byte encapsulation header.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_U32 = struct.Struct("<I")
_TIME = struct.Struct("<iI")
_LITTLE_ENDIAN_CDR = (b"\x00\x01", b"\x00\x03")  # CDR_LE, PL_CDR_LE


@dataclass(frozen=True)
class WireChunk:
    """One chunk message: header stamp (sec, nanosec), frame, joint names, each point's
    time_from_start (ns) and its numbers: ``(points, joints, 7)`` transforms (translation xyz,
    quaternion xyzw) of a wrist chunk, ``(points, joints)`` positions of a hand chunk."""

    sec: int
    nanosec: int
    frame_id: str
    joint_names: list[str]
    steps_ns: list[int]
    values: np.ndarray

    @property
    def stamp_ns(self) -> int:
        return self.sec * 1_000_000_000 + self.nanosec

    @property
    def stamp_s(self) -> float:
        return self.sec + self.nanosec * 1e-9


class _Reader:
    def __init__(self, data: bytes, what: str):
        if len(data) < 4 or bytes(data[:2]) not in _LITTLE_ENDIAN_CDR:
            raise ValueError(f"{what}: not little-endian CDR")
        self.buf = memoryview(data)[4:]
        self.o = 0
        self.what = what
        # While a list: every count, run of doubles and time read, as (kind, offset, value).
        self.log: list[tuple[str, int, int]] | None = None

    def u32(self) -> int:
        self.o += -self.o % 4
        (v,) = _U32.unpack_from(self.buf, self.o)
        if self.log is not None:
            self.log.append(("u32", self.o, v))
        self.o += 4
        return v

    def time(self) -> tuple[int, int]:
        self.o += -self.o % 4
        sec, nsec = _TIME.unpack_from(self.buf, self.o)
        if self.log is not None:
            self.log.append(("time", self.o, 0))
        self.o += 8
        return sec, nsec

    def run(self, n: int) -> np.ndarray:
        """``n`` doubles at the next 8-aligned offset (the caller checked they fit)."""
        self.o += -self.o % 8
        if self.log is not None:
            self.log.append(("f8", self.o, n))
        out = np.frombuffer(self.buf, dtype="<f8", count=n, offset=self.o)
        self.o += 8 * n
        return out

    def string(self) -> str:
        n = self.u32()
        if n == 0 or self.o + n > len(self.buf):
            raise ValueError(f"{self.what}: malformed string")
        text = bytes(self.buf[self.o:self.o + n - 1]).decode("utf-8")
        self.o += n
        return text

    def count(self, size: int) -> int:
        """A sequence length that the remaining bytes can hold (``size`` bytes per element)."""
        n = self.u32()
        if n * size > len(self.buf) - self.o:
            raise ValueError(f"{self.what}: sequence of {n} longer than the message")
        return n

    def doubles(self) -> np.ndarray:
        n = self.count(8)
        if n == 0:
            return np.zeros(0)
        if self.o + -self.o % 8 + 8 * n > len(self.buf):
            raise ValueError(f"{self.what}: sequence of {n} longer than the message")
        return self.run(n)

    def header(self) -> tuple[int, int, str, list[str]]:
        sec, nsec = self.time()
        frame = self.string()
        names = [self.string() for _ in range(self.count(4))]
        return sec, nsec, frame, names

    def duration_ns(self) -> int:
        sec, nsec = self.time()
        return sec * 1_000_000_000 + nsec


def _wrist_point(r: _Reader, k: int, joints: int) -> tuple[np.ndarray | None, int]:
    n = r.count(56)
    if n != joints:
        raise ValueError(f"point {k} carries {n} transforms for {joints} joints")
    row = r.run(7 * n) if n else None
    for _twists in range(2):  # velocities, accelerations: 6 doubles each, not used
        m = r.count(48)
        if m:
            r.o += -r.o % 8 + 48 * m
    return row, r.duration_ns()


def _hand_point(r: _Reader, k: int, joints: int) -> tuple[np.ndarray | None, int]:
    positions = r.doubles()
    if len(positions) != joints:
        raise ValueError(f"point {k} carries {len(positions)} positions for {joints} joints")
    for _unused in range(3):  # velocities, accelerations, effort
        r.doubles()
    return positions, r.duration_ns()


def _points(r: _Reader, read_point, joints: int) -> tuple[list[np.ndarray], list[int]]:
    """Every point's numbers and time. A policy's points all have one shape: once the second has
    been read, the rest are read at once through strided views when their counts equal its
    counts and their layout repeats (a stride of whole 8-byte words); else one by one."""
    total = r.count(4)
    rows, steps = [], []
    k = 0
    while k < total:
        start = r.o
        r.log = [] if k == 1 and total > 2 else None
        row, step = read_point(r, k, joints)
        if row is not None:
            rows.append(row)
        steps.append(step)
        k += 1
        if r.log is not None:
            log, r.log = r.log, None
            rest = _same_shaped(r.buf, start, r.o - start, log, total - 2)
            if rest is not None:
                more_rows, more_steps = rest
                rows.extend(more_rows)
                steps.extend(more_steps)
                r.o = start + (r.o - start) * (total - 1)
                break
    return rows, steps


def _same_shaped(buf: memoryview, start: int, stride: int, log: list[tuple[str, int, int]],
                 m: int) -> tuple[list[np.ndarray], list[int]] | None:
    """The ``m`` points after the one at ``start`` (read with ``log``), if each repeats its
    layout every ``stride`` bytes with the same counts; None when any does not."""
    base = start + stride
    if stride % 8 or base + stride * m > len(buf):
        return None
    runs, stamp = [], None
    for kind, offset, value in log:
        at = base + offset - start
        if kind == "u32":
            counts = np.ndarray((m,), dtype="<u4", buffer=buf, offset=at, strides=(stride,))
            if not (counts == value).all():
                return None
        elif kind == "f8":
            runs.append(np.ndarray((m, value), dtype="<f8", buffer=buf, offset=at, strides=(stride, 8)))
        else:
            stamp = at
    if stamp is None or len(runs) != 1:
        return None  # no numbers, or more runs than one: point by point
    sec = np.ndarray((m,), dtype="<i4", buffer=buf, offset=stamp, strides=(stride,)).astype(np.int64)
    nsec = np.ndarray((m,), dtype="<u4", buffer=buf, offset=stamp + 4, strides=(stride,)).astype(np.int64)
    return list(runs[0]), (sec * 1_000_000_000 + nsec).tolist()


def _decode_chunk(data: bytes, topic: str, read_point, per_joint: tuple[int, ...]) -> WireChunk:
    """A chunk message's CDR bytes: header, joint names, then its points read by ``read_point``,
    each ``per_joint`` numbers per joint."""
    r = _Reader(data, topic)
    try:
        sec, nsec, frame, names = r.header()
        rows, steps = _points(r, read_point, len(names))
    except struct.error as exc:
        raise ValueError(f"{topic}: truncated message ({exc})") from exc
    values = np.array(rows, dtype=float).reshape(len(steps), len(names), *per_joint)
    return WireChunk(sec, nsec, frame, names, steps, values)


def decode_wrist_chunk(data: bytes) -> WireChunk:
    """A MultiDOFJointTrajectory's CDR bytes; every point must carry one transform per joint
    (ValueError naming the point otherwise, or naming what is malformed)."""
    return _decode_chunk(data, "policy/wrist_chunk", _wrist_point, (7,))


def decode_hand_chunk(data: bytes) -> WireChunk:
    """A JointTrajectory's CDR bytes; every point must carry one position per joint."""
    return _decode_chunk(data, "policy/hand_chunk", _hand_point, ())
