"""Frame sources backed by ``cv2.VideoCapture``: V4L2 devices, video files, network streams and
GStreamer pipelines.

They differ only in how the capture is opened and what a failed read means: for a device or a
stream it is a fault (the supervisor reopens it); for a file it is the end (loop or finish).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from egoscale_ros.camera.image_ops import to_rgb8
from egoscale_ros.camera.source import FrameSource


class _CaptureSource(FrameSource):
    """Shared plumbing: hold a ``cv2.VideoCapture``, convert BGR → RGB, report native size."""

    def __init__(self, name: str, width: int | None = None, height: int | None = None) -> None:
        super().__init__(name, width, height)
        self._cap: cv2.VideoCapture | None = None

    def _make_capture(self) -> cv2.VideoCapture:
        raise NotImplementedError

    def _open(self) -> None:
        try:
            cap = self._make_capture()
        except cv2.error as exc:  # OpenCV raises for some malformed targets
            raise self._error(f"cannot open: {exc}") from exc
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            raise self._error(self._open_failure_hint())
        self._cap = cap

    def _open_failure_hint(self) -> str:
        return "cannot open"

    def _grab(self) -> np.ndarray | None:
        if self._cap is None:
            return None
        try:
            ok, frame = self._cap.read()
        except cv2.error:
            return None
        if not ok or frame is None or frame.size == 0:
            return None
        return to_rgb8(frame)

    def _read_raw(self) -> np.ndarray | None:
        return self._grab()

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
        self._cap = None

    def native_size(self) -> tuple[int, int] | None:
        """(width, height) the capture reports, or None when closed/unknown."""
        if self._cap is None:
            return None
        w = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        return (w, h) if w > 0 and h > 0 else None

    def _detail(self) -> str:
        size = self.native_size()
        return f"native {size[0]}x{size[1]}" if size else "native size unknown"


class V4l2Source(_CaptureSource):
    """A V4L2 camera by index or device path; asks the driver for the requested size and rate."""

    kind = "v4l2"

    def __init__(self, device: int | str, width: int | None = None, height: int | None = None,
                 fps: float = 30.0) -> None:
        super().__init__(str(device), width, height)
        self.device = device
        self.fps = float(fps)

    def _make_capture(self) -> cv2.VideoCapture:
        if isinstance(self.device, str) and not os.path.exists(self.device):
            raise self._error("no such device")
        cap = cv2.VideoCapture(self.device, cv2.CAP_V4L2)
        if cap.isOpened():
            # Requests only: the driver picks the nearest mode, FrameSource resizes the rest.
            if self.width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            if self.height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            if self.fps > 0:
                cap.set(cv2.CAP_PROP_FPS, self.fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a backlog: latency matters
        return cap

    def _open_failure_hint(self) -> str:
        return "cannot open the V4L2 device (missing, busy, or no permission: is the user in group 'video'?)"


class VideoFileSource(_CaptureSource):
    """A video file, read frame by frame; at the end it loops (``loop=True``) or finishes."""

    kind = "file"

    def __init__(self, path: str, width: int | None = None, height: int | None = None,
                 loop: bool = False) -> None:
        super().__init__(path, width, height)
        self.path = path
        self.loop = bool(loop)
        self.loops_completed = 0
        self._frames_this_pass = 0

    def _make_capture(self) -> cv2.VideoCapture:
        if not os.path.isfile(self.path):
            raise self._error("video file not found")
        return cv2.VideoCapture(self.path)

    def _open_failure_hint(self) -> str:
        return "OpenCV cannot decode this video file (unsupported container or codec)"

    def _open(self) -> None:
        super()._open()
        self._frames_this_pass = 0

    def _read_raw(self) -> np.ndarray | None:
        if self.finished:
            return None
        frame = self._grab()
        if frame is None and self.loop and self._frames_this_pass > 0:
            self.loops_completed += 1
            self._rewind()
            frame = self._grab()
        if frame is None:
            self.finished = True
            return None
        self._frames_this_pass += 1
        return frame

    def _rewind(self) -> None:
        assert self._cap is not None
        self._frames_this_pass = 0
        if not self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0):
            # Some containers cannot seek: reopening is the portable rewind.
            self._cap.release()
            self._cap = cv2.VideoCapture(self.path)

    def _detail(self) -> str:
        loop = f"loop, {self.loops_completed} loops done" if self.loop else "no loop"
        return f"{super()._detail()}; {loop}"


class StreamSource(_CaptureSource):
    """An RTSP/HTTP/... URL opened by OpenCV's FFmpeg backend, with open and read timeouts so a
    dead stream fails a read instead of blocking the node forever."""

    kind = "stream"

    def __init__(self, url: str, width: int | None = None, height: int | None = None,
                 open_timeout_s: float = 5.0, read_timeout_s: float = 2.0) -> None:
        super().__init__(url, width, height)
        self.url = url
        self.open_timeout_s = float(open_timeout_s)
        self.read_timeout_s = float(read_timeout_s)

    def _make_capture(self) -> cv2.VideoCapture:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000),
        ]
        return cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)

    def _open_failure_hint(self) -> str:
        return f"cannot open the stream within {self.open_timeout_s:g} s (unreachable, wrong URL or codec)"


class GStreamerSource(_CaptureSource):
    """A GStreamer pipeline string ending in ``appsink``, through OpenCV's GStreamer backend."""

    kind = "gstreamer"

    def __init__(self, pipeline: str, width: int | None = None, height: int | None = None) -> None:
        super().__init__(pipeline, width, height)
        self.pipeline = pipeline

    def _make_capture(self) -> cv2.VideoCapture:
        if not gstreamer_available():
            raise self._error(
                "this OpenCV build has no GStreamer backend (opencv-python wheels lack it); "
                "use an OpenCV built with GStreamer, or an rtsp:// URL"
            )
        return cv2.VideoCapture(self.pipeline, cv2.CAP_GSTREAMER)

    def _open_failure_hint(self) -> str:
        return "GStreamer could not start this pipeline (it must end in 'appsink')"


def gstreamer_available() -> bool:
    """Whether this OpenCV can open GStreamer pipelines."""
    try:
        from cv2 import videoio_registry

        return bool(videoio_registry.hasBackend(cv2.CAP_GSTREAMER))
    except (ImportError, AttributeError, cv2.error):
        return False
