"""The reaching scene: a coloured ball on a table, rendered through a robot's head camera.

A pinhole camera placed by the robot's camera extrinsics (a pose in the robot's base frame)
looks at a horizontal table; a ball lies on it at a position given in the base frame. Every
pixel of the table is the ray-plane intersection of that pixel, so what the image shows is
geometrically consistent with where the ball is for the robot's kinematics: the ball's pixel
position, its apparent size and its shadow all follow from the same base-frame point.

The background (wall + tiled table) depends only on the camera and is computed once; a frame
costs one copy and two filled shapes. ``blank=True`` renders a uniform grey frame instead, for
checking that a policy really uses its image.

Intrinsics are the scene's own (the robot configs state extrinsics only): a horizontal field of
view of :data:`DEFAULT_HFOV_DEG` on the published image.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from egoscale_ros.camera.source import FrameSource

DEFAULT_HFOV_DEG = 110.0
BALL_RADIUS_M = 0.03
BALL_RGB = (215, 30, 30)
BLANK_GREY = 128
TILE_M = 0.1  # table tiles: a texture fixed to the table, so perspective is visible

_WALL = np.array([190.0, 186.0, 176.0])
_WOOD = np.array([156.0, 112.0, 70.0])


@dataclass(frozen=True)
class Pinhole:
    """Pinhole intrinsics of a ``width`` x ``height`` image (optical frame: x right, y down, z forward)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_hfov(cls, width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG) -> Pinhole:
        if not 1.0 < hfov_deg < 179.0:
            raise ValueError(f"horizontal field of view must be in (1, 179) degrees, got {hfov_deg}")
        f = 0.5 * width / np.tan(np.radians(hfov_deg) / 2.0)
        return cls(int(width), int(height), f, f, (width - 1) / 2.0, (height - 1) / 2.0)

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """Points ``(..., 3)`` in the optical frame (z > 0) -> pixel coordinates ``(..., 2)``."""
        p = np.asarray(points_cam, dtype=float)
        z = p[..., 2]
        return np.stack([self.fx * p[..., 0] / z + self.cx, self.fy * p[..., 1] / z + self.cy], axis=-1)

    def rays(self) -> np.ndarray:
        """Per-pixel ray directions ``(height, width, 3)`` with z = 1, in the optical frame."""
        v, u = np.mgrid[0:self.height, 0:self.width].astype(float)
        return np.stack([(u - self.cx) / self.fx, (v - self.cy) / self.fy, np.ones_like(u)], axis=-1)


