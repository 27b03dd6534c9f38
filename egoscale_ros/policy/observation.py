"""Buffers that assemble an observation from asynchronous sensor streams.

- :class:`LatestImages`: the newest frame per camera; a frame replaced before the policy used it
  is counted as dropped (the policy never works on an old frame just because it was queued).
- :class:`JointStateHistory`: a short history of whole joint states, so the policy can take the
  joint state *nearest the image stamp* rather than the newest one (the wrist pose that relative
  actions are composed with must be the one the image shows).

Thread-safe: ROS callbacks write, the inference thread reads.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass
class Frame:
    stamp_ns: int
    image: np.ndarray
    consumed: bool = False


class LatestImages:
    """Newest RGB frame per camera slot, with counters of frames that were never used."""

    def __init__(self, cameras: Iterable[str]):
        self.cameras = list(cameras)
        if not self.cameras:
            raise ValueError("at least one camera is needed")
        self._frames: dict[str, Frame] = {}
        self._lock = threading.Lock()
        self._new = threading.Condition(self._lock)
        self.received = 0
        self.dropped = 0  # frames superseded before the policy used them
        self.stale = 0  # observations refused because a frame was older than the maximum age

    def put(self, camera: str, stamp_ns: int, image: np.ndarray) -> None:
        with self._lock:
            old = self._frames.get(camera)
            if old is not None and not old.consumed:
                self.dropped += 1
            self._frames[camera] = Frame(int(stamp_ns), image)
            self.received += 1
            self._new.notify_all()

    def wait_for_new(self, timeout_s: float) -> bool:
        """Block until the primary camera (the first) has an unused frame, or ``timeout_s``."""
        with self._lock:
            return self._new.wait_for(self._primary_is_new, timeout=timeout_s)

    def _primary_is_new(self) -> bool:
        frame = self._frames.get(self.cameras[0])
        return frame is not None and not frame.consumed

    def take(self, now_ns: int, max_age_s: float) -> tuple[int, list[np.ndarray]] | None:
        """``(stamp of the primary camera, one image per camera)`` if every camera has a frame no
        older than ``max_age_s``; marks them used. None (and counts a stale refusal) otherwise."""
        with self._lock:
            if not self._primary_is_new():
                return None
            frames = [self._frames.get(c) for c in self.cameras]
            if any(f is None for f in frames):
                return None
            limit = int(max_age_s * 1e9)
            if max_age_s > 0 and any(now_ns - f.stamp_ns > limit for f in frames):
                self.stale += 1
                self._frames[self.cameras[0]].consumed = True  # do not retry the same old frame
                return None
            for f in frames:
                f.consumed = True
            return frames[0].stamp_ns, [f.image for f in frames]

    def missing(self) -> list[str]:
        with self._lock:
            return [c for c in self.cameras if c not in self._frames]


class JointStateHistory:
    """Whole joint states of the last ``horizon_s`` seconds, looked up by stamp.

    Each entry is one message of the robot's one declared feedback source, as it came: a message
    lacking any of ``joints`` is refused, never merged with another's part (a second publisher's
    partial message would otherwise mix into the pose that actions are composed with), and so
    is one stamped before the newest entry.
    """

    def __init__(self, horizon_s: float = 1.0, max_entries: int = 1000, joints: Iterable[str] = ()):
        self.horizon_ns = int(horizon_s * 1e9)
        self.joints = tuple(joints)
        self._stamps: deque[int] = deque(maxlen=max_entries)
        self._states: deque[dict[str, float]] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def add(self, stamp_ns: int, positions: Mapping[str, float]) -> bool:
        """Keep ``positions`` under ``stamp_ns``; False (nothing kept) when partial or out of order."""
        if any(j not in positions for j in self.joints):
            return False
        with self._lock:
            stamp_ns = int(stamp_ns)
            if self._stamps and stamp_ns < self._stamps[-1]:
                return False
            self._stamps.append(stamp_ns)
            self._states.append(dict(positions))
            while self._stamps and self._stamps[-1] - self._stamps[0] > self.horizon_ns:
                self._stamps.popleft()
                self._states.popleft()
            return True

    def clear(self) -> None:
        """Forget every entry (the feedback's source is in doubt: nothing heard may be used)."""
        with self._lock:
            self._stamps.clear()
            self._states.clear()

    def nearest(self, stamp_ns: int) -> tuple[int, dict[str, float]] | None:
        """``(stamp, positions)`` of the entry closest in time to ``stamp_ns`` (None when empty)."""
        with self._lock:
            if not self._stamps:
                return None
            stamps = list(self._stamps)
            i = bisect.bisect_left(stamps, stamp_ns)
            candidates = [j for j in (i - 1, i) if 0 <= j < len(stamps)]
            best = min(candidates, key=lambda j: abs(stamps[j] - stamp_ns))
            return stamps[best], self._states[best]

    def __len__(self) -> int:
        return len(self._stamps)
