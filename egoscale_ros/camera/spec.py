"""Parse a camera source spec (a launch argument / node parameter) into what to open.

Accepted forms:

- V4L2 device: an int index (``0``), a digit string (``"0"``), ``v4l2:0``, ``v4l2:/dev/video0``,
  or a ``/dev/video*`` path.
- Video file: ``file:PATH`` or a path ending in a video extension (``.mp4``, ``.avi``, ...).
- Image folder: ``folder:DIR`` or an existing directory.
- Network stream through OpenCV/FFmpeg: ``rtsp://``, ``rtsps://``, ``http://``, ``https://``,
  ``rtmp://``, ``udp://``, ``tcp://`` URLs.
- GStreamer pipeline through OpenCV: ``gst:PIPELINE`` (ending in an ``appsink``).
- The built-in deterministic scene: ``synthetic``.
- The reaching task's scene, a ball on a table seen through a robot's camera: ``reach`` (or
  ``reach:blank``, the same camera showing a uniform grey frame); the camera node builds it from
  its robot's config and moves the ball on ``sim/ball``.

File, folder and synthetic specs may end in options ``?loop=true`` (``loop=false``); network URLs
are passed through untouched, since ``?`` belongs to them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".mjpeg", ".mjpg")
STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
KINDS = ("v4l2", "file", "folder", "stream", "gstreamer", "synthetic", "reach")
REACH_SPECS = ("reach", "reach:blank")


@dataclass(frozen=True)
class SourceSpec:
    """What to open: ``kind`` (one of :data:`KINDS`), ``target`` (index, path, URL or pipeline),
    and ``loop`` when the spec said so (``None`` = the kind's default)."""

    kind: str
    target: int | str
    loop: bool | None = None
    text: str = ""


def _split_options(text: str) -> tuple[str, bool | None]:
    if "?" not in text:
        return text, None
    body, _, query = text.rpartition("?")
    loop: bool | None = None
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        if key != "loop":
            raise ValueError(f"camera source '{text}': unknown option '{key}' (known: loop)")
        value = value.strip().lower() or "true"
        if value not in ("1", "true", "yes", "0", "false", "no"):
            raise ValueError(f"camera source '{text}': option loop must be true or false (got '{value}')")
        loop = value in ("1", "true", "yes")
    return body, loop


def parse_spec(spec: int | str | os.PathLike) -> SourceSpec:
    """Classify ``spec``; raises ValueError naming it when it fits no known form."""
    if isinstance(spec, bool):
        raise ValueError(f"camera source {spec!r}: expected a device index, path, URL or keyword")
    if isinstance(spec, int):
        if spec < 0:
            raise ValueError(f"camera source {spec}: a device index must be >= 0")
        return SourceSpec("v4l2", spec, text=str(spec))
    text = os.fspath(spec).strip()
    if not text:
        raise ValueError("camera source is empty: give a device index, a path, a URL or 'synthetic'")
    lowered = text.lower()
    if lowered.startswith(STREAM_SCHEMES):
        return SourceSpec("stream", text, text=text)
    if lowered.startswith("gst:"):
        pipeline = text[4:].strip()
        if not pipeline:
            raise ValueError(f"camera source '{text}': empty GStreamer pipeline")
        return SourceSpec("gstreamer", pipeline, text=text)
    if text.isdigit():
        return SourceSpec("v4l2", int(text), text=text)
    if lowered.startswith("v4l2:"):
        device = text[5:].strip()
        if not device:
            raise ValueError(f"camera source '{text}': missing device index or path after 'v4l2:'")
        return SourceSpec("v4l2", int(device) if device.isdigit() else device, text=text)
    if text.startswith("/dev/video"):
        return SourceSpec("v4l2", text, text=text)
    body, loop = _split_options(text)
    if body.lower() in REACH_SPECS:
        return SourceSpec("reach", body.lower(), loop, text)
    if body.lower() in ("synthetic", "synthetic:"):
        return SourceSpec("synthetic", "synthetic", loop, text)
    if body.lower().startswith("file:"):
        return SourceSpec("file", _path(body[5:], text), loop, text)
    if body.lower().startswith("folder:"):
        return SourceSpec("folder", _path(body[7:], text), loop, text)
    if body.lower().endswith(VIDEO_EXTENSIONS):
        return SourceSpec("file", _path(body, text), loop, text)
    if Path(os.path.expanduser(body)).is_dir():
        return SourceSpec("folder", _path(body, text), loop, text)
    raise ValueError(
        f"camera source '{text}' is not recognised: use a device index or v4l2:DEVICE, file:PATH "
        f"(or a path ending in {', '.join(VIDEO_EXTENSIONS[:4])}...), folder:DIR, an rtsp/http URL, "
        "gst:PIPELINE, synthetic or reach"
    )


def _path(raw: str, text: str) -> str:
    raw = raw.strip()
    if not raw:
        raise ValueError(f"camera source '{text}': missing path")
    return os.path.expanduser(raw)
