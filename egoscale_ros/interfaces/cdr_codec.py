"""Fast XCDR1 encoding of the Unitree IDL structs, compiled once per type into ``struct`` formats.

The Cyclone DDS Python binding (de)serialises an IDL dataclass by walking its fields one value
at a time: about 1 ms for a G1 ``LowCmd_`` and 1.5 ms for a ``LowState_`` on a desktop core, at
50-500 Hz on both sides of the interface. Unitree's structs are plain: primitives, fixed arrays,
nested structs and, at the top level only, sequences of such structs. Their CDR is then a fixed
sequence of primitives, each aligned to its size (XCDR1: at most 8) from the start of the data,
which one precompiled ``struct.Struct`` packs or unpacks in a single call. The bytes are exactly
the binding's (the unit tests compare them value for value); anything this codec does not cover
(big-endian data, XCDR2, a nested sequence) goes to the binding's own machinery.

:func:`install` puts :func:`serialize`/:func:`deserialize` on a type, where the binding's
``DataWriter.write`` and ``DataReader.take`` call them.
"""

from __future__ import annotations

import struct
import sys
import typing
from dataclasses import fields
from functools import cache, lru_cache
from typing import Any

_CODES = {"uint8": "B", "int8": "b", "uint16": "H", "int16": "h", "uint32": "I", "int32": "i",
          "uint64": "Q", "int64": "q", "float32": "f", "float64": "d", "byte": "B", "bool": "?"}
_HEADER = b"\x00\x01\x00\x00"  # XCDR1, little-endian: the only encoding compiled here
_MAX_ALIGN = 8  # XCDR1 aligns 8-byte primitives to 8


class Unsupported(TypeError):
    """The type has a shape this codec does not compile (the binding handles it)."""


def _kind(hint) -> tuple[str, Any]:
    """('prim', code) | ('array', (hint, n)) | ('seq', hint) | ('struct', cls) of a field's type hint."""
    args = typing.get_args(hint)
    if args and isinstance(args[1], str) and args[1] in _CODES:
        return "prim", _CODES[args[1]]
    name = type(args[1]).__name__ if args else ""
    if name == "array":
        return "array", (args[1].subtype, args[1].length)
    if name == "sequence" and args[1].max_length is None:
        return "seq", args[1].subtype
    if isinstance(hint, type) and hasattr(hint, "__idl__"):
        return "struct", hint
    raise Unsupported(f"field type {hint!r}")


