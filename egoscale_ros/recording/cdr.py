"""CDR encoding of the one message the recorder makes itself: ``sensor_msgs/CompressedImage``.

``rclpy.serialization.serialize_message`` returns its whole buffer, which can end in bytes past
the message (strict readers such as rosbags then refuse it), so the recorder encodes the JPEG
frames it makes with exact lengths here: little-endian CDR, alignment counted from after the
4-byte encapsulation header, as DDS puts them on the wire.
"""

from __future__ import annotations

import struct

ENCAPSULATION_CDR_LE = b"\x00\x01\x00\x00"


class _CdrBuffer:
    def __init__(self) -> None:
        self.body = bytearray()

    def _align(self, n: int) -> None:
        self.body += b"\x00" * (-len(self.body) % n)

    def int32(self, v: int) -> None:
        self._align(4)
        self.body += struct.pack("<i", v)

    def uint32(self, v: int) -> None:
        self._align(4)
        self.body += struct.pack("<I", v)

    def string(self, s: str) -> None:
        data = s.encode() + b"\x00"
        self.uint32(len(data))
        self.body += data

    def octets(self, data: bytes) -> None:
        self.uint32(len(data))
        self.body += data

    def bytes(self) -> bytes:
        return ENCAPSULATION_CDR_LE + bytes(self.body)


def compressed_image(sec: int, nanosec: int, frame_id: str, fmt: str, data: bytes) -> bytes:
    """Serialized ``sensor_msgs/msg/CompressedImage`` (header, format, data)."""
    buf = _CdrBuffer()
    buf.int32(sec)
    buf.uint32(nanosec)
    buf.string(frame_id)
    buf.string(fmt)
    buf.octets(data)
    return buf.bytes()
