"""A built-in deterministic egocentric scene, so the whole graph runs with no camera and no file.

The view: a textured wall above a wooden table seen from above and in front; a red block slides
on an ellipse across the table and spins, casting a soft shadow; a blue cup stands still. Frame
``n`` is a pure function of ``n`` and the size (nothing random, no clock), so tests and demos
are reproducible, and the motion gives a policy something to look at.

Each frame also carries its index as a 16-bit black/white code in the top-left corner
(:func:`read_frame_code`), so a downstream consumer can tell which frame it received and
measure end-to-end latency without trusting stamps.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from egoscale_ros.camera.source import FrameSource

PERIOD_FRAMES = 180  # one lap of the ellipse (6 s at 30 fps)
SPIN_FRAMES = 90  # one turn of the block
CODE_BITS = 16
DEFAULT_SIZE = (640, 480)

_WALL = np.array([196.0, 188.0, 172.0])
_WOOD = np.array([150.0, 104.0, 62.0])


def _hash_noise(width: int, height: int, cell: int, salt: int) -> np.ndarray:
    """Value noise in [0, 1] from an integer hash of cell coordinates (no RNG: bit-identical)."""
    gw, gh = width // cell + 2, height // cell + 2
    y, x = np.mgrid[0:gh, 0:gw].astype(np.uint64)
    h = (x * np.uint64(374761393) + y * np.uint64(668265263) + np.uint64(salt) * np.uint64(2246822519))
    h &= np.uint64(0xFFFFFFFF)
    h = ((h ^ (h >> np.uint64(13))) * np.uint64(1274126177)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    grid = (h & np.uint64(0xFFFF)).astype(np.float32) / 65535.0
    return cv2.resize(grid, (gw * cell, gh * cell), interpolation=cv2.INTER_LINEAR)[:height, :width]


@lru_cache(maxsize=8)
def _background(width: int, height: int) -> np.ndarray:
    """Wall + table for one size, computed once (read-only)."""
    horizon = int(round(0.38 * height))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.empty((height, width, 3), np.float32)

    wall_noise = _hash_noise(width, height, max(2, width // 64), 1)
    panels = (np.floor(xx / max(8, width // 8)) % 2) * 10.0
    wall = _WALL[None, None, :] * (0.85 + 0.2 * wall_noise[..., None]) - panels[..., None]
    img[:horizon] = wall[:horizon]

    # Wood grain: stretched noise + stripes that converge towards the horizon (fake perspective).
    depth = np.clip((yy - horizon) / max(1, height - horizon), 0.0, 1.0)
    u = (xx - width / 2) / (0.4 + 0.6 * depth + 1e-6)
    grain = 0.5 + 0.5 * np.sin(u / max(3.0, width / 90.0) + 3.0 * _hash_noise(width, height, max(4, width // 24), 2))
    fine = _hash_noise(width, height, max(1, width // 320), 3)
    shade = 0.55 + 0.45 * depth
    table = _WOOD[None, None, :] * (shade * (0.8 + 0.15 * grain + 0.1 * fine))[..., None]
    img[horizon:] = table[horizon:]
    img[horizon : horizon + max(1, height // 120)] = 60.0  # table edge

    out = np.clip(img, 0, 255).astype(np.uint8)
    # Static blue cup at the right of the table.
    cx, cy, r = int(0.78 * width), int(0.62 * height), max(3, int(0.045 * width))
    cv2.ellipse(out, (cx + r // 3, cy + r), (r, r // 3), 0, 0, 360, (70, 50, 30), -1, cv2.LINE_AA)
    cv2.rectangle(out, (cx - r, cy - r), (cx + r, cy + r), (40, 70, 190), -1, cv2.LINE_AA)
    cv2.ellipse(out, (cx, cy - r), (r, max(1, r // 3)), 0, 0, 360, (90, 120, 230), -1, cv2.LINE_AA)
    out.setflags(write=False)
    return out


# The block's ellipse in normalised image coordinates: centre and half-axes (x right, y down).
# The reference policy's synthetic training scenes are centred on the same point.
ORBIT_CENTRE = (0.5, 0.68)
ORBIT_RADII = (0.28, 0.12)


def object_position(n: int, width: int, height: int) -> tuple[float, float]:
    """Pixel centre of the moving block in frame ``n`` (ground truth for tests and demos)."""
    phase = 2.0 * np.pi * (n % PERIOD_FRAMES) / PERIOD_FRAMES
    return (width * (ORBIT_CENTRE[0] + ORBIT_RADII[0] * np.cos(phase)),
            height * (ORBIT_CENTRE[1] + ORBIT_RADII[1] * np.sin(phase)))


def render_synthetic_frame(n: int, width: int = DEFAULT_SIZE[0], height: int = DEFAULT_SIZE[1]) -> np.ndarray:
    """Frame ``n`` of the synthetic scene as rgb8 ``height×width×3`` (pure function of its arguments)."""
    if width < 16 or height < 16:
        raise ValueError(f"synthetic scene needs at least 16x16 pixels (got {width}x{height})")
    n = int(n)
    frame = _background(width, height).copy()
    x, y = object_position(n, width, height)
    depth = (y - 0.38 * height) / (0.62 * height)
    half = max(3.0, 0.05 * width * (0.6 + 0.6 * depth))
    spin = 2.0 * np.pi * (n % SPIN_FRAMES) / SPIN_FRAMES
    c, s = np.cos(spin), np.sin(spin)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * half
    squash = np.array([1.0, 0.55])  # seen from above at an angle
    pts = (corners @ np.array([[c, s], [-s, c]])) * squash + (x, y)
    shadow = (pts + (0.35 * half, 0.45 * half)).round().astype(np.int32)
    cv2.fillPoly(frame, [shadow], (70, 45, 25), cv2.LINE_AA)
    top = pts - (0, 0.9 * half)
    cv2.fillPoly(frame, [np.vstack([pts, top[::-1]]).round().astype(np.int32)], (150, 20, 20), cv2.LINE_AA)
    cv2.fillPoly(frame, [top.round().astype(np.int32)], (225, 40, 35), cv2.LINE_AA)
    _draw_code(frame, n)
    return frame


def _code_cell(width: int) -> int:
    return max(2, width // 80)


def _draw_code(frame: np.ndarray, n: int) -> None:
    cell = _code_cell(frame.shape[1])
    for bit in range(CODE_BITS):
        value = 255 if (n >> bit) & 1 else 0
        frame[:cell, bit * cell : (bit + 1) * cell] = value


def read_frame_code(frame: np.ndarray) -> int:
    """Frame index (mod 2**16) drawn by :func:`render_synthetic_frame`; survives mild JPEG/resizing."""
    cell = _code_cell(frame.shape[1])
    gray = frame[:cell, : CODE_BITS * cell].mean(axis=2) if frame.ndim == 3 else frame[:cell, : CODE_BITS * cell]
    n = 0
    for bit in range(CODE_BITS):
        block = gray[cell // 4 : cell - cell // 4 or cell, bit * cell + cell // 4 : (bit + 1) * cell - cell // 4]
        if block.size == 0:
            block = gray[:, bit * cell : (bit + 1) * cell]
        if float(block.mean()) > 127.0:
            n |= 1 << bit
    return n


class SyntheticSource(FrameSource):
    """The synthetic scene as a source: ``read()`` returns frames 0, 1, 2, ... (never fails).

    It renders natively at the requested size (default 640×480), so no resize is spent.
    """

    kind = "synthetic"

    def __init__(self, width: int | None = None, height: int | None = None, start_frame: int = 0) -> None:
        super().__init__("synthetic", width, height)
        if width is None and height is None:
            width, height = DEFAULT_SIZE
        elif width is None:
            width = max(16, round(height * DEFAULT_SIZE[0] / DEFAULT_SIZE[1]))
        elif height is None:
            height = max(16, round(width * DEFAULT_SIZE[1] / DEFAULT_SIZE[0]))
        self.width, self.height = int(width), int(height)
        self.start_frame = int(start_frame)
        self.next_frame = self.start_frame

    def _open(self) -> None:
        render_synthetic_frame(0, self.width, self.height)  # validates the size now, not at first read
        self.next_frame = self.start_frame

    def _read_raw(self) -> np.ndarray:
        frame = render_synthetic_frame(self.next_frame, self.width, self.height)
        self.next_frame += 1
        return frame

    def _close(self) -> None:
        pass

    def _detail(self) -> str:
        return f"deterministic scene, next frame {self.next_frame}"
