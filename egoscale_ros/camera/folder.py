"""A folder of still images played as a camera: files in natural sort order, looping by default.

Useful to replay recorded egocentric frames without encoding a video. Unreadable files are
skipped (and counted), so one corrupt frame does not stop a replay.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from egoscale_ros.camera.image_ops import to_rgb8
from egoscale_ros.camera.source import FrameSource

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def natural_key(name: str) -> list:
    """Sort key that orders ``frame_2`` before ``frame_10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, naturally sorted."""
    files = [p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(files, key=lambda p: natural_key(p.name))


class ImageFolderSource(FrameSource):
    """Images of a folder, one per ``read()``; wraps around when ``loop`` (default), else finishes."""

    kind = "folder"

    def __init__(self, folder: str, width: int | None = None, height: int | None = None,
                 loop: bool = True) -> None:
        super().__init__(folder, width, height)
        self.folder = folder
        self.loop = bool(loop)
        self.files: list[Path] = []
        self.unreadable = 0
        self.loops_completed = 0
        self._index = 0

    def _open(self) -> None:
        if not os.path.isdir(self.folder):
            raise self._error("folder not found")
        self.files = list_images(self.folder)
        if not self.files:
            raise self._error(f"no images in the folder (extensions: {', '.join(IMAGE_EXTENSIONS)})")
        self._index = 0

    def _read_raw(self) -> np.ndarray | None:
        # At most one full pass per call: a folder of only unreadable files yields None, not a hang.
        for _ in range(len(self.files)):
            if self._index >= len(self.files):
                if not self.loop:
                    self.finished = True
                    return None
                self._index = 0
                self.loops_completed += 1
            path = self.files[self._index]
            self._index += 1
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if image is None:
                self.unreadable += 1
                continue
            return to_rgb8(image)
        return None

    def _close(self) -> None:
        self._index = 0

    def _detail(self) -> str:
        loop = "loop" if self.loop else "no loop"
        return f"{len(self.files)} images, at {self._index}; {loop}; {self.unreadable} unreadable"
