"""The buffered chunks' steps stacked into one array, kept in step with the buffer.

The temporal ensemble reads every buffered chunk at every tick — about as many as the policy
sends per horizon (30 at 30 chunks/s and a 1 s horizon) — and takes their weighted mean. Read
one by one, that is a Python loop per tick whose cost grows with the chunks; stacked, a tick
costs a dozen vectorised calls whatever their number.

A reading of a chunk at fraction ``s`` of its step ``k`` is a few coefficients times that step's
row of the chunk's quaternion table (:mod:`egoscale_ros.chunking.step_tables`): per wrist
``cos(sθ_k/2)·q_k + sin(sθ_k/2)·p_k``, and ``L_k + s·ΔL_k`` for the linear parts (translations,
hand joints). Each chunk's table, one row of ``9W + 2D`` numbers per step, is stored in a slot
once, when it first appears in the buffer. A tick gathers one row per chunk (the dense
``(2W + 2) × (4W + D)`` basis of a step is two-thirds zeros: gathering rows moves a third of the
memory), takes the coefficients ``(cos(sθ/2), sin(sθ/2), 1, s)`` per chunk, and gets the weighted
sums of all parts in one product of the weighted coefficients with the rows; each output is
then a fixed pair of that product's entries (a wrist's ``q`` and ``p`` parts, the linear parts
and their change), picked by one precomputed index.

Quaternions ``q`` and ``−q`` are one rotation; a mean needs them in one hemisphere. A chunk's
quaternions are continuous along its steps (``step_tables``), and each chunk is stored with the
signs that put it in the hemisphere of the newest chunk stacked before it, compared where both
predict: all readings at a tick then share one hemisphere as long as predictions of one instant
differ by less than half a turn, and the weighted sum needs no per-tick sign test.

The buffer is compared with what was stacked by identity: nothing is done when nothing
changed, little when the oldest chunks left and new ones came (the usual change), and
everything is stacked again otherwise. The mode stacks a chunk when it arrives
(``ExecutionMode.on_chunk``), so a tick at most lets the oldest go. Only chunks that cover ``t`` are read: a chunk that has
ended, or has left the buffer, is never read.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

import numpy as np

from egoscale_ros.chunking.chunk import ActionChunk
from egoscale_ros.chunking.execution import BufferedChunk
from egoscale_ros.chunking.interpolation import quaternions_at, step_at
from egoscale_ros.chunking.stack import Layout


class StackedChunks:
    """The bases of a buffer's chunks, one slot each; see the module's docstring."""

    def __init__(self) -> None:
        self.layout: Layout | None = None
        # (slots, steps, 9W + 2D): each step's row of StepTables.quat, read as (slots · steps) rows
        self._table = np.zeros((0, 0, 0))
        self._n_wrist = 0
        self._picks = np.zeros((2, 0), dtype=np.intp)  # the two entries of the product summed per output
        self._free: list[int] = []
        self._signs: dict[int, list[float]] = {}  # slot -> per wrist, the sign its quaternions were stored with
        # The stacked chunks in buffer order, and their slots:
        self._entries: tuple[BufferedChunk, ...] = ()
        self._slot_of: dict[int, int] = {}  # id(entry) -> slot, for the entries in _entries only
        self._slots: list[int] = []
        self._stamps: list[float] = []
        self._dts: list[float] = []
        self._ends: list[float] = []
        # Per stacked chunk its first row in the flat table (slot · steps), stamp and step:
        self._arrays = (np.zeros(0, dtype=np.intp), np.zeros(0), np.zeros(0))
        # Every stacked chunk covers t in [_all_from, _all_until] (empty when none is stacked).
        self._all_from, self._all_until = math.inf, -math.inf
        self._buffers: dict[int, _TickBuffers] = {}  # count -> arrays rewritten in place at each tick

    @property
    def capacity(self) -> int:
        """Slots allocated: about the most chunks the buffer held at once, not how many passed through."""
        return len(self._table)

    def sync(self, buffer: Sequence[BufferedChunk]) -> bool:
        """Take the buffer's chunks (oldest first); False when they do not share one layout (then
        nothing is stacked and the caller reads them one by one)."""
        old = self._entries
        if len(buffer) == len(old) and all(map(operator.is_, buffer, old)):  # the usual tick: no copy
            return self.layout is not None or not old
        entries = tuple(buffer)
        start = len(old) - len(entries)
        if start > 0 and entries and old[start] is entries[0] and all(map(operator.is_, entries, old[start:])):
            self._forget_oldest(start)  # only the oldest left, as at most ticks that change anything
            self._entries = entries
            slots, stamps, dts = self._arrays
            self._arrays = slots[start:], stamps[start:], dts[start:]
            self._refresh_span()
            return True
        if entries and id(entries[0]) in self._slot_of:  # the oldest left and new ones came after the rest
            start = next(i for i, e in enumerate(old) if e is entries[0])
            kept = len(old) - start
            if kept <= len(entries) and all(map(operator.is_, entries[:kept], old[start:])):
                added = entries[kept:]
                if all(e.chunk.layout() is self.layout for e in added):  # layouts are interned by make_chunk
                    self._forget_oldest(start)
                    self._append(entries, added)
                    return True
        self.clear()
        layout = entries[0].chunk.layout() if entries else None
        if any(e.chunk.layout() is not layout for e in entries):
            return False
        self.layout = layout
        if entries and len(layout[0]) != self._n_wrist:  # tick buffers are shaped by the wrists
            self._buffers = {}
        if entries:
            self._n_wrist = len(layout[0])
            self._picks = _picks(self._n_wrist, entries[0].chunk.tables.linear_steps.shape[1] // 2)
        self._append(entries, entries)
        return True

    def weighted_sum(self, t: float, weights_for: Callable[[int], np.ndarray], newest: int | None = None
                     ) -> np.ndarray | None:
        """``Σ wᵢ·readingᵢ`` over the stacked chunks that cover ``t`` (the ``newest`` such when
        given), weights ``weights_for(count)`` oldest first as a column (count, 1), as one vector:
        per wrist the sum of the quaternions (4W) — with positive weights, a positive multiple of
        their weighted quaternion mean — then the weighted sum of the linear parts (D); None when
        no chunk covers ``t``."""
        buffers = self._gather(t, newest)
        if buffers is None:
            return None
        np.multiply(buffers.coefficients, weights_for(len(buffers.rows)), out=buffers.weighted)
        np.matmul(buffers.weighted.T, buffers.rows, out=buffers.product)
        pairs = buffers.product.take(self._picks)  # (2, 4W + D)
        return pairs[0] + pairs[1]  # a new array: the caller's targets may be views into it

    def read(self, t: float, newest: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Each covering chunk's reading at ``t``, oldest first: wrist rotations as unit quaternions
        (M, W, 4), in the stored hemispheres, and linear parts (M, D); None when none covers ``t``."""
        buffers = self._gather(t, newest)
        if buffers is None:
            return None
        w, rows = self._n_wrist, buffers.rows
        c = buffers.coefficients
        quats = (c[:, :w, None] * rows[:, w : 5 * w].reshape(len(rows), w, 4)
                 + c[:, w : 2 * w, None] * rows[:, 5 * w : 9 * w].reshape(len(rows), w, 4))
        d = (rows.shape[1] - 9 * w) // 2
        return quats, rows[:, 9 * w : 9 * w + d] + c[:, -1:] * rows[:, 9 * w + d :]

    def clear(self) -> None:
        """Forget every chunk (the slots' storage is kept for the next ones)."""
        self.layout, self._entries, self._slot_of, self._signs = None, (), {}, {}
        self._slots, self._stamps, self._dts, self._ends = [], [], [], []
        self._free = list(range(len(self._table) - 1, -1, -1))
        self._arrays = (np.zeros(0, dtype=np.intp), np.zeros(0), np.zeros(0))
        self._all_from, self._all_until = math.inf, -math.inf

    def _gather(self, t: float, newest: int | None) -> _TickBuffers | None:
        """The rows of the chunks covering ``t`` at their steps, and their coefficients."""
        first_rows, stamps, dts = self._arrays
        if not self._all_from <= t <= self._all_until:  # not the usual tick, where all cover t
            covering = [i for i, e in enumerate(self._entries) if e.chunk.covers(t)]
            if not covering:
                return None
            first_rows, stamps, dts = first_rows[covering], stamps[covering], dts[covering]
        if newest is not None and newest < len(stamps):
            first_rows, stamps, dts = first_rows[-newest:], stamps[-newest:], dts[-newest:]
        b = self._buffers.get(len(stamps))
        if b is None:
            b = self._buffers[len(stamps)] = _TickBuffers(len(stamps), self._n_wrist, self._table.shape[2])
        # Steps since each stamp: >= −1e-9/dt where covered, so k = 0 and s is 0 to within a
        # nanosecond's worth; at most the last step, whose row has no change to a next step.
        u = b.steps
        np.subtract(t, stamps, out=u)
        np.divide(u, dts, out=u)
        k = u.astype(np.intp)
        np.subtract(u, k, out=b.fraction)
        np.add(first_rows, k, out=k)
        self._table.reshape(-1, self._table.shape[2]).take(k, axis=0, out=b.rows, mode="clip")
        w = self._n_wrist
        np.multiply(b.rows[:, :w], b.fraction_column, out=b.half)  # s·θ_k/2
        np.cos(b.half, out=b.cosines)
        np.sin(b.half, out=b.sines)
        return b

    def _forget_oldest(self, count: int) -> None:
        """Free the slots of the ``count`` oldest stacked chunks."""
        for entry in self._entries[:count]:
            self._free.append(self._slot_of.pop(id(entry)))
        del self._slots[:count], self._stamps[:count], self._dts[:count], self._ends[:count]

    def _append(self, entries: tuple[BufferedChunk, ...], added: Sequence[BufferedChunk]) -> None:
        """Stack ``added`` (the last of ``entries``) after the chunks kept; refresh the span they all cover."""
        previous = self._entries[-1].chunk if self._slots else None
        for entry in added:
            chunk = entry.chunk
            slot = self._put(chunk, previous, self._signs.get(self._slots[-1]) if self._slots else None)
            self._slot_of[id(entry)] = slot
            self._slots.append(slot)
            self._stamps.append(chunk.stamp)
            self._dts.append(chunk.dt)
            self._ends.append(chunk.end_time)
            previous = chunk
        self._entries = entries
        self._arrays = (np.array(self._slots, dtype=np.intp) * self._table.shape[1], np.array(self._stamps),
                        np.array(self._dts))
        if len(self._signs) > 2 * len(self._slots):
            self._signs = {slot: self._signs[slot] for slot in self._slots}
        self._refresh_span()

    def _refresh_span(self) -> None:
        if self._slots:
            self._all_from, self._all_until = max(self._stamps) - 1e-9, min(self._ends) + 1e-9
        else:
            self._all_from, self._all_until = math.inf, -math.inf

    def _put(self, chunk: ActionChunk, previous: ActionChunk | None, previous_signs: list[float] | None) -> int:
        """A slot holding the chunk's table, in the hemisphere of ``previous`` (stored with ``previous_signs``)."""
        table = chunk.tables.quat
        h, n_wrist = chunk.tables.half_angles.shape
        slot = self._slot_for(h, table.shape[1])
        self._table[slot, :h] = table
        signs = [1.0] * n_wrist
        if previous is not None and previous_signs is not None and n_wrist:
            at = min(max(chunk.stamp, previous.stamp), previous.end_time)  # where both predict, if anywhere
            mine = quaternions_at(chunk, *(step_at(chunk, max(at, chunk.stamp)) or (0, 0.0)))
            theirs = quaternions_at(previous, *(step_at(previous, at) or (previous.horizon - 1, 0.0)))
            signs = [math.copysign(1.0, sign * sum(a * b for a, b in zip(q, p)))
                     for q, p, sign in zip(mine, theirs, previous_signs)]
            for w, sign in enumerate(signs):
                if sign < 0.0:  # this wrist's q and p columns
                    self._table[slot, :h, n_wrist + 4 * w : n_wrist + 4 * w + 4] *= -1.0
                    self._table[slot, :h, 5 * n_wrist + 4 * w : 5 * n_wrist + 4 * w + 4] *= -1.0
        self._signs[slot] = signs
        return slot

    def _slot_for(self, steps: int, width: int) -> int:
        """A free slot for a chunk of ``steps`` steps, growing the storage when full or too small."""
        slots, have_steps, have_width = self._table.shape
        if have_width != width:  # another layout: nothing stored is of use
            slots, have_steps, self._free = 0, 0, []
        if not self._free or steps > have_steps:
            new_slots = slots if self._free else max(8, 2 * slots)
            new_steps = max(have_steps, steps)
            table = np.zeros((new_slots, new_steps, width))
            if slots:
                table[:slots, :have_steps] = self._table
            self._free.extend(range(new_slots - 1, slots - 1, -1))
            self._table = table
            self._buffers = {}
        return self._free.pop()


