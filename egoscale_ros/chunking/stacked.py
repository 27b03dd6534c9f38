"""The buffered chunks' tables stacked into one array, kept in step with the buffer.

The temporal ensemble reads every buffered chunk at every tick — about as many as the policy
sends per horizon (30 at 30 chunks/s and a 1 s horizon). Read one by one, that is a Python loop
per tick whose cost grows with the chunks; stacked, a tick reads all of them with a fixed number
of vectorised calls. Each chunk's quaternion table (:mod:`egoscale_ros.chunking.step_tables`) is
copied into a slot once, when it first appears in the buffer; a chunk that leaves the buffer
frees its slot. A tick compares the buffer with what was stacked by identity (no copy when
nothing changed) and reads only the chunks that cover ``t``: a chunk that has ended, or has left
the buffer, is never read.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np

from egoscale_ros.chunking.execution import BufferedChunk
from egoscale_ros.chunking.interpolation import quaternion_readings
from egoscale_ros.chunking.stack import Layout
from egoscale_ros.chunking.step_tables import QuatColumns


class StackedChunks:
    """The quaternion tables of a buffer's chunks, one slot each; see the module's docstring."""

    def __init__(self) -> None:
        self._entries: tuple[BufferedChunk, ...] = ()
        self._slot_of: dict[int, int] = {}  # id(entry) -> slot, for the entries in _entries only
        self._free: list[int] = []
        self._table = np.zeros((0, 0, 0))  # (slots, steps, columns)
        self._slot_meta = np.zeros((0, 3))  # per slot: stamp, dt, end time
        self._slot_last = np.zeros(0, dtype=np.intp)  # per slot: last step
        self.layout: Layout | None = None
        self._columns: QuatColumns | None = None
        # In buffer order (oldest first), refreshed when the buffer changes:
        self._slots = np.zeros(0, dtype=np.intp)
        self._meta = np.zeros((0, 3))
        self._last = np.zeros(0, dtype=np.intp)
        self._low = np.zeros(0)  # first due time − 1e-9: covered from here
        self._high = np.zeros(0)  # last due time + 1e-9: covered up to here
        self._all_from, self._all_until = math.inf, -math.inf

    def sync(self, buffer: Sequence[BufferedChunk]) -> bool:
        """Take the buffer's chunks (oldest first); False when they do not share one layout (then
        nothing is stacked and the caller reads them one by one)."""
        entries, old = tuple(buffer), self._entries
        if len(entries) == len(old) and all(map(operator.is_, entries, old)):
            return self.layout is not None or not entries
        # The usual change: the oldest chunks left, new ones came after the rest.
        kept = self._slot_of.get(id(entries[0]), None) if entries else None
        if kept is not None:
            start = next(i for i, e in enumerate(old) if e is entries[0])
            count = len(old) - start
            if (count <= len(entries) and all(map(operator.is_, entries[:count], old[start:]))
                    and all(e.chunk.layout() is self.layout for e in entries[count:])):
                for entry in old[:start]:
                    self._free.append(self._slot_of.pop(id(entry)))
                added = [self._put(e) for e in entries[count:]]
                self._slot_of.update(zip(map(id, entries[count:]), added))
                self._entries = entries
                self._refresh(np.concatenate([self._slots[start:], np.array(added, dtype=np.intp)]))
                return True
        return self._rebuild(entries)

    def read(self, t: float, newest: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """The stacked chunks that cover ``t`` (the ``newest`` such when given), read at ``t``:
        wrist rotations as unit quaternions (M, W, 4) and linear parts (M, D), oldest first;
        None when none covers ``t``. A reading within rounding of a step is that step to rounding."""
        if self._all_from <= t <= self._all_until:  # the usual tick: ended chunks were expired
            slots, meta = self._slots, self._meta
            if newest is not None and newest < len(slots):
                slots, meta = slots[-newest:], meta[-newest:]
        else:
            covering = ((self._low <= t) & (self._high >= t)).nonzero()[0]
            if not len(covering):
                return None
            if newest is not None:
                covering = covering[-newest:]
            slots, meta = self._slots[covering], self._meta[covering]
        u = (t - meta[:, 0]) / meta[:, 1]  # steps since each stamp, >= −1e-9/dt where covered
        np.maximum(u, 0.0, out=u)
        k = u.astype(np.intp)  # <= the last step where covered, whose row has no change to a next
        return quaternion_readings(self._table[slots, k], u - k, self._columns, len(self.layout[0]))

    def _rebuild(self, entries: tuple[BufferedChunk, ...]) -> bool:
        layout = entries[0].chunk.layout() if entries else self.layout
        if any(e.chunk.layout() is not layout for e in entries):  # layouts are interned by make_chunk
            self.clear()
            return False
        if layout is not self.layout:
            self.clear()
            self.layout = layout
        slot_of: dict[int, int] = {}
        for entry in entries:
            slot = self._slot_of.pop(id(entry), None)
            slot_of[id(entry)] = self._put(entry) if slot is None else slot
        self._free.extend(self._slot_of.values())  # the entries that left the buffer
        self._slot_of, self._entries = slot_of, entries
        self._refresh(np.array([slot_of[id(e)] for e in entries], dtype=np.intp))
        return True

    def _refresh(self, slots: np.ndarray) -> None:
        """The per-chunk figures in buffer order, for the chunks in ``slots``."""
        self._slots = slots
        self._meta = self._slot_meta[slots]
        self._last = self._slot_last[slots]
        self._low = self._meta[:, 0] - 1e-9
        self._high = self._meta[:, 2] + 1e-9
        # Every chunk covers t in [latest first due time, earliest last due time] (± 1e-9).
        self._all_from = float(self._low.max()) if len(slots) else math.inf
        self._all_until = float(self._high.min()) if len(slots) else -math.inf

    @property
    def capacity(self) -> int:
        """Slots allocated: about the most chunks the buffer held at once, not how many passed through."""
        return len(self._table)

    def clear(self) -> None:
        """Forget every chunk (the slots' storage is kept for the next ones)."""
        self._entries, self._slot_of, self.layout = (), {}, None
        self._free = list(range(len(self._table)))
        self._slots = np.zeros(0, dtype=np.intp)
        self._meta = np.zeros((0, 3))
        self._last = np.zeros(0, dtype=np.intp)
        self._low = self._high = np.zeros(0)
        self._all_from, self._all_until = math.inf, -math.inf

    def _put(self, entry: BufferedChunk) -> int:
        chunk = entry.chunk
        table = chunk.tables.quat
        self._columns = chunk.tables.columns
        if not self._free or table.shape[0] > self._table.shape[1] or table.shape[1] != self._table.shape[2]:
            self._grow(table.shape)
        slot = self._free.pop()
        self._table[slot, : table.shape[0]] = table
        self._slot_meta[slot] = (chunk.stamp, chunk.dt, chunk.end_time)
        self._slot_last[slot] = chunk.horizon - 1
        return slot

    def _grow(self, shape: tuple[int, ...]) -> None:
        """Room for twice the slots (at least 8), for ``shape`` tables (steps, columns)."""
        slots, steps, columns = self._table.shape
        if columns != shape[1]:  # a new layout: nothing kept is of use
            slots, steps = 0, 0
            self._free = []
        new_slots = max(8, 2 * slots) if not self._free else slots
        table = np.zeros((new_slots, max(steps, shape[0]), shape[1]))
        meta = np.zeros((new_slots, 3))
        last = np.zeros(new_slots, dtype=np.intp)
        if slots:
            table[:slots, :steps] = self._table
            meta[:slots] = self._slot_meta
            last[:slots] = self._slot_last
        self._free.extend(range(new_slots - 1, slots - 1, -1))
        self._table, self._slot_meta, self._slot_last = table, meta, last
