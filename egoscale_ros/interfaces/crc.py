"""The CRC Unitree puts in the last word of every LowCmd / LowState.

CRC-32 with polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no reflection and no final XOR
(the parameters known as CRC-32/MPEG-2), fed most significant bit first one little-endian 32-bit
word at a time, over the message packed in its C layout without the trailing crc word.

Feeding a word MSB first equals feeding its four bytes in big-endian order, so the words are
byte-swapped and run through a byte-wise CRC. That byte-wise CRC is computed with ``zlib.crc32``
(the reflected CRC-32): reversing the bits of every input byte and of the result turns the
reflected CRC into the unreflected one, and the two XOR constants cancel into MPEG-2's settings.
Everything runs in C: a 1 kB LowCmd costs microseconds, not the milliseconds of a Python loop.
"""

from __future__ import annotations

import zlib
from array import array

# bit-reversal of every byte value
_REVERSE_BITS = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def _reverse32(x: int) -> int:
    return int(f"{x:032b}"[::-1], 2)


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 of ``data`` read byte by byte (check value: 0x0376E6E7 for b"123456789")."""
    reflected = zlib.crc32(data.translate(_REVERSE_BITS))
    return _reverse32(reflected) ^ 0xFFFFFFFF


def unitree_crc(packed: bytes) -> int:
    """Unitree's CRC of a packed message *without* its trailing crc word (length a multiple of 4)."""
    if len(packed) % 4:
        raise ValueError(f"packed message of {len(packed)} bytes is not whole 32-bit words")
    words = array("I")
    words.frombytes(packed)
    words.byteswap()  # reverses the bytes of every word, whatever the host's byte order
    return crc32_mpeg2(words.tobytes())
