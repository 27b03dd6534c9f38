"""Wire encodings of the two policy-server protocols: msgpack with numpy arrays.

- GR00T (Isaac-GR00T's ZeroMQ policy server): an array travels as the map
  ``{"__ndarray_class__": True, "as_npy": <the bytes numpy's np.save writes>}`` (the .npy format
  carries dtype, shape and order itself); a modality config as
  ``{"__ModalityConfig_class__": True, "as_json": {...}}``, which we read as a plain dict.
- openpi (its websocket server and the ``openpi-client`` package): an array travels as
  ``{b"__ndarray__": True, b"data": raw C-order bytes, b"dtype": dtype.str, b"shape": [...]}``
  and a numpy scalar as ``{b"__npgeneric__": True, b"data": value, b"dtype": dtype.str}`` -
  with *bytes* keys. Object, void and complex arrays are refused (no pickle on either side).

Decoding never unpickles: ``np.load(allow_pickle=False)`` for .npy payloads, and the openpi
form is checked (dtype, shape, byte count) before a view is made. A malformed payload raises
:class:`CodecError` naming what is wrong.
"""

from __future__ import annotations

import io
from typing import Any

import msgpack
import numpy as np

GR00T_ARRAY = "__ndarray_class__"
GR00T_MODALITY = "__ModalityConfig_class__"
OPENPI_ARRAY = b"__ndarray__"
OPENPI_SCALAR = b"__npgeneric__"
_REFUSED_KINDS = ("V", "O", "c")


class CodecError(ValueError):
    """A message that does not decode (bad msgpack, a malformed array)."""


def _check_kind(obj: np.ndarray | np.generic) -> None:
    if obj.dtype.kind in _REFUSED_KINDS:
        raise CodecError(f"arrays of dtype {obj.dtype} cannot be sent (object, void and complex are refused)")


# --------------------------------------------------------------------------------------- GR00T


def _gr00t_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        _check_kind(obj)
        buf = io.BytesIO()
        np.save(buf, obj, allow_pickle=False)
        return {GR00T_ARRAY: True, "as_npy": buf.getvalue()}
    if isinstance(obj, np.generic):  # scalars travel as plain msgpack values
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__} for a GR00T server")


def _gr00t_hook(obj: dict) -> Any:
    if GR00T_ARRAY in obj:
        payload = obj.get("as_npy")
        if not isinstance(payload, (bytes, bytearray)):
            raise CodecError("GR00T array without an 'as_npy' byte payload")
        try:
            return np.load(io.BytesIO(payload), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise CodecError(f"GR00T array payload is not a valid .npy: {exc}") from exc
    if GR00T_MODALITY in obj:
        return dict(obj.get("as_json") or {})
    return obj


# --------------------------------------------------------------------------------------- openpi


def _openpi_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        _check_kind(obj)
        return {OPENPI_ARRAY: True, b"data": np.ascontiguousarray(obj).tobytes(), b"dtype": obj.dtype.str,
                b"shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        _check_kind(obj)
        return {OPENPI_SCALAR: True, b"data": obj.item(), b"dtype": obj.dtype.str}
    raise TypeError(f"cannot encode {type(obj).__name__} for an openpi server")


def _openpi_hook(obj: dict) -> Any:
    if OPENPI_ARRAY in obj:
        try:
            dtype = np.dtype(obj[b"dtype"])
            shape = tuple(int(d) for d in obj[b"shape"])
            data = obj[b"data"]
        except (KeyError, TypeError, ValueError) as exc:
            raise CodecError(f"openpi array with a bad header: {exc}") from exc
        if dtype.kind in _REFUSED_KINDS:
            raise CodecError(f"openpi array of dtype {dtype} refused")
        if any(d < 0 for d in shape) or len(data) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise CodecError(f"openpi array: {len(data)} bytes do not make shape {shape} of {dtype}")
        return np.frombuffer(data, dtype=dtype).reshape(shape)
    if OPENPI_SCALAR in obj:
        try:
            dtype = np.dtype(obj[b"dtype"])
            if dtype.kind in _REFUSED_KINDS:
                raise CodecError(f"openpi scalar of dtype {dtype} refused")
            return dtype.type(obj[b"data"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CodecError(f"openpi scalar with a bad header: {exc}") from exc
    return obj


def _codec(name: str, default, hook):
    """(packb, unpackb) of one protocol: msgpack with that protocol's array encoding."""

    def packb(obj: Any) -> bytes:
        return msgpack.packb(obj, default=default, use_bin_type=True)

    def unpackb(data: bytes) -> Any:
        try:
            return msgpack.unpackb(data, object_hook=hook, raw=False, strict_map_key=False)
        except CodecError:
            raise
        except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError, TypeError) as exc:
            raise CodecError(f"not a {name} msgpack message: {exc}") from exc

    packb.__doc__ = f"Encode a request or reply for the {name} protocol."
    unpackb.__doc__ = (f"Decode a {name} message (arrays back to numpy; openpi's array headers use bytes "
                       "keys, string keys stay strings; GR00T modality configs become dicts).")
    return packb, unpackb


gr00t_packb, gr00t_unpackb = _codec("GR00T", _gr00t_default, _gr00t_hook)
openpi_packb, openpi_unpackb = _codec("openpi", _openpi_default, _openpi_hook)


PACKERS = {"gr00t": (gr00t_packb, gr00t_unpackb), "openpi": (openpi_packb, openpi_unpackb)}