class _TickBuffers:
    """Arrays for ``count`` chunks that a tick rewrites in place, made once per count."""

    def __init__(self, count: int, n_wrist: int, width: int) -> None:
        self.steps = np.zeros(count)  # steps since each stamp
        self.rows = np.zeros((count, width))  # each chunk's row at its step
        self.half = np.zeros((count, n_wrist))
        # per chunk (cos(sθ/2) per wrist, sin(sθ/2) per wrist, 1, s); the 1 column is never written
        self.coefficients = np.ones((count, 2 * n_wrist + 2))
        self.cosines = self.coefficients[:, :n_wrist]
        self.sines = self.coefficients[:, n_wrist : 2 * n_wrist]
        self.fraction = self.coefficients[:, -1]
        self.fraction_column = self.coefficients[:, -1:]
        self.weighted = np.zeros((count, 2 * n_wrist + 2))
        self.product = np.zeros((2 * n_wrist + 2, width))


def _picks(n_wrist: int, n_linear: int) -> np.ndarray:
    """Flat indices into the product (2W + 2, 9W + 2D) of coefficients and rows of the two
    entries whose sum is each output: per wrist its q part (coefficient row w, columns of q_w)
    and its p part (row W + w, columns of p_w), then per linear part the part (row 2W) and its
    change (row 2W + 1)."""
    w, d = n_wrist, n_linear
    width = 9 * w + 2 * d
    first, second = [], []
    for i in range(w):
        first += [i * width + w + 4 * i + j for j in range(4)]
        second += [(w + i) * width + 5 * w + 4 * i + j for j in range(4)]
    first += [2 * w * width + 9 * w + j for j in range(d)]
    second += [(2 * w + 1) * width + 9 * w + d + j for j in range(d)]
    return np.array([first, second], dtype=np.intp)
