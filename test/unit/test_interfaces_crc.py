"""Unitree's CRC, checked against answers computed independently of the code under test."""

from __future__ import annotations

import random
import struct

import pytest

from egoscale_ros.interfaces.crc import crc32_mpeg2, unitree_crc


def reference_crc_of_words(words: list[int]) -> int:
    """The algorithm as Unitree describes it, bit by bit: one 32-bit word at a time, MSB first,
    polynomial 0x04C11DB7, initial 0xFFFFFFFF, no reflection, no final XOR."""
    crc = 0xFFFFFFFF
    for word in words:
        for bit in range(31, -1, -1):
            top = (crc >> 31) & 1
            crc = (crc << 1) & 0xFFFFFFFF
            if top ^ ((word >> bit) & 1):
                crc ^= 0x04C11DB7
    return crc


def reference_crc_of_bytes(data: bytes) -> int:
    """The same CRC fed byte-wise, MSB first (the textbook CRC-32/MPEG-2)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def test_the_published_check_value_of_crc32_mpeg2():
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7


@pytest.mark.parametrize("length", [0, 1, 7, 64, 1000])
def test_byte_wise_crc_matches_the_bit_serial_reference(length):
    data = random.Random(length).randbytes(length)
    assert crc32_mpeg2(data) == reference_crc_of_bytes(data)


@pytest.mark.parametrize("n_words", [1, 2, 250, 251])
def test_unitree_crc_feeds_little_endian_words_most_significant_bit_first(n_words):
    rng = random.Random(n_words)
    words = [rng.getrandbits(32) for _ in range(n_words)]
    packed = struct.pack(f"<{n_words}I", *words)
    assert unitree_crc(packed) == reference_crc_of_words(words)


def test_a_single_flipped_bit_changes_the_crc():
    packed = bytearray(random.Random(3).randbytes(1000))
    before = unitree_crc(bytes(packed))
    packed[517] ^= 0x10
    assert unitree_crc(bytes(packed)) != before


def test_a_message_that_is_not_whole_words_is_refused():
    with pytest.raises(ValueError, match="not whole 32-bit words"):
        unitree_crc(b"\x00" * 6)
