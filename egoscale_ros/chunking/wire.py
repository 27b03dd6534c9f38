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

    def u32(self) -> int:
        self.o += -self.o % 4
        (v,) = _U32.unpack_from(self.buf, self.o)
        self.o += 4
        return v

    def time(self) -> tuple[int, int]:
        self.o += -self.o % 4
        sec, nsec = _TIME.unpack_from(self.buf, self.o)
        self.o += 8
        return sec, nsec

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
        self.o += -self.o % 8
        if self.o + 8 * n > len(self.buf):
            raise ValueError(f"{self.what}: sequence of {n} longer than the message")
        out = np.frombuffer(self.buf, dtype="<f8", count=n, offset=self.o)
        self.o += 8 * n
        return out

    def header(self) -> tuple[int, int, str, list[str]]:
        sec, nsec = self.time()
        frame = self.string()
        names = [self.string() for _ in range(self.count(4))]
        return sec, nsec, frame, names

    def duration_ns(self) -> int:
        sec, nsec = self.time()
        return sec * 1_000_000_000 + nsec


def decode_wrist_chunk(data: bytes) -> WireChunk:
    """A MultiDOFJointTrajectory's CDR bytes; every point must carry one transform per joint
    (ValueError naming the point otherwise, or naming what is malformed)."""
    r = _Reader(data, "policy/wrist_chunk")
    try:
        sec, nsec, frame, names = r.header()
        rows, steps = [], []
        for k in range(r.count(4)):
            n = r.count(56)
            if n != len(names):
                raise ValueError(f"point {k} carries {n} transforms for {len(names)} joints")
            if n:
                r.o += -r.o % 8
                rows.append(np.frombuffer(r.buf, dtype="<f8", count=7 * n, offset=r.o))
                r.o += 56 * n
            for _twists in range(2):  # velocities, accelerations: 6 doubles each, not used
                m = r.count(48)
                if m:
                    r.o += -r.o % 8 + 48 * m
            steps.append(r.duration_ns())
    except struct.error as exc:
        raise ValueError(f"policy/wrist_chunk: truncated message ({exc})") from exc
    values = np.array(rows, dtype=float).reshape(len(steps), len(names), 7)
    return WireChunk(sec, nsec, frame, names, steps, values)


def decode_hand_chunk(data: bytes) -> WireChunk:
    """A JointTrajectory's CDR bytes; every point must carry one position per joint."""
    r = _Reader(data, "policy/hand_chunk")
    try:
        sec, nsec, frame, names = r.header()
        rows, steps = [], []
        for k in range(r.count(4)):
            positions = r.doubles()
            if len(positions) != len(names):
                raise ValueError(f"point {k} carries {len(positions)} positions for {len(names)} joints")
            rows.append(positions)
            for _unused in range(3):  # velocities, accelerations, effort
                r.doubles()
            steps.append(r.duration_ns())
    except struct.error as exc:
        raise ValueError(f"policy/hand_chunk: truncated message ({exc})") from exc
    values = np.array(rows, dtype=float).reshape(len(steps), len(names))
    return WireChunk(sec, nsec, frame, names, steps, values)
