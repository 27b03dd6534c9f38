"""Build a frame source from a spec string: the one entry point a camera node needs."""

from __future__ import annotations

import os

from egoscale_ros.camera.capture import GStreamerSource, StreamSource, V4l2Source, VideoFileSource
from egoscale_ros.camera.folder import ImageFolderSource
from egoscale_ros.camera.source import FrameSource
from egoscale_ros.camera.spec import parse_spec
from egoscale_ros.camera.synthetic import SyntheticSource


def create_source(spec: int | str | os.PathLike, width: int | None = None, height: int | None = None,
                  fps: float = 30.0, loop: bool | None = None) -> FrameSource:
    """Source for ``spec`` (see :mod:`egoscale_ros.camera.spec`), not yet opened.

    ``width``/``height`` set the output size (one alone keeps the aspect ratio); ``fps`` is the
    rate asked of a V4L2 device; ``loop`` overrides the spec's and the kind's default (video
    files: no loop; folders: loop).
    """
    parsed = parse_spec(spec)
    if parsed.kind == "v4l2":
        return V4l2Source(parsed.target, width, height, fps)
    if parsed.kind == "file":
        return VideoFileSource(str(parsed.target), width, height, loop=_pick(loop, parsed.loop, False))
    if parsed.kind == "folder":
        return ImageFolderSource(str(parsed.target), width, height, loop=_pick(loop, parsed.loop, True))
    if parsed.kind == "stream":
        return StreamSource(str(parsed.target), width, height)
    if parsed.kind == "reach":
        raise ValueError(f"camera source '{spec}': the reaching scene is drawn through a robot's camera; "
                         "camera_node builds it from its 'robot' parameter")
    if parsed.kind == "gstreamer":
        return GStreamerSource(str(parsed.target), width, height)
    return SyntheticSource(width, height)


def open_source(spec: int | str | os.PathLike, width: int | None = None, height: int | None = None,
                fps: float = 30.0, loop: bool | None = None) -> FrameSource:
    """:func:`create_source` then ``open()``: raises CameraError naming the source if it cannot open."""
    source = create_source(spec, width, height, fps, loop)
    source.open()
    return source


def _pick(explicit: bool | None, from_spec: bool | None, default: bool) -> bool:
    if explicit is not None:
        return explicit
    return default if from_spec is None else from_spec
