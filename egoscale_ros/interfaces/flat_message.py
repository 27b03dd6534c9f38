"""A native message kept as its flat list of primitives, for a stream where few of them change.

A mock robot publishes the same state message 100 times a second with only the joint positions,
the tick and the CRC new. Building it as IDL objects (35 motor states, an IMU state...) and then
walking those objects twice — once into the C layout for the CRC, once into CDR for the wire —
costs far more than the numbers that changed. Here the message is flattened once into the
primitives both codecs already lay out in the same order (``cdr_codec`` for the wire,
``fixed_cdr`` for the C layout), the changing ones are found by their field path, and each
message is one ``struct`` pack per layout. The bytes are the objects' bytes (the unit tests
compare them).
"""

from __future__ import annotations

import copy
from typing import Any

from egoscale_ros.interfaces import cdr_codec, fixed_cdr
from egoscale_ros.interfaces.crc import unitree_crc

_PROBE = 1.2345678e-30  # a value no default field holds (exact as float32 and float64 after packing)


class FlatMessage:
    """``value`` (an IDL struct instance) as primitives; set slots, then take its bytes.

    Sequence lengths are fixed at those of ``value``. :meth:`c_layout` needs a type without
    sequences (the layout Unitree's CRC runs over).
    """

    def __init__(self, value: Any):
        self.type = type(value)
        self._value = copy.deepcopy(value)
        flatten, _build, lengths, sequences = cdr_codec._compiled(self.type)
        self._flatten = flatten
        self.values = list(flatten(value))
        self._cdr = cdr_codec._layout(self.type, lengths(value))
        self._c = None if sequences else fixed_cdr._packer(self.type)

    def slot(self, *path: str | int) -> int:
        """Index in :attr:`values` of the primitive at ``path`` (field names, array indices),
        e.g. ``slot("motor_state", 15, "q")``."""
        probe = copy.deepcopy(self._value)
        owner: Any = probe
        for step in path[:-1]:
            owner = owner[step] if isinstance(step, int) else getattr(owner, step)
        last = path[-1]
        if isinstance(last, int):
            owner[last] = _PROBE
        else:
            setattr(owner, last, _PROBE)
        try:
            flat = self._flatten(probe)
        except (AttributeError, TypeError) as exc:  # the path named a struct or an array
            raise KeyError(f"{self.type.__name__}: {path} is not one primitive field") from exc
        hits = [i for i, (a, b) in enumerate(zip(flat, self.values)) if a == _PROBE and b != _PROBE]
        if len(hits) != 1:
            raise KeyError(f"{self.type.__name__}: {path} is not one primitive field")
        return hits[0]

    def load(self, data: bytes) -> None:
        """Take :attr:`values` from a message's wire bytes (the layout's own sequence lengths);
        ValueError when the bytes are not such a message."""
        if len(data) < self._cdr.size or bytes(data[:2]) != cdr_codec._HEADER[:2]:
            raise ValueError(f"{self.type.__name__}: {len(data)} bytes are not its little-endian CDR "
                             f"({self._cdr.size} bytes)")
        self.values = list(self._cdr.unpack_from(data)[1:])

    def cdr(self) -> bytes:
        """The wire bytes (XCDR1 little-endian, header included), as the binding writes them."""
        return self._cdr.pack(cdr_codec._HEADER, *self.values)

    def c_layout(self) -> bytes:
        """The C-layout bytes (what Unitree's CRC covers, with the trailing crc word)."""
        if self._c is None:
            raise TypeError(f"{self.type.__name__} has sequences: no fixed C layout")
        return self._c.pack(*self.values)

    def set_crc(self, slot: int, corrupt: bool = False) -> int:
        """Compute Unitree's CRC over the C layout (without its crc word) into ``slot``."""
        crc = unitree_crc(self.c_layout()[:-4])
        if corrupt:
            crc ^= 0x1
        self.values[slot] = crc
        return crc
