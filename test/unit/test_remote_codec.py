"""Wire codecs: checked against the published formats byte for byte, against numpy's own .npy
reader/writer, and against openpi-client's packer/unpacker (the reference implementation)."""

from __future__ import annotations

import io
import struct

import msgpack
import numpy as np
import pytest

from egoscale_ros.remote.codec import CodecError, gr00t_packb, gr00t_unpackb, openpi_packb, openpi_unpackb


def _npy_v1(arr: np.ndarray) -> bytes:
    """The .npy v1.0 layout written out from its specification: magic, version, header length,
    a Python-literal header padded with spaces to a multiple of 64 bytes, ending in a newline."""
    header = f"{{'descr': '{arr.dtype.str}', 'fortran_order': False, 'shape': {tuple(arr.shape)}, }}"
    total = 10 + len(header) + 1
    header += " " * (-total % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + arr.tobytes()


def test_gr00t_array_is_a_map_of_the_flag_and_npy_bytes_golden():
    arr = np.array([[1.5, -2.0]], dtype="<f4")
    packed = gr00t_packb({"a": arr})
    npy = _npy_v1(arr)
    golden = (b"\x81\xa1a" + b"\x82" + b"\xb1__ndarray_class__\xc3" + b"\xa6as_npy" + b"\xc4" + bytes([len(npy)]) + npy)
    assert packed == golden
    assert np.array_equal(gr00t_unpackb(golden)["a"], arr)


def test_gr00t_payload_is_what_numpy_save_writes_and_np_load_reads():
    arr = np.arange(24, dtype=np.uint8).reshape(1, 1, 2, 4, 3)
    payload = msgpack.unpackb(gr00t_packb(arr))["as_npy"]
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    assert payload == buf.getvalue()
    assert np.array_equal(np.load(io.BytesIO(payload), allow_pickle=False), arr)


def test_gr00t_nested_request_round_trips_with_strings_and_lists():
    req = {"endpoint": "get_action", "data": {"observation": {
        "video": {"ego": np.zeros((1, 1, 4, 4, 3), np.uint8)}, "state": {"s": np.ones((1, 1, 3), np.float32)},
        "language": {"task": [["pick"]]}}, "options": None}, "api_token": "t"}
    back = gr00t_unpackb(gr00t_packb(req))
    assert back["data"]["observation"]["language"] == {"task": [["pick"]]}
    assert back["data"]["observation"]["state"]["s"].dtype == np.float32
    assert back["data"]["observation"]["video"]["ego"].shape == (1, 1, 4, 4, 3)
    assert back["api_token"] == "t"


def test_gr00t_modality_config_decodes_to_its_json():
    msg = msgpack.packb({"action": {"__ModalityConfig_class__": True, "as_json": {"delta_indices": [0, 1]}}})
    assert gr00t_unpackb(msg) == {"action": {"delta_indices": [0, 1]}}


def test_gr00t_refuses_pickled_object_arrays_both_ways():
    with pytest.raises(CodecError):
        gr00t_packb(np.array([object()], dtype=object))
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CodecError, match="npy"):
        gr00t_unpackb(msgpack.packb({"__ndarray_class__": True, "as_npy": buf.getvalue()}))


def test_openpi_array_golden_bytes():
    arr = np.array([1, 2], dtype="<i2")
    golden = (b"\x84" + b"\xc4\x0b__ndarray__\xc3" + b"\xc4\x04data\xc4\x04\x01\x00\x02\x00"
              + b"\xc4\x05dtype\xa3<i2" + b"\xc4\x05shape\x91\x02")
    assert openpi_packb(arr) == golden
    assert np.array_equal(openpi_unpackb(golden), arr)


def test_openpi_header_lies_are_refused():
    bad = msgpack.packb({b"__ndarray__": True, b"data": b"\x00" * 3, b"dtype": "<f4", b"shape": [1]})
    with pytest.raises(CodecError, match="bytes"):
        openpi_unpackb(bad)
    with pytest.raises(CodecError):
        openpi_unpackb(b"\xc1")  # never-used msgpack byte


openpi_msgpack = pytest.importorskip("openpi_client.msgpack_numpy",
                                     reason="openpi-client (the reference codec) is not installed")


@pytest.mark.parametrize("value", [
    np.arange(12, dtype=np.float32).reshape(3, 4),
    np.zeros((2, 8, 8, 3), np.uint8),
    np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
    np.float32(2.5),
])
def test_openpi_matches_the_reference_packer_both_ways(value):
    message = {"observation/state": value, "prompt": "pick", "nested": {"x": value}}
    ours = openpi_packb(message)
    theirs = openpi_msgpack.packb(message)
    decoded_by_them = openpi_msgpack.unpackb(ours)
    decoded_by_us = openpi_unpackb(theirs)
    for got in (decoded_by_them, decoded_by_us):
        assert got["prompt"] == "pick"
        assert np.array_equal(got["observation/state"], value)
        assert np.asarray(got["nested"]["x"]).dtype == np.asarray(value).dtype
    assert ours == theirs  # byte for byte (a Fortran-order array travels as C-order bytes in both)
