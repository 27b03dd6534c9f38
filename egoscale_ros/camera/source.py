"""The one interface every camera frame source implements, and the error it raises.

A node only ever sees :class:`FrameSource`: ``open()`` (raises :class:`CameraError` naming the
source), ``read()`` (an rgb8 ``H×W×3`` uint8 frame, or ``None`` when no frame is available now),
``close()`` and ``describe()``. Resizing to a requested output size is done here once, so every
source honours ``width``/``height`` the same way.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

import numpy as np

from egoscale_ros.camera.image_ops import resize_rgb


class CameraError(RuntimeError):
    """A frame source could not be opened or used; the message names the source."""


class FrameSource(ABC):
    """A camera-like producer of rgb8 frames.

    Subclasses implement :meth:`_open`, :meth:`_read_raw`, :meth:`_close` and :meth:`_detail`.
    ``finished`` is True only for finite sources (a video file or image folder without looping)
    that delivered their last frame: that is an end, not a fault, and must not trigger a reopen.
    """

    #: short kind name used in messages and diagnostics ("v4l2", "file", "folder", ...)
    kind: str = "source"

    def __init__(self, name: str, width: int | None = None, height: int | None = None) -> None:
        for field, value in (("width", width), ("height", height)):
            if value is not None and int(value) <= 0:
                raise ValueError(f"camera source '{name}': {field} must be positive (got {value})")
        self.name = name
        self.width = None if width is None else int(width)
        self.height = None if height is None else int(height)
        self.frames_read = 0
        self.captured_ns = 0  # wall-clock ns at which the last frame was read from the source
        self.finished = False
        self._is_open = False

    # -- public API ---------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._is_open

    def open(self) -> None:
        """Open (or reopen) the source; raises :class:`CameraError` naming it on failure."""
        if self._is_open:
            self.close()
        self.finished = False
        self._open()
        self._is_open = True

    def read(self) -> np.ndarray | None:
        """Next rgb8 frame (``H×W×3`` uint8, C-contiguous), or ``None`` if none is available."""
        if not self._is_open:
            return None
        frame = self._read_raw()
        if frame is None:
            return None
        # Capture time: when the source handed the frame over, before any resizing or copying.
        self.captured_ns = time.time_ns()
        frame = resize_rgb(frame, self.width, self.height)
        self.frames_read += 1
        return frame

    def close(self) -> None:
        """Release the device/file; safe to call twice."""
        if self._is_open:
            self._close()
        self._is_open = False

    def describe(self) -> str:
        """One line for logs and diagnostics: kind, target, output size, state."""
        size = f"{self.width or 'native'}x{self.height or 'native'}"
        state = "finished" if self.finished else ("open" if self._is_open else "closed")
        return f"{self.kind} '{self.name}' ({self._detail()}; output {size}; {state}; {self.frames_read} frames)"

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- subclass hooks -----------------------------------------------------------------------
    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _read_raw(self) -> np.ndarray | None:
        """An rgb8 frame at native size, or None."""

    @abstractmethod
    def _close(self) -> None: ...

    def _detail(self) -> str:
        return ""

    def _error(self, what: str) -> CameraError:
        return CameraError(f"camera source '{self.name}' ({self.kind}): {what}")
