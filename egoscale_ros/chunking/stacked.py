"""The buffered chunks' steps stacked into one array, kept in step with the buffer.

The temporal ensemble reads every buffered chunk at every tick — about as many as the policy
sends per horizon (30 at 30 chunks/s and a 1 s horizon) — and takes their weighted mean. Read
one by one, that is a Python loop per tick whose cost grows with the chunks; stacked, a tick
costs a dozen vectorised calls whatever their number.

A reading of a chunk at fraction ``s`` of its step ``k`` is a coefficient row times a basis of
that step (:mod:`egoscale_ros.chunking.step_tables`): per wrist ``cos(sθ_k/2)·q_k +
sin(sθ_k/2)·p_k``, and ``L_k + s·ΔL_k`` for the linear parts (translations, hand joints). Each
chunk's bases, one ``(2W + 2) × (4W + D)`` matrix per step, are stored in a slot once, when it
first appears in the buffer, so a weighted sum of all readings is one product of the weighted
coefficients with the gathered bases.

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
        # (slots, steps, 2W + 2, 4W + D + W): each step's quat_basis, and the step's half angles
        # θ_k/2 after the linear parts' row (the W last columns, which the sums never read)
        self._basis = np.zeros((0, 0, 0, 0))
        self._n_quat = self._width = 0  # columns: W quaternions, then the linear parts up to _width
        self._free: list[int] = []
        self._signs: dict[int, list[float]] = {}  # slot -> per wrist, the sign its quaternions were stored with
        # The stacked chunks in buffer order, and their slots:
        self._entries: tuple[BufferedChunk, ...] = ()
        self._slot_of: dict[int, int] = {}  # id(entry) -> slot, for the entries in _entries only
        self._slots: list[int] = []
        self._stamps: list[float] = []
        self._dts: list[float] = []
        self._ends: list[float] = []
        self._arrays = (np.zeros(0, dtype=np.intp), np.zeros(0), np.zeros(0))  # slots, stamps, dts
        # Every stacked chunk covers t in [_all_from, _all_until] (empty when none is stacked).
        self._all_from, self._all_until = math.inf, -math.inf
        self._coefficients = np.ones((0, 0))  # per tick, rewritten in place: (slots, 2W + 2)
        self._views: dict[int, tuple[np.ndarray, ...]] = {}  # count -> _coefficient_views(count)

    @property
    def capacity(self) -> int:
        """Slots allocated: about the most chunks the buffer held at once, not how many passed through."""
        return len(self._basis)

    def sync(self, buffer: Sequence[BufferedChunk]) -> bool:
        """Take the buffer's chunks (oldest first); False when they do not share one layout (then
        nothing is stacked and the caller reads them one by one)."""
        entries, old = tuple(buffer), self._entries
        start = len(old) - len(entries)
        if start == 0 and all(map(operator.is_, entries, old)):
            return self.layout is not None or not entries
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
        if entries:
            n_wrist = len(layout[0])
            self._n_quat, self._width = 4 * n_wrist, entries[0].chunk.tables.quat_basis.shape[2]
        self._append(entries, entries)
        return True

    def weighted_sum(self, t: float, weights_for: Callable[[int], np.ndarray], newest: int | None = None
                     ) -> np.ndarray | None:
        """``Σ wᵢ·readingᵢ`` over the stacked chunks that cover ``t`` (the ``newest`` such when
        given), weights ``weights_for(count)`` oldest first as a column (count, 1), as one vector:
        per wrist the sum of the quaternions (4W) — with positive weights, a positive multiple of
        their weighted quaternion mean — then the weighted sum of the linear parts (D); None when
        no chunk covers ``t``."""
        gathered = self._gather(t, newest)
        if gathered is None:
            return None
        coefficients, basis = gathered
        weighted = coefficients * weights_for(len(coefficients))  # not in place: the 1 column stays
        return (weighted.reshape(-1) @ basis.reshape(-1, basis.shape[-1]))[: self._width]

    def read(self, t: float, newest: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Each covering chunk's reading at ``t``, oldest first: wrist rotations as unit quaternions
        (M, W, 4), in the stored hemispheres, and linear parts (M, D); None when none covers ``t``."""
        gathered = self._gather(t, newest)
        if gathered is None:
            return None
        coefficients, basis = gathered
        out = np.einsum("mk,mkx->mx", coefficients, basis)
        return out[:, : self._n_quat].reshape(len(out), -1, 4), out[:, self._n_quat : self._width]

    def clear(self) -> None:
        """Forget every chunk (the slots' storage is kept for the next ones)."""
        self.layout, self._entries, self._slot_of, self._signs = None, (), {}, {}
        self._slots, self._stamps, self._dts, self._ends = [], [], [], []
        self._free = list(range(len(self._basis) - 1, -1, -1))
        self._arrays = (np.zeros(0, dtype=np.intp), np.zeros(0), np.zeros(0))
        self._all_from, self._all_until = math.inf, -math.inf

    def _gather(self, t: float, newest: int | None) -> tuple[np.ndarray, np.ndarray] | None:
        """Coefficient rows (M, 2W + 2) of the chunks covering ``t`` and their steps' bases."""
        slots, stamps, dts = self._arrays
        if not self._all_from <= t <= self._all_until:  # not the usual tick, where all cover t
            covering = [i for i, e in enumerate(self._entries) if e.chunk.covers(t)]
            if not covering:
                return None
            slots, stamps, dts = slots[covering], stamps[covering], dts[covering]
        if newest is not None and newest < len(slots):
            slots, stamps, dts = slots[-newest:], stamps[-newest:], dts[-newest:]
        # Steps since each stamp: >= −1e-9/dt where covered, so k = 0 and s is 0 to within a
        # nanosecond's worth; at most the last step, whose basis has no change to a next step.
        u = (t - stamps) / dts
        k = u.astype(np.intp)
        basis = self._basis[slots, k]
        # Coefficient rows (cos(sθ/2) per wrist, sin(sθ/2) per wrist, 1, s), written in place.
        views = self._views.get(len(u))
        if views is None:
            views = self._views[len(u)] = self._coefficient_views(len(u))
        coefficients, fraction, fraction_column, cosines, sines = views
        np.subtract(u, k, out=fraction)
        half = basis[:, -2, self._width :] * fraction_column  # θ_k/2, stored after the linear parts' row
        np.cos(half, out=cosines)
        np.sin(half, out=sines)
        return coefficients, basis

    def _coefficient_views(self, count: int) -> tuple[np.ndarray, ...]:
        """The first ``count`` coefficient rows, their s column (flat and as a column), their
        cosine and their sine columns: views made once per count, not at every tick."""
        rows = self._coefficients[:count]
        n_wrist = (rows.shape[1] - 2) // 2
        return rows, rows[:, -1], rows[:, -1:], rows[:, :n_wrist], rows[:, n_wrist : 2 * n_wrist]

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
        self._arrays = np.array(self._slots, dtype=np.intp), np.array(self._stamps), np.array(self._dts)
        if len(self._signs) > 2 * len(self._slots):
            self._signs = {slot: self._signs[slot] for slot in self._slots}
        self._refresh_span()

    def _refresh_span(self) -> None:
        if self._slots:
            self._all_from, self._all_until = max(self._stamps) - 1e-9, min(self._ends) + 1e-9
        else:
            self._all_from, self._all_until = math.inf, -math.inf

    def _put(self, chunk: ActionChunk, previous: ActionChunk | None, previous_signs: list[float] | None) -> int:
        """A slot holding the chunk's bases, in the hemisphere of ``previous`` (stored with ``previous_signs``)."""
        tables = chunk.tables
        basis = tables.quat_basis
        h, n_wrist = tables.half_angles.shape
        slot = self._slot_for(h, basis.shape[1], basis.shape[2] + n_wrist)
        self._basis[slot, :h, :, : self._width] = basis
        self._basis[slot, :h, -2, self._width :] = tables.half_angles  # read with the basis in one gather
        signs = [1.0] * n_wrist
        if previous is not None and previous_signs is not None and n_wrist:
            at = min(max(chunk.stamp, previous.stamp), previous.end_time)  # where both predict, if anywhere
            mine = quaternions_at(chunk, *(step_at(chunk, max(at, chunk.stamp)) or (0, 0.0)))
            theirs = quaternions_at(previous, *(step_at(previous, at) or (previous.horizon - 1, 0.0)))
            signs = [math.copysign(1.0, sign * sum(a * b for a, b in zip(q, p)))
                     for q, p, sign in zip(mine, theirs, previous_signs)]
            for w, sign in enumerate(signs):
                if sign < 0.0:  # the rows of this wrist's q and p
                    self._basis[slot, :h, [w, n_wrist + w]] *= -1.0
        self._signs[slot] = signs
        return slot

    def _slot_for(self, steps: int, rows: int, width: int) -> int:
        """A free slot for a chunk of ``steps`` steps, growing the storage when full or too small."""
        slots, have_steps, have_rows, have_width = self._basis.shape
        if (have_rows, have_width) != (rows, width):  # another layout: nothing stored is of use
            slots, have_steps, self._free = 0, 0, []
        if not self._free or steps > have_steps:
            new_slots = slots if self._free else max(8, 2 * slots)
            new_steps = max(have_steps, steps)
            basis = np.zeros((new_slots, new_steps, rows, width))
            if slots:
                basis[:slots, :have_steps] = self._basis
            self._free.extend(range(new_slots - 1, slots - 1, -1))
            self._basis = basis
            self._coefficients = np.ones((new_slots, rows))  # the "1" column stays 1
            self._views = {}
        return self._free.pop()
