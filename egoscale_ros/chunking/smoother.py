"""The chunk smoother core: buffer policy chunks, execute them by time, say what happened.

A node feeds it chunks as they arrive (``offer``/``add``, with the arrival time) and asks it
for targets at every control tick (``sample(t)``). Action ``k`` of a chunk is due at
``stamp + k·dt``, so inference latency is compensated and actions that fell due before a chunk
arrived are skipped. Chunks are refused when invalid (NaN/inf, shapes, layout different from
the first chunk), when entirely in the past on arrival (stale), when older than a chunk
already received (out of order), or when stamped further in the future than ``future_tolerance_s``
(a clock gone wrong): a refused chunk never moves the ordering, so it cannot block later ones. When nothing covers ``t`` the smoother holds its last output
and reports ``starved``; when chunks come back it fades from the held output over
``crossfade_s``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from egoscale_ros.chunking.chunk import ActionChunk, ChunkError, make_chunk
from egoscale_ros.chunking.execution import BufferedChunk, ExecutionMode
from egoscale_ros.chunking.latest import LatestMode
from egoscale_ros.chunking.rtc import RtcMode
from egoscale_ros.chunking.targets import Targets, blend
from egoscale_ros.chunking.temporal_ensemble import TemporalEnsembleMode

MODES = {"latest": LatestMode, "temporal_ensemble": TemporalEnsembleMode, "rtc": RtcMode}

WAITING, TRACKING, STARVED = "waiting", "tracking", "starved"


def make_mode(name: str, **params) -> ExecutionMode:
    """Execution mode by name (``latest``, ``temporal_ensemble``, ``rtc``) with its parameters:
    ``latest(crossfade_s=0.1)``, ``temporal_ensemble(m=0.01, max_chunks=None)``,
    ``rtc(blend_s=None, delay_memory=30, delay_quantile=0.9)``."""
    if name not in MODES:
        raise ValueError(f"unknown execution mode '{name}' (known: {', '.join(MODES)})")
    try:
        return MODES[name](**params)
    except TypeError as exc:
        raise ValueError(f"execution mode '{name}': bad parameters {sorted(params)} ({exc})") from exc


@dataclass
class SmootherCounters:
    """Diagnostics: what came in and what was done with it."""

    chunks_received: int = 0
    chunks_accepted: int = 0
    rejected_invalid: int = 0
    rejected_layout: int = 0
    rejected_future: int = 0
    dropped_stale: int = 0
    dropped_out_of_order: int = 0
    dropped_overflow: int = 0
    chunks_expired: int = 0
    ticks: int = 0
    starved_ticks: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class AddResult:
    """Whether a chunk was taken; ``reason`` is ``"accepted"`` or why not (for a log line)."""

    accepted: bool
    reason: str


class Sample(NamedTuple):
    """One tick's answer. ``targets`` is None only before the first chunk (or when holding is off).
    A named tuple: one is made at every tick, and it costs a fraction of a frozen dataclass.

    ``remaining_s``: how far past ``t`` the buffered chunks reach (0 when starved) — a node can
    log it, or request inference early when it runs low.
    """

    targets: Targets | None
    status: str  # waiting | tracking | starved
    remaining_s: float
    chunks_buffered: int


class ChunkSmoother:
    """Executes action chunks by time under one execution mode.

    ``mode``: a name from :data:`MODES` or an :class:`ExecutionMode`; ``mode_params`` go to
    :func:`make_mode`. ``crossfade_s``: fade from the held output when chunks resume after
    starvation (and, for ``latest``, its switch crossfade unless given in ``mode_params``).
    ``max_chunks``: buffer bound (oldest dropped). ``hold_when_starved``: return the last output
    while starved (default) rather than None. ``future_tolerance_s``: how far past the arrival
    time a chunk's stamp may lie (clock offset between the policy's computer and this one); a
    chunk stamped later is refused, so it can neither execute early nor, as the newest stamp,
    make every later chunk look out of order. ``max_blind_s``: how long past the newest chunk's
    arrival the buffered chunks may still be executed (None: as far as they reach); after that
    the smoother holds as when starved. A policy server's chunks may reach further than the robot
    should move without hearing from it (they are published long for the blend's sake).
    """

    def __init__(self, mode: str | ExecutionMode = "latest", *, crossfade_s: float = 0.1,
                 max_chunks: int = 64, hold_when_starved: bool = True,
                 mode_params: Mapping[str, float] | None = None, future_tolerance_s: float = 0.1,
                 max_blind_s: float | None = None) -> None:
        if crossfade_s < 0 or max_chunks < 1:
            raise ValueError(f"need crossfade_s >= 0 and max_chunks >= 1 (got {crossfade_s}, {max_chunks})")
        if not (future_tolerance_s >= 0 and math.isfinite(future_tolerance_s)):
            raise ValueError(f"future_tolerance_s must be finite and >= 0 (got {future_tolerance_s})")
        self.future_tolerance_s = float(future_tolerance_s)
        if max_blind_s is not None and not (max_blind_s > 0 and math.isfinite(max_blind_s)):
            raise ValueError(f"max_blind_s must be finite and > 0 or None (got {max_blind_s})")
        self.max_blind_s = max_blind_s
        self._newest_arrival = -math.inf
        if isinstance(mode, str):
            params = dict(mode_params or {})
            if mode == "latest":
                params.setdefault("crossfade_s", crossfade_s)
            mode = make_mode(mode, **params)
        self.mode = mode
        self.crossfade_s = float(crossfade_s)
        self.max_chunks = int(max_chunks)
        self.hold_when_starved = hold_when_starved
        self.counters = SmootherCounters()
        self.layout: tuple | None = None
        self.frame: str | None = None  # the first accepted chunk's frame; later ones must match
        self._buffer: list[BufferedChunk] = []
        self._ends: list[float] = []  # each buffered chunk's end time: expiry reads these, not the chunks
        # Chunks that expired, kept until the next arrival: freeing an expired chunk
        # (its tables are hundreds of small objects) costs more than the rest of a tick, and an
        # arrival, which builds a chunk anyway, is the place to pay for it. At most one buffer's
        # chunks are held this way: without arrivals the buffer only shrinks.
        self._retired: list[list[BufferedChunk]] = []
        # Earliest and latest end of the buffered chunks, kept with the buffer: a tick needs them
        # (what to expire, how far the chunks reach) and they change only when the buffer does.
        self._first_end = math.inf
        self._last_end = -math.inf
        self._newest_stamp_ns: float = -math.inf
        self._last_output: Targets | None = None
        self._starved = False
        self._resume_from: Targets | None = None
        self._resume_start = 0.0

    # -- input ------------------------------------------------------------------------------------
    def offer(self, stamp_ns: int, dt: float, wrist: Mapping[str, np.ndarray] | None,
              hand: Mapping[str, np.ndarray] | None, now: float, frame: str = "") -> AddResult:
        """Validate raw arrays and add them; never raises on bad data (counts and reports it)."""
        try:
            chunk = make_chunk(stamp_ns, dt, wrist, hand, frame=frame)
        except ChunkError as exc:
            self.counters.chunks_received += 1
            self.counters.rejected_invalid += 1
            return AddResult(False, f"invalid: {exc}")
        return self.add(chunk, now)

    def add(self, chunk: ActionChunk, now: float) -> AddResult:
        """Add a validated chunk that arrived at time ``now`` (same clock as ``sample``)."""
        c = self.counters
        c.chunks_received += 1
        self._retired.clear()
        layout = chunk.layout()
        if self.layout is not None and layout != self.layout:
            c.rejected_layout += 1
            return AddResult(False, f"layout {layout} differs from the first chunk's {self.layout}")
        if self.frame is not None and chunk.frame != self.frame:
            # Mixing poses of two frames would be a jump; a frame is never relabelled here.
            c.rejected_layout += 1
            return AddResult(False, f"frame '{chunk.frame}' differs from the first chunk's '{self.frame}'")
        if chunk.stamp > now + self.future_tolerance_s:
            c.rejected_future += 1
            return AddResult(False, f"future: stamp {chunk.stamp - now:.3f} s ahead of arrival "
                                    f"(tolerance {self.future_tolerance_s:g} s)")
        if chunk.stamp_ns <= self._newest_stamp_ns:
            c.dropped_out_of_order += 1
            return AddResult(False, f"out of order: stamp {chunk.stamp_ns} ns <= newest {self._newest_stamp_ns} ns")
        if chunk.end_time < now:
            c.dropped_stale += 1
            return AddResult(False, f"stale: last step due {now - chunk.end_time:.3f} s before arrival")
        self.layout, self.frame = layout, chunk.frame
        self._newest_stamp_ns = chunk.stamp_ns
        self._newest_arrival = max(self._newest_arrival, float(now))
        entry = BufferedChunk(chunk, float(now))
        self._buffer.append(entry)
        self._ends.append(chunk.end_time)
        if len(self._buffer) > self.max_chunks:
            c.dropped_overflow += len(self._buffer) - self.max_chunks
            del self._buffer[: len(self._buffer) - self.max_chunks], self._ends[: len(self._ends) - self.max_chunks]
            self._ends_changed()
        else:
            self._first_end = min(self._first_end, chunk.end_time)
            self._last_end = max(self._last_end, chunk.end_time)
        self.mode.on_chunk(entry, self._buffer)
        c.chunks_accepted += 1
        return AddResult(True, "accepted")

    # -- output -----------------------------------------------------------------------------------
    def sample(self, t: float) -> Sample:
        """Targets due at control time ``t``."""
        c = self.counters
        c.ticks += 1
        self._expire(t)
        out = self.mode.sample(self._buffer, t)
        if out is not None and self.max_blind_s is not None and t - self._newest_arrival > self.max_blind_s:
            out = None  # nothing heard from the policy for too long: hold, as when starved
        remaining = self._last_end - t if self._buffer else 0.0
        if out is None:
            if self._last_output is None:
                return Sample(None, WAITING, 0.0, len(self._buffer))
            c.starved_ticks += 1
            self._starved = True
            held = self._last_output if self.hold_when_starved else None
            return Sample(held, STARVED, 0.0, len(self._buffer))
        if self._starved:
            self._starved = False
            if self.crossfade_s > 0:
                self._resume_from, self._resume_start = self._last_output, t
        if self._resume_from is not None:
            alpha = (t - self._resume_start) / self.crossfade_s
            if alpha >= 1.0:
                self._resume_from = None
            else:
                out = blend(self._resume_from, out, max(0.0, alpha))
        self._last_output = out
        return Sample(out, TRACKING, max(0.0, remaining), len(self._buffer))

    def _expire(self, t: float) -> None:
        obsolete = self.mode.obsolete(self._buffer, t)
        cutoff = t - 1e-9
        if not obsolete and self._first_end >= cutoff:
            return  # the usual tick: nothing ended
        buffer, ends = self._buffer, self._ends
        if obsolete:
            gone = {id(e) for e in obsolete}
            keep = [i for i, e in enumerate(buffer) if ends[i] >= cutoff and id(e) not in gone]
        else:
            keep = [i for i, end in enumerate(ends) if end >= cutoff]
        dropped = len(buffer) - len(keep)
        if not dropped:
            return
        self.counters.chunks_expired += dropped
        if not keep or keep[0] == dropped:  # the oldest ended, as usual: dropped in place
            self._retired.append(buffer[:dropped])
            del buffer[:dropped], ends[:dropped]
        else:
            self._retired.append(buffer)
            self._buffer, self._ends = [buffer[i] for i in keep], [ends[i] for i in keep]
        self._ends_changed()

    def _ends_changed(self) -> None:
        ends = self._ends
        self._first_end, self._last_end = (min(ends), max(ends)) if ends else (math.inf, -math.inf)

    @property
    def last_output(self) -> Targets | None:
        return self._last_output

    def reset(self) -> None:
        """Forget chunks and outputs (counters and layout are kept)."""
        self._buffer.clear()
        self._ends.clear()
        self._retired.clear()
        self._ends_changed()
        self._newest_stamp_ns = -math.inf
        self._newest_arrival = -math.inf
        self._last_output = None
        self._starved = False
        self._resume_from = None
        self.mode.reset()