class ReachScene:
    """Renderer of the ball-on-table scene for one camera pose.

    ``base_T_camera``: the optical frame's pose in the robot's base frame; ``table_z``: the
    table's height in the base frame (the ball rests on it, its centre ``ball_radius`` above).
    """

    def __init__(self, base_T_camera: np.ndarray, intrinsics: Pinhole, table_z: float,
                 ball_radius: float = BALL_RADIUS_M, colour: tuple[int, int, int] = BALL_RGB):
        self.base_T_camera = np.asarray(base_T_camera, dtype=float)
        self.camera_T_base = np.linalg.inv(self.base_T_camera)
        self.intrinsics = intrinsics
        self.table_z = float(table_z)
        self.ball_radius = float(ball_radius)
        self.colour = tuple(int(c) for c in colour)
        if self.base_T_camera[2, 3] <= self.table_z:
            raise ValueError(f"the camera ({self.base_T_camera[2, 3]:.3f} m) must be above the table ({table_z:.3f} m)")
        self._background = self._render_background()

    def ball_centre(self, xy: np.ndarray) -> np.ndarray:
        """Base-frame centre of a ball resting on the table at ``xy``."""
        return np.array([xy[0], xy[1], self.table_z + self.ball_radius], dtype=float)

    def to_camera(self, points_base: np.ndarray) -> np.ndarray:
        p = np.asarray(points_base, dtype=float)
        return p @ self.camera_T_base[:3, :3].T + self.camera_T_base[:3, 3]

    def pixel_of(self, point_base: np.ndarray) -> np.ndarray:
        """Pixel ``(u, v)`` where a base-frame point appears."""
        return self.intrinsics.project(self.to_camera(point_base))

    def visible(self, point_base: np.ndarray, margin_px: float = 0.0, crop_square: bool = False) -> bool:
        """Whether the point lies in front of the camera and inside the image (less ``margin_px``);
        ``crop_square``: inside the centred square a centre-cropping policy keeps."""
        pc = self.to_camera(point_base)
        if pc[2] <= 0.05:
            return False
        u, v = self.intrinsics.project(pc)
        w, h = self.intrinsics.width, self.intrinsics.height
        left, right = 0.0, w - 1.0
        if crop_square and w > h:
            left, right = (w - h) / 2.0, (w + h) / 2.0 - 1.0
        return bool(left + margin_px <= u <= right - margin_px and margin_px <= v <= h - 1 - margin_px)

    def _render_background(self) -> np.ndarray:
        rays_cam = self.intrinsics.rays()
        rays = rays_cam @ self.base_T_camera[:3, :3].T
        origin = self.base_T_camera[:3, 3]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (self.table_z - origin[2]) / rays[..., 2]
        on_table = (rays[..., 2] < 0) & (s > 0)
        hit = origin + np.where(on_table, s, 0.0)[..., None] * rays
        distance = np.where(on_table, s * np.linalg.norm(rays, axis=-1), np.inf)
        on_table &= distance < 4.0  # the table ends; beyond it the wall
        tiles = (np.floor(hit[..., 0] / TILE_M) + np.floor(hit[..., 1] / TILE_M)) % 2
        grain = 0.5 + 0.5 * np.sin(hit[..., 1] * 90.0 + 3.0 * np.sin(hit[..., 0] * 17.0))
        shade = np.clip(1.15 - 0.25 * distance, 0.6, 1.1)
        table = _WOOD * (shade * (0.86 + 0.1 * tiles + 0.06 * grain))[..., None]
        v = np.arange(self.intrinsics.height, dtype=float)[:, None, None]
        wall = _WALL * (0.9 + 0.1 * v / self.intrinsics.height) * np.ones_like(table)
        img = np.where(on_table[..., None], table, wall)
        out = np.clip(img, 0, 255).astype(np.uint8)
        out.setflags(write=False)
        return out

    def render(self, ball_xy: np.ndarray | None = None, blank: bool = False) -> np.ndarray:
        """rgb8 frame with the ball at base-frame ``ball_xy`` on the table (no ball when None)."""
        k = self.intrinsics
        if blank:
            return np.full((k.height, k.width, 3), BLANK_GREY, np.uint8)
        frame = self._background.copy()
        if ball_xy is None:
            return frame
        centre = self.ball_centre(ball_xy)
        centre_cam = self.to_camera(centre)
        if centre_cam[2] <= 0.05:
            return frame
        # Shadow: the ball's footprint disc on the table, projected point by point.
        angles = np.linspace(0.0, 2.0 * np.pi, 24, endpoint=False)
        ring = np.stack([centre[0] + 1.1 * self.ball_radius * np.cos(angles) + 0.3 * self.ball_radius,
                         centre[1] + 1.1 * self.ball_radius * np.sin(angles),
                         np.full_like(angles, self.table_z)], axis=-1)
        shadow = self.pixel_of(ring)
        if np.all(np.isfinite(shadow)):
            cv2.fillPoly(frame, [np.round(shadow * 16).astype(np.int32)], (70, 50, 35), cv2.LINE_AA, shift=4)
        u, v = k.project(centre_cam)
        radius = k.fx * self.ball_radius / centre_cam[2]
        centre_px = (int(round(u * 16)), int(round(v * 16)))
        cv2.circle(frame, centre_px, max(1, int(round(radius * 16))), self.colour, -1, cv2.LINE_AA, shift=4)
        highlight = tuple(min(255, c + 70) for c in self.colour)
        hl = (int(round((u - 0.35 * radius) * 16)), int(round((v - 0.35 * radius) * 16)))
        cv2.circle(frame, hl, max(1, int(round(0.3 * radius * 16))), highlight, -1, cv2.LINE_AA, shift=4)
        return frame


class ReachSource(FrameSource):
    """The reaching scene as a camera source; :meth:`set_ball` moves the ball (thread-safe).

    Until a ball is set the table is empty.
    """

    kind = "reach"

    def __init__(self, scene: ReachScene, blank: bool = False) -> None:
        k = scene.intrinsics
        super().__init__("reach", k.width, k.height)
        self.scene = scene
        self.blank = bool(blank)
        self._ball: np.ndarray | None = None
        self._lock = threading.Lock()
        self.balls_set = 0

    def set_ball(self, xy: np.ndarray | None) -> None:
        """Ball at base-frame ``xy`` (x, y) on the table; None or non-finite removes it."""
        value = None if xy is None else np.asarray(xy, dtype=float)[:2]
        if value is not None and not np.all(np.isfinite(value)):
            value = None
        with self._lock:
            self._ball = value
            self.balls_set += 1

    def _open(self) -> None:
        pass

    def _read_raw(self) -> np.ndarray:
        with self._lock:
            ball = self._ball
        return self.scene.render(ball, self.blank)

    def _close(self) -> None:
        pass

    def _detail(self) -> str:
        with self._lock:
            ball = self._ball
        where = "no ball" if ball is None else f"ball at ({ball[0]:.3f}, {ball[1]:.3f}) m"
        return ("blank, " if self.blank else "") + where
