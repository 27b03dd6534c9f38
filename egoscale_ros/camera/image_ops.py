"""Small image helpers shared by the frame sources and the camera node: colour order, resize, JPEG.

OpenCV decodes to BGR; every frame leaving a :class:`~egoscale_ros.camera.source.FrameSource` is
RGB (ROS ``rgb8``). JPEG encoding here produces the ``data`` of a ``sensor_msgs/CompressedImage``
with ``format = "rgb8; jpeg compressed bgr8"`` (the ROS image_transport convention).
"""

from __future__ import annotations

import cv2
import numpy as np

#: value for ``CompressedImage.format`` matching :func:`encode_jpeg`
JPEG_FORMAT = "rgb8; jpeg compressed bgr8"


def to_rgb8(image: np.ndarray, source_order: str = "bgr") -> np.ndarray:
    """Any OpenCV image (gray, BGR, BGRA, 16-bit) → contiguous uint8 RGB ``H×W×3``."""
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        else:
            image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_GRAY2RGB))
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"unsupported image shape {image.shape}: expected H×W, H×W×3 or H×W×4")
    if image.shape[2] == 4:
        code = cv2.COLOR_BGRA2RGB if source_order == "bgr" else cv2.COLOR_RGBA2RGB
        return np.ascontiguousarray(cv2.cvtColor(image, code))
    if source_order == "bgr":
        return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return np.ascontiguousarray(image)


def output_size(native_w: int, native_h: int, width: int | None, height: int | None) -> tuple[int, int]:
    """Requested output size; a single given side keeps the native aspect ratio."""
    if width is None and height is None:
        return native_w, native_h
    if width is None:
        width = max(1, round(native_w * height / native_h))
    if height is None:
        height = max(1, round(native_h * width / native_w))
    return int(width), int(height)


def resize_rgb(frame: np.ndarray, width: int | None, height: int | None) -> np.ndarray:
    """Resize to the requested size (area filter when shrinking, linear when growing); no-op if equal."""
    h, w = frame.shape[:2]
    out_w, out_h = output_size(w, h, width, height)
    if (out_w, out_h) == (w, h):
        return frame
    interp = cv2.INTER_AREA if out_w * out_h < w * h else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(frame, (out_w, out_h), interpolation=interp))


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """rgb8 frame → JPEG bytes (for ``CompressedImage.data``); raises ValueError on bad input."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"encode_jpeg expects an rgb8 H×W×3 uint8 image, got {rgb.shape} {rgb.dtype}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must be in [1, 100] (got {quality})")
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes → rgb8 frame (inverse of :func:`encode_jpeg`, for tests and tools)."""
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not a decodable JPEG image")
    return to_rgb8(image)
