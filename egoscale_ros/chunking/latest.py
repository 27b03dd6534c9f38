"""Execution mode ``latest``: the newest chunk that covers ``t`` wins.

When a newer chunk takes over, the output crossfades over ``crossfade_s`` from the trajectory
that was being executed (itself possibly still fading in) to the new one, so a switch never
jumps even when consecutive predictions disagree. The fade runs along both trajectories, not
from a frozen pose, so it does not lag behind a moving target.
"""

from __future__ import annotations

from collections.abc import Sequence

from egoscale_ros.chunking.execution import BufferedChunk, ExecutionMode
from egoscale_ros.chunking.mixing import blend_readings
from egoscale_ros.chunking.targets import Targets


class _Track:
    """Output trajectory: one chunk, possibly fading in from the previous track."""

    def __init__(self, entry: BufferedChunk, previous: _Track | None, fallback: Targets | None,
                 start: float) -> None:
        self.entry = entry
        self.previous = previous
        self.fallback = fallback  # output at the switch, used when the previous track ran out
        self.start = start

    def at(self, t: float, crossfade_s: float) -> Targets | None:
        """This track's output at ``t``: its chunk, faded in over the previous track's output (or,
        when that one has run out, over the fallback); None when its chunk does not cover ``t``.

        Reads the chain of fading tracks newest first, then blends it oldest first in one call.
        """
        fading: list[tuple[_Track, float]] = []  # tracks still fading in, newest first, with their alpha
        track: _Track | None = self
        base_chunk = None  # where the walk stopped: a chunk whose reading needs no older output
        while track is not None:
            chunk = track.entry.chunk
            if not chunk.stamp - 1e-9 <= t <= chunk.end_time + 1e-9:  # ActionChunk.covers, inlined
                break
            if track.previous is None and track.fallback is None:
                base_chunk = chunk
                break
            alpha = 1.0 if crossfade_s <= 0 else (t - track.start) / crossfade_s
            if alpha >= 1.0:
                track.previous = track.fallback = None  # fade done: the chain collapses
                base_chunk = chunk
                break
            fading.append((track, alpha if alpha > 0.0 else 0.0))
            track = track.previous
        # The chain for blend_readings, oldest first: each item blended over the output below it.
        items: list = [] if base_chunk is None else [base_chunk]
        alphas = [] if base_chunk is None else [1.0]
        for track, alpha in reversed(fading):
            if not items:  # the previous track ran out: fade in over the output at the switch
                if track.fallback is None:
                    items.append(track.entry.chunk)
                    alphas.append(1.0)
                    continue
                items.append(track.fallback)
                alphas.append(1.0)
            items.append(track.entry.chunk)
            alphas.append(alpha)
        return blend_readings(items, alphas, t) if items else None

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
        newest = None
        for entry in reversed(buffer):
            chunk = entry.chunk
            if chunk.stamp - 1e-9 <= t <= chunk.end_time + 1e-9:  # ActionChunk.covers, inlined
                newest = entry
                break
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