@cache
def _fields(cls: type) -> tuple[tuple[str, str, Any], ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return tuple((f.name, *_kind(hints[f.name])) for f in fields(cls))


def _codes(hint, n: int = 1) -> list[str]:
    """The primitive codes of ``n`` values of ``hint`` in CDR order (no sequence inside)."""
    kind, what = _kind(hint) if not (isinstance(hint, type) and hasattr(hint, "__idl__")) else ("struct", hint)
    if kind == "prim":
        return [what] * n
    if kind == "array":
        return _codes(what[0], what[1]) * n
    if kind == "struct":
        one = [c for name, k, w in _fields(what) for c in _member_codes(k, w)]
        return one * n
    raise Unsupported("a sequence inside a struct, an array or a sequence")


def _member_codes(kind: str, what) -> list[str]:
    if kind == "prim":
        return [what]
    if kind == "array":
        return _codes(what[0], what[1])
    if kind == "struct":
        return _codes(what)
    raise Unsupported("a sequence inside a struct, an array or a sequence")


def _format(codes: list[str], offset: int) -> tuple[str, int]:
    """Struct format (with padding) of ``codes`` starting at ``offset``; returns (format, end offset)."""
    out = []
    for code in codes:
        size = struct.calcsize(code)
        pad = -offset % min(size, _MAX_ALIGN)
        if pad:
            out.append(f"{pad}x")
        out.append(code)
        offset += pad + size
    return "".join(out), offset


@lru_cache(maxsize=256)  # keyed by sequence lengths: bounded
def _layout(cls: type, lengths: tuple[int, ...]) -> struct.Struct:
    """The whole encoding of ``cls`` (header included) for these top-level sequence lengths."""
    codes: list[str] = []
    seq = iter(lengths)
    for _name, kind, what in _fields(cls):
        if kind == "seq":
            n = next(seq)
            codes.append("I")
            codes.extend(_codes(what, n))
        else:
            codes.extend(_member_codes(kind, what))
    fmt, _end = _format(codes, 0)
    return struct.Struct("<4s" + fmt)


def _flat_expr(hint_kind: str, what, ref: str, depth: int) -> str:
    """Source of a starred item listing the primitives of ``ref`` in CDR order."""
    if hint_kind == "prim":
        return ref
    if hint_kind == "array":
        sub_kind, sub_what = _kind_of(what[0])
        if sub_kind == "prim":
            return f"*{ref}"
        var = f"_e{depth}"
        return f"*[x for {var} in {ref} for x in ({_struct_items(sub_what, var, depth + 1)},)]"
    if hint_kind == "struct":
        return _struct_items(what, ref, depth)
    var = f"_e{depth}"  # a top-level sequence: its length, then its elements
    sub_kind, sub_what = _kind_of(what)
    if sub_kind == "prim":
        return f"len({ref}), *{ref}"
    return f"len({ref}), *[x for {var} in {ref} for x in ({_struct_items(sub_what, var, depth + 1)},)]"


def _kind_of(hint) -> tuple[str, Any]:
    return ("struct", hint) if isinstance(hint, type) and hasattr(hint, "__idl__") else _kind(hint)


def _struct_items(cls: type, ref: str, depth: int) -> str:
    return ", ".join(_flat_expr(k, w, f"{ref}.{n}", depth) for n, k, w in _fields(cls))


def _build_expr(hint_kind: str, what, depth: int) -> str:
    """Source of an expression that builds a value from the iterator ``it`` of primitives."""
    if hint_kind == "prim":
        return "nx(it)"
    if hint_kind == "struct":
        args = ", ".join(f"{n}={_build_expr(k, w, depth + 1)}" for n, k, w in _fields(what))
        return f"{_ref(what)}({args})"
    if hint_kind == "array":
        sub_kind, sub_what = _kind_of(what[0])
        if sub_kind == "prim":
            # the binding reads a uint8 array as bytes, every other one as a list
            wrap = "bytes" if typing.get_args(what[0])[1] == "uint8" else "list"
            return f"{wrap}([nx(it) for _ in range({what[1]})])"
        return f"[{_build_expr(sub_kind, sub_what, depth + 1)} for _ in range({what[1]})]"
    sub_kind, sub_what = _kind_of(what)
    return f"[{_build_expr(sub_kind, sub_what, depth + 1)} for _ in range(nx(it))]"


def _ref(cls: type) -> str:
    return f"T_{cls.__name__}"


@cache
def _compiled(cls: type):
    """(flatten(value) -> tuple, build(iterator) -> value, sequence field names) for ``cls``,
    generated once as plain Python (several times faster than walking the fields generically)."""
    sequences = [n for n, k, _w in _fields(cls) if k == "seq"]
    for _n, k, w in _fields(cls):  # refuse what this codec cannot lay out, before any use
        if k == "seq":
            _codes(w)
        else:
            _member_codes(k, w)
    namespace: dict[str, Any] = {"nx": next}
    _collect_types(cls, namespace)
    source = (f"def flatten(v):\n    return ({_struct_items(cls, 'v', 0)},)\n"
              f"def build(it):\n    return {_build_expr('struct', cls, 0)}\n"
              f"def lengths(v):\n    return ({''.join(f'len(v.{n}), ' for n in sequences)})\n")
    exec(compile(source, f"<cdr_codec {cls.__name__}>", "exec"), namespace)  # our own field names only
    return namespace["flatten"], namespace["build"], namespace["lengths"], tuple(sequences)


def _collect_types(cls: type, namespace: dict) -> None:
    namespace[_ref(cls)] = cls
    for _n, kind, what in _fields(cls):
        inner = what[0] if kind == "array" else what
        if kind in ("array", "seq", "struct") and isinstance(inner, type) and hasattr(inner, "__idl__"):
            _collect_types(inner, namespace)


def encode(value) -> bytes:
    """The XCDR1 little-endian bytes of ``value`` (header included), as the binding writes them."""
    flatten, _build, lengths, _seqs = _compiled(type(value))
    try:
        return _layout(type(value), lengths(value)).pack(_HEADER, *flatten(value))
    except struct.error as exc:  # an array of the wrong length, a value out of its type's range
        raise ValueError(f"{type(value).__name__} does not fit its IDL type: {exc}") from exc


def decode(cls: type, data: bytes):
    """A ``cls`` value from its XCDR1 little-endian bytes (header included)."""
    _flatten, build, _lengths, sequences = _compiled(cls)
    lengths = _sequence_lengths(cls, data) if sequences else ()
    values = _layout(cls, lengths).unpack_from(data)
    return build(iter(values[1:]))


def _sequence_lengths(cls: type, data: bytes) -> tuple[int, ...]:
    """Read each top-level sequence's length, stepping over the fixed parts between them."""
    lengths = []
    offset = 0
    for index, (_name, kind, _what) in enumerate(_fields(cls)):
        n = 0
        if kind == "seq":
            offset += -offset % 4
            (n,) = struct.unpack_from("<I", data, 4 + offset)
            if n > len(data):  # every element takes a byte at least
                raise ValueError(f"{cls.__name__}: sequence '{_name}' of {n} elements in {len(data)} bytes")
            lengths.append(n)
        offset += _span(cls, index, n, offset % _MAX_ALIGN)
    return tuple(lengths)


@lru_cache(maxsize=1024)
def _span(cls: type, index: int, n: int, phase: int) -> int:
    """Bytes field ``index`` of ``cls`` takes (``n`` elements if a sequence) from an offset whose
    remainder modulo 8 is ``phase``, padding included."""
    _name, kind, what = _fields(cls)[index]
    codes = ["I", *_codes(what, n)] if kind == "seq" else _member_codes(kind, what)
    _fmt, end = _format(codes, phase)
    return end - phase


def install(cls: type) -> type:
    """Class decorator: ``cls`` (an IdlStruct dataclass) serialises through this codec wherever
    the call asks for what it covers, and through the binding otherwise."""
    _compiled(cls)  # fails here, at import, for a type the codec cannot lay out
    binding_serialize = cls.serialize
    binding_deserialize = cls.deserialize.__func__

    def serialize(self, buffer=None, endianness=None, use_version_2=None):
        if buffer is None and use_version_2 is not True and endianness in (None, _little_endian()) \
                and sys.byteorder == "little":
            return encode(self)
        return binding_serialize(self, buffer=buffer, endianness=endianness, use_version_2=use_version_2)

    def deserialize(klass, data, has_header=True, use_version_2=None):
        if has_header and use_version_2 is None and isinstance(data, (bytes, bytearray, memoryview)) \
                and bytes(data[:2]) == _HEADER[:2]:
            try:
                return decode(klass, data)
            except (struct.error, StopIteration) as exc:
                raise ValueError(f"{klass.__name__}: malformed CDR ({exc})") from exc
        return binding_deserialize(klass, data, has_header=has_header, use_version_2=use_version_2)

    cls.serialize = serialize
    cls.deserialize = classmethod(deserialize)
    return cls


@cache
def _little_endian():  # the binding's enum member, imported only when a value is written
    from cyclonedds.idl._support import Endianness

    return Endianness.Little
