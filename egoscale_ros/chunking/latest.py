"""Execution mode ``latest``: the newest chunk that covers ``t`` wins.

When a newer chunk takes over, the output crossfades over ``crossfade_s`` from the trajectory
that was being executed (itself possibly still fading in) to the new one, so a switch never
jumps even when consecutive predictions disagree. The fade runs along both trajectories, not
from a frozen pose, so it does not lag behind a moving target.
"""

from __future__ import annotations

from collections.abc import Sequence

from egoscale_ros.chunking.execution import BufferedChunk, ExecutionMode
from egoscale_ros.chunking.interpolation import sample_chunk
from egoscale_ros.chunking.targets import Targets, blend


class _Track:
    """Output trajectory: one chunk, possibly fading in from the previous track."""

    def __init__(self, entry: BufferedChunk, previous: _Track | None, fallback: Targets | None,
                 start: float) -> None:
        self.entry = entry
        self.previous = previous
        self.fallback = fallback  # output at the switch, used when the previous track ran out
        self.start = start

    def at(self, t: float, crossfade_s: float) -> Targets | None:
        new = sample_chunk(self.entry.chunk, t)
        if new is None:
            return None
        if self.previous is None and self.fallback is None:
            return new
        alpha = 1.0 if crossfade_s <= 0 else (t - self.start) / crossfade_s
        if alpha >= 1.0:
            self.previous = self.fallback = None  # fade done: the chain collapses
            return new
        old = self.previous.at(t, crossfade_s) if self.previous is not None else None
        if old is None:
            old = self.fallback
        return new if old is None else blend(old, new, max(0.0, alpha))

    def chunks(self) -> list[BufferedChunk]:
        out, track = [], self
        while track is not None:
            out.append(track.entry)
            track = track.previous
        return out


class LatestMode(ExecutionMode):
    """Newest covering chunk wins, with a ``crossfade_s`` (default 0.1 s) crossfade at each switch."""

    name = "latest"

    def __init__(self, crossfade_s: float = 0.1) -> None:
        if crossfade_s < 0:
            raise ValueError(f"latest: crossfade_s must be >= 0 (got {crossfade_s})")
        self.crossfade_s = float(crossfade_s)
        self._track: _Track | None = None
        self._last: Targets | None = None

    def sample(self, buffer: Sequence[BufferedChunk], t: float) -> Targets | None:
        newest = next((e for e in reversed(buffer) if e.chunk.covers(t)), None)
        if newest is None:
            self._track = None  # starved: the smoother holds and fades back in on resume
            return None
        if self._track is None:
            self._track = _Track(newest, None, None, t)
        elif self._track.entry is not newest:
            self._track = _Track(newest, self._track, self._last, t)
        out = self._track.at(t, self.crossfade_s)
        self._last = out
        return out

    def obsolete(self, buffer: Sequence[BufferedChunk], t: float) -> list[BufferedChunk]:
        if self._track is None:
            return []
        keep = {id(e) for e in self._track.chunks()}
        newest_stamp = self._track.entry.chunk.stamp
        return [e for e in buffer if id(e) not in keep and e.chunk.stamp < newest_stamp]

    def reset(self) -> None:
        self._track = None
        self._last = None
