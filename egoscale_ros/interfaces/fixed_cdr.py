"""Pack an IDL struct instance in its C memory layout, as Unitree computes CRCs over it.

Unitree's CRC runs over the C struct of a message (natural alignment, padding included), not
over its CDR encoding. This module derives that layout from the IDL dataclass itself: each
primitive aligned to its size, a struct to its widest member and padded to a multiple of it,
fixed arrays inline. The layout is computed once per type and packed with one ``struct`` call.
Sequences have no fixed C layout and are refused (Unitree's CRC-carrying messages have none).
"""

from __future__ import annotations

import struct
import typing
from dataclasses import fields
from functools import cache

# IDL primitive name -> struct format code
_CODES = {"uint8": "B", "int8": "b", "uint16": "H", "int16": "h", "uint32": "I", "int32": "i",
          "uint64": "Q", "int64": "q", "float32": "f", "float64": "d", "char": "c", "byte": "B"}


def _idl_of(hint) -> tuple[str, object]:
    """('prim', code) | ('array', (subhint, n)) | ('struct', cls) for one field's type hint."""
    args = typing.get_args(hint)
    if args and isinstance(args[1], str) and args[1] in _CODES:
        return "prim", _CODES[args[1]]
    if args and type(args[1]).__name__ == "array":
        return "array", (args[1].subtype, args[1].length)
    if args and type(args[1]).__name__ == "sequence":
        raise TypeError("a sequence has no fixed C layout")
    if isinstance(hint, type):
        return "struct", hint
    raise TypeError(f"unsupported IDL field type {hint!r}")


def _align(offset: int, alignment: int) -> int:
    return -offset % alignment


@cache
def _layout(cls: type) -> tuple[list[tuple[str, str, object]], str, int]:
    """(fields walk plan, struct format without leading '<', alignment) of an IDL struct."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fmt, align = [], 1
    offset = 0

    def add(code: str) -> None:
        nonlocal offset, align
        size = struct.calcsize("<" + code)
        pad = _align(offset, size)
        if pad:
            fmt.append(f"{pad}x")
        fmt.append(code)
        offset += pad + size
        align = max(align, size)

    def add_struct(sub: type) -> None:
        nonlocal offset, align
        sub_fmt, sub_align = _layout(sub)[1], _layout(sub)[2]
        pad = _align(offset, sub_align)
        if pad:
            fmt.append(f"{pad}x")
        fmt.append(sub_fmt)
        offset += pad + struct.calcsize("<" + sub_fmt)
        align = max(align, sub_align)

    plan = []
    for f in fields(cls):
        kind, what = _idl_of(hints[f.name])
        plan.append((f.name, kind, what))
        if kind == "prim":
            add(what)
        elif kind == "struct":
            add_struct(what)
        else:
            sub, n = what
            skind, swhat = _idl_of(sub)
            for _ in range(n):
                if skind == "prim":
                    add(swhat)
                elif skind == "struct":
                    add_struct(swhat)
                else:
                    raise TypeError("nested arrays are not supported")
    tail = _align(offset, align)
    if tail:
        fmt.append(f"{tail}x")
    return plan, "".join(fmt), align


def _expr(cls: type, var: str, depth: int = 0) -> str:
    """Source of a tuple display listing every primitive of ``var`` (a ``cls``) in layout order."""
    items = []
    for name, kind, what in _layout(cls)[0]:
        ref = f"{var}.{name}"
        if kind == "prim":
            items.append(ref)
        elif kind == "struct":
            items.append(f"*{_expr(what, ref, depth + 1)}")
        else:
            sub, _n = what
            skind, swhat = _idl_of(sub)
            if skind == "prim":
                items.append(f"*{ref}")
            else:
                item = f"_i{depth}"
                items.append(f"*[x for {item} in {ref} for x in {_expr(swhat, item, depth + 1)}]")
    return "(" + ", ".join(items) + ",)"


@cache
def _flattener(cls: type):
    """A function value -> flat tuple of primitives, generated once per type (a plain Python
    expression runs several times faster than walking the fields generically)."""
    namespace: dict = {}
    exec(f"def flatten(v):\n    return {_expr(cls, 'v')}\n", namespace)  # our own field names only
    return namespace["flatten"]


def c_size(cls: type) -> int:
    """Size in bytes of the C struct of ``cls``."""
    return struct.calcsize("<" + _layout(cls)[1])


@cache
def _packer(cls: type) -> struct.Struct:
    return struct.Struct("<" + _layout(cls)[1])


def pack(value) -> bytes:
    """The C-layout bytes of an IDL struct instance (little-endian, as on Unitree's computers)."""
    cls = type(value)
    try:
        return _packer(cls).pack(*_flattener(cls)(value))
    except struct.error as exc:  # an array of the wrong length, a value out of its type's range
        raise ValueError(f"{cls.__name__} does not fit its C layout: {exc}") from exc
