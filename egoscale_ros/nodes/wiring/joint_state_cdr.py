"""sensor_msgs/JointState as CDR bytes, for the streams whose joint names never change.

A controller output or the assembled ``joint_states`` carries the same names in every message;
only the stamp and the numbers move. Handing rclpy a message object makes it convert every
name string and number into C and serialise them again, 50 to 150 times a second per process.
Here the bytes are laid out once per name list (ROS 2's CDR: XCDR1, little-endian, each
primitive aligned to its size from the end of the 4-byte encapsulation header) and each message
only writes its stamp and doubles into them; ``Publisher.publish`` sends ``bytes`` as they are
(rclpy since Foxy). :class:`JointStateReader` reads such a message back on a raw subscription
when its names are the expected ones, and says so when they are not (the caller then decodes the
whole message). No rclpy import: the unit tests compare the bytes with rclpy's own serialisation.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_HEADER = b"\x00\x01\x00\x00"  # CDR, little-endian
_LITTLE_ENDIAN_CDR = (b"\x00\x01", b"\x00\x03")  # CDR_LE, PL_CDR_LE
_U32 = struct.Struct("<I")
_STAMP = struct.Struct("<iI")


def _string(text: str, offset: int) -> bytes:
    """A CDR string at ``offset`` (from the data start): padding to 4, length with the NUL, bytes, NUL."""
    raw = text.encode("utf-8") + b"\x00"
    return b"\x00" * (-offset % 4) + _U32.pack(len(raw)) + raw


def _names_block(names: Sequence[str], offset: int) -> bytes:
    """The ``name`` sequence at ``offset`` (a multiple of 4): count, then each string."""
    out = bytearray(_U32.pack(len(names)))
    for name in names:
        out += _string(name, offset + len(out))
    return bytes(out)


def _names_segments(names: Sequence[str]) -> list[tuple[int, bytes]]:
    """(offset, bytes) of the ``name`` sequence's content from its start, padding left out: a
    serialiser may leave padding bytes as they were, so only these are compared."""
    segments = [(0, _U32.pack(len(names)))]
    o = 4
    for name in names:
        o += -o % 4
        raw = name.encode("utf-8") + b"\x00"
        segments.append((o, _U32.pack(len(raw)) + raw))
        o += 4 + len(raw)
    return segments


class JointStateEncoder:
    """CDR bytes of JointState messages with fixed ``names`` and ``frame_id``.

    ``encode`` takes the stamp and the arrays (``velocity``/``effort`` empty or None = an empty
    sequence, else one value per name) and returns bytes equal to what rclpy serialises for the
    same message.
    """

    def __init__(self, names: Sequence[str], frame_id: str = ""):
        self.names = tuple(names)
        self._n = len(self.names)
        head = bytearray(8)  # stamp: sec, nanosec
        head += _string(frame_id, len(head))
        head += b"\x00" * (-len(head) % 4)
        head += _names_block(self.names, len(head))
        self._head = bytes(head)
        # Per (velocity present, effort present): (template, offsets of the three double runs).
        self._layouts: dict[tuple[bool, bool], tuple[bytearray, list[int]]] = {}

    def _layout(self, key: tuple[bool, bool]) -> tuple[bytearray, list[int]]:
        layout = self._layouts.get(key)
        if layout is None:
            body = bytearray(self._head)
            offsets = []
            for present in (True, *key):
                count = self._n if present else 0
                body += b"\x00" * (-len(body) % 4) + _U32.pack(count)
                if count:
                    body += b"\x00" * (-len(body) % 8)
                    offsets.append(len(body))
                    body += bytes(8 * count)
                else:
                    offsets.append(-1)
            layout = self._layouts[key] = (bytearray(_HEADER) + body, offsets)
        return layout

    def encode(self, sec: int, nanosec: int, position: np.ndarray, velocity: np.ndarray | None = None,
               effort: np.ndarray | None = None) -> bytes:
        arrays = [position, velocity, effort]
        present = [a is not None and len(a) > 0 for a in arrays]
        buf, offsets = self._layout((present[1], present[2]))
        _STAMP.pack_into(buf, 4, int(sec), int(nanosec))
        for values, there, offset in zip(arrays, present, offsets):
            if not there:
                continue
            values = np.asarray(values, dtype="<f8")
            if values.shape != (self._n,):
                raise ValueError(f"{values.shape[0] if values.ndim == 1 else values.shape} values for "
                                 f"{self._n} joint names")
            buf[4 + offset:4 + offset + 8 * self._n] = values.tobytes()
        return bytes(buf)


def stamp_parts(ns: int) -> tuple[int, int]:
    """(sec, nanosec) of a time in integer nanoseconds, as builtin_interfaces/Time holds it."""
    return ns // 1_000_000_000, ns % 1_000_000_000


@dataclass(frozen=True)
class WireJointState:
    """What :class:`JointStateReader` reads: stamp, and the numbers (empty arrays when absent)."""

    sec: int
    nanosec: int
    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray

    @property
    def stamp_s(self) -> float:
        return self.sec + self.nanosec * 1e-9


class JointStateReader:
    """Reads JointState CDR bytes whose ``name`` sequence is exactly ``names``.

    ``read`` returns None when the names differ (another order, other joints, none): the caller
    decodes the whole message then and applies its own checks. Bytes that do not hold a whole
    message raise ValueError.
    """

    def __init__(self, names: Sequence[str]):
        self.names = tuple(names)
        self._n = len(self.names)
        self._segments = _names_segments(self.names)
        self._span = self._segments[-1][0] + len(self._segments[-1][1])

    def read(self, data: bytes) -> WireJointState | None:
        if len(data) < 16 or bytes(data[:2]) not in _LITTLE_ENDIAN_CDR:
            raise ValueError("joint state: not little-endian CDR")
        buf = memoryview(data)[4:]
        sec, nanosec = _STAMP.unpack_from(buf, 0)
        (frame_len,) = _U32.unpack_from(buf, 8)
        o = 12 + frame_len
        o += -o % 4
        end = o + self._span
        if end > len(buf):
            return None
        for at, content in self._segments:
            if buf[o + at:o + at + len(content)] != content:
                return None
        arrays = []
        for _ in range(3):
            end += -end % 4
            if end + 4 > len(buf):
                raise ValueError("joint state: message ends inside its numbers")
            (count,) = _U32.unpack_from(buf, end)
            end += 4
            if count:
                end += -end % 8
                if end + 8 * count > len(buf):
                    raise ValueError("joint state: message ends inside its numbers")
                arrays.append(np.frombuffer(buf, dtype="<f8", count=count, offset=end).astype(np.float64))
                end += 8 * count
            else:
                arrays.append(np.empty(0))
        return WireJointState(sec, nanosec, *arrays)
