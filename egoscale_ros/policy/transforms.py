"""Pre- and post-processing around the policy runtimes, driven by the manifest.

Pipeline (in the order the policy node applies it):

1. :func:`image_to_rgb` - raw ROS image fields -> RGB uint8, converting the encodings it can
   (bgr8, rgba8, bgra8, mono8) and rejecting the rest with :class:`ImageRejected`.
2. :func:`preprocess_images` - fit to the model's square input (centre crop or stretch), scale to
   [0, 1], normalise per channel, stack as ``(1, cameras, 3, S, S)`` float32.
3. :func:`normalise_state` - joint positions by name -> normalised vector + mask (1 = measured).
4. runtime -> normalised actions ``(H, dim)``; :func:`denormalise_actions`.
5. :func:`decode_chunk` - rotation decoding (rot6d | quaternion), relative wrist steps composed
   with the wrist pose at observation time (or absolute poses, camera-frame ones mapped through
   the camera extrinsics) -> :class:`ActionChunk` of absolute base-frame targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from egoscale_ros.chunking.chunk import ActionChunk, make_chunk
from egoscale_ros.kinematics import se3
from egoscale_ros.policy.layout import ActionLayout
from egoscale_ros.policy.manifest import ActionSpec, ImageSpec, StateSpec


class ImageRejected(ValueError):
    """An image the policy cannot use (unsupported encoding, inconsistent buffer)."""


# encoding -> (channels, OpenCV conversion to RGB or None)
_ENCODINGS = {
    "rgb8": (3, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB),
    "mono8": (1, cv2.COLOR_GRAY2RGB),
    "8uc3": (3, None),
}
SUPPORTED_ENCODINGS = tuple(sorted(_ENCODINGS))
# Below this a frame carries no usable scene (a broken driver, a thumbnail stream): refuse it
# rather than upscale noise into the policy.
MIN_IMAGE_SIDE = 16


def image_to_rgb(encoding: str, height: int, width: int, step: int, data) -> tuple[np.ndarray, bool]:
    """Raw image buffer -> ``(H, W, 3)`` RGB uint8 and whether a conversion was needed.

    ``data`` is the message's byte buffer (bytes, array.array or ndarray). Row padding
    (``step > width * channels``) is handled.
    """
    enc = encoding.lower()
    if enc not in _ENCODINGS:
        raise ImageRejected(f"image encoding {encoding!r} is not supported (supported: {', '.join(SUPPORTED_ENCODINGS)})")
    channels, conversion = _ENCODINGS[enc]
    if min(height, width) < MIN_IMAGE_SIDE:
        raise ImageRejected(f"image of {width}x{height} is too small (at least {MIN_IMAGE_SIDE} px a side)")
    if step < width * channels:
        raise ImageRejected(f"image step {step} is smaller than width*channels = {width * channels}")
    buf = data.reshape(-1).view(np.uint8) if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
    if buf.size < step * height:
        raise ImageRejected(f"image data has {buf.size} bytes, expected step*height = {step * height}")
    rows = buf[: step * height].reshape(height, step)[:, : width * channels]
    img = rows.reshape(height, width, channels)
    if conversion is None:
        return img, False
    return cv2.cvtColor(img, conversion), True


def fit_image(rgb: np.ndarray, size: int, mode: str = "center_crop") -> np.ndarray:
    """Square ``size`` x ``size`` RGB: centre-crop to square then resize, or stretch."""
    h, w = rgb.shape[:2]
    if mode == "center_crop" and h != w:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        rgb = rgb[top: top + side, left: left + side]
    if rgb.shape[0] == size and rgb.shape[1] == size:
        return rgb
    shrinking = rgb.shape[0] > size
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def normalise_pixels(rgb: np.ndarray, spec: ImageSpec) -> np.ndarray:
    """RGB uint8 ``(..., S, S, 3)`` -> normalised float32 ``(..., 3, S, S)``: ``(x / 255 - mean) / std``."""
    mean = np.asarray(spec.mean, np.float32)
    inv_std = 1.0 / np.asarray(spec.std, np.float32)
    scaled = (rgb.astype(np.float32) * np.float32(1.0 / 255.0) - mean) * inv_std
    return np.moveaxis(scaled, -1, -3)


def preprocess_images(images: Sequence[np.ndarray], spec: ImageSpec) -> np.ndarray:
    """RGB uint8 images (one per camera slot) -> normalised ``(1, cameras, 3, S, S)`` float32."""
    if len(images) != spec.cameras:
        raise ValueError(f"the policy takes {spec.cameras} camera image(s), got {len(images)}")
    fitted = []
    for i, img in enumerate(images):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f"camera slot {i}: expected an RGB uint8 (H, W, 3) image, got {img.dtype} {img.shape}")
        fitted.append(fit_image(img, spec.size, spec.resize))
    return np.ascontiguousarray(normalise_pixels(np.stack(fitted)[None], spec))


def normalise_state(positions: Mapping[str, float], spec: StateSpec) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions by name -> ``(state, mask)`` float32 vectors in the manifest's order.

    Joints absent from ``positions`` or not finite are *missing*: value 0 and mask 0, which the
    model replaces by its learned missing-state handling instead of reading a fake angle.
    """
    n = len(spec.joints)
    state = np.zeros(n, np.float32)
    mask = np.zeros(n, np.float32)
    for i, name in enumerate(spec.joints):
        value = positions.get(name)
        if value is not None and np.isfinite(value):
            state[i] = (float(value) - spec.mean[i]) / spec.std[i]
            mask[i] = 1.0
    return state, mask


def normalise_actions(actions: np.ndarray, spec: ActionSpec) -> np.ndarray:
    """Raw actions -> model space (used to build training targets)."""
    return (np.asarray(actions) - spec.mean) / spec.std


def denormalise_actions(normalised: np.ndarray, spec: ActionSpec) -> np.ndarray:
    """Model output ``(..., dim)`` -> actions in the layout's units (metres, rot params, radians)."""
    return np.asarray(normalised, dtype=np.float64) * spec.std + spec.mean


def decode_rotations(params: np.ndarray, rotation: str) -> np.ndarray:
    """``(H, 6)`` rot6d or ``(H, 4)`` quaternion (x, y, z, w) -> ``(H, 3, 3)`` rotation matrices."""
    if rotation == "rot6d":
        return se3.rot6d_to_matrix(params)
    if rotation == "quaternion":
        return se3.quat_to_matrix(params)
    raise ValueError(f"unknown rotation representation {rotation!r}")


def rotations_to_quaternions(rot: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` -> unit quaternions ``(..., 4)`` (x, y, z, w), ``w >= 0``.

    Batched form of :func:`egoscale_ros.kinematics.se3.matrix_to_quat` (Shepperd's method: the
    largest of w, x, y, z is computed from the diagonal, the others from off-diagonal terms), so a
    whole chunk converts in one numpy pass when messages are built.
    """
    m = np.asarray(rot, dtype=np.float64)
    flat = m.reshape(-1, 3, 3)
    d0, d1, d2 = flat[:, 0, 0], flat[:, 1, 1], flat[:, 2, 2]
    cand = np.stack([1 + d0 - d1 - d2, 1 - d0 + d1 - d2, 1 - d0 - d1 + d2, 1 + d0 + d1 + d2], axis=-1)
    pick = np.argmax(cand, axis=-1)
    s = 2.0 * np.sqrt(np.maximum(cand[np.arange(len(flat)), pick], 1e-12))
    r21, r12 = flat[:, 2, 1], flat[:, 1, 2]
    r02, r20 = flat[:, 0, 2], flat[:, 2, 0]
    r10, r01 = flat[:, 1, 0], flat[:, 0, 1]
    q = np.empty((len(flat), 4))
    options = [
        np.stack([0.25 * s, (r01 + r10) / s, (r02 + r20) / s, (r21 - r12) / s], -1),
        np.stack([(r01 + r10) / s, 0.25 * s, (r12 + r21) / s, (r02 - r20) / s], -1),
        np.stack([(r02 + r20) / s, (r12 + r21) / s, 0.25 * s, (r10 - r01) / s], -1),
        np.stack([(r21 - r12) / s, (r02 - r20) / s, (r10 - r01) / s, 0.25 * s], -1),
    ]
    for i, option in enumerate(options):
        q[pick == i] = option[pick == i]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q[q[:, 3] < 0] *= -1
    return q.reshape(m.shape[:-2] + (4,))


def _compose_steps(start: np.ndarray, steps: np.ndarray, frame: str,
                   base_T_camera: np.ndarray | None) -> np.ndarray:
    """Absolute poses from relative steps expressed in ``frame`` (see :func:`decode_chunk`)."""
    poses = np.empty_like(steps)
    current = start
    if frame == "wrist":
        for k in range(steps.shape[0]):
            current = current @ steps[k]
            poses[k] = current
        return poses
    if frame == "camera":
        if base_T_camera is None:
            raise ValueError("camera-frame relative wrist actions need the camera extrinsics (base_T_camera)")
        c = np.asarray(base_T_camera, dtype=np.float64)[:3, :3]
        rot = c @ steps[:, :3, :3] @ c.T
        trans = steps[:, :3, 3] @ c.T
    else:
        rot, trans = steps[:, :3, :3], steps[:, :3, 3]
    for k in range(steps.shape[0]):
        nxt = np.eye(4)
        nxt[:3, :3] = rot[k] @ current[:3, :3]
        nxt[:3, 3] = current[:3, 3] + trans[k]
        poses[k] = current = nxt
    return poses


def decode_chunk(actions: np.ndarray, layout: ActionLayout, stamp_ns: int,
                 wrist_at_observation: Mapping[str, np.ndarray] | None = None,
                 base_T_camera: np.ndarray | None = None, frame: str = "") -> ActionChunk:
    """Denormalised actions ``(H, dim)`` -> :class:`ActionChunk` of absolute base-frame targets.

    Relative layouts: ``a_k`` is the step from k-1 to k (step 0 from the wrist at observation
    time, ``wrist_at_observation[side]``), expressed per ``layout.frame``:

    - ``wrist``: in the wrist frame of step k-1, ``T_k = T_{k-1} @ A_k``;
    - ``base``: rotation and translation along the base axes, ``R_k = R_A R_{k-1}``,
      ``p_k = p_{k-1} + t_A`` (the wrist turns about itself);
    - ``camera``: the same along the camera's axes (``base_T_camera``'s rotation C):
      ``R_k = C R_A Cᵀ R_{k-1}``, ``p_k = p_{k-1} + C t_A``.

    Absolute layouts: ``a_k`` is the pose itself, in the base frame or - for ``frame: camera``
    (EgoVLA-style) - in the camera frame, mapped to the base by ``base_T_camera``.

    ``frame`` names the robot's base frame (what ``wrist_at_observation`` is in); the chunk
    carries it so that its consumer can check it. Raises :class:`ChunkError` for a decoded chunk
    that is not finite or not rigid.
    """
    actions = np.asarray(actions, dtype=np.float64)
    if actions.shape != (layout.horizon, layout.dim):
        raise ValueError(f"action chunk has shape {actions.shape}, the layout expects {(layout.horizon, layout.dim)}")
    wrists, hands, names = {}, {}, {}
    for side, hand in layout.hands.items():
        step = np.zeros((layout.horizon, 4, 4))
        step[:, :3, :3] = decode_rotations(actions[:, hand.rotation_slice], layout.rotation)
        step[:, :3, 3] = actions[:, hand.translation]
        step[:, 3, 3] = 1.0
        if layout.representation == "relative":
            if wrist_at_observation is None or side not in wrist_at_observation:
                raise ValueError(f"relative wrist actions need the {side} wrist pose at observation time")
            start = np.asarray(wrist_at_observation[side], dtype=np.float64)
            poses = _compose_steps(start, step, layout.frame, base_T_camera)
        elif layout.frame == "camera":
            if base_T_camera is None:
                raise ValueError("camera-frame absolute wrist actions need the camera extrinsics (base_T_camera)")
            poses = np.asarray(base_T_camera, dtype=np.float64) @ step
        else:
            poses = step
        wrists[side] = poses
        hands[side] = actions[:, hand.joints].copy()
        names[side] = list(hand.joint_names)
    return make_chunk(int(stamp_ns), layout.dt, wrists, hands, hand_joint_names=names, frame=frame)


def encode_rotations(rot: np.ndarray, rotation: str) -> np.ndarray:
    """Inverse of :func:`decode_rotations`: ``(H, 3, 3)`` -> rot6d ``(H, 6)`` or quaternion ``(H, 4)``."""
    if rotation == "rot6d":
        return se3.matrix_to_rot6d(rot)
    if rotation == "quaternion":
        return rotations_to_quaternions(rot)
    raise ValueError(f"unknown rotation representation {rotation!r}")


def _relative_steps(previous: np.ndarray, poses: np.ndarray, frame: str,
                    base_T_camera: np.ndarray | None) -> np.ndarray:
    """Steps ``A_k`` from ``previous[k]`` to ``poses[k]`` in ``frame``: the inverse of ``_compose_steps``."""
    if frame == "wrist":
        return np.linalg.inv(previous) @ poses
    rot = poses[:, :3, :3] @ np.swapaxes(previous[:, :3, :3], -1, -2)
    trans = poses[:, :3, 3] - previous[:, :3, 3]
    if frame == "camera":
        if base_T_camera is None:
            raise ValueError("camera-frame relative wrist actions need the camera extrinsics (base_T_camera)")
        c = np.asarray(base_T_camera, dtype=np.float64)[:3, :3]
        rot = c.T @ rot @ c
        trans = trans @ c
    steps = np.zeros_like(poses)
    steps[:, :3, :3] = rot
    steps[:, :3, 3] = trans
    steps[:, 3, 3] = 1.0
    return steps


def encode_chunk(chunk: ActionChunk, layout: ActionLayout,
                 wrist_at_observation: Mapping[str, np.ndarray] | None = None,
                 base_T_camera: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`decode_chunk`: absolute base-frame targets -> raw actions ``(H, dim)``.

    Demonstrations are written with this, so they mean exactly what the deployed decoding reads
    from a policy's output: ``decode_chunk(encode_chunk(c, ...), ...)`` reproduces ``c``.
    """
    actions = np.zeros((layout.horizon, layout.dim))
    for side, hand in layout.hands.items():
        poses = np.asarray(chunk.wrist[side], dtype=float)
        if poses.shape != (layout.horizon, 4, 4):
            raise ValueError(f"{side} wrist: {poses.shape} poses for a horizon of {layout.horizon}")
        if layout.representation == "relative":
            if wrist_at_observation is None or side not in wrist_at_observation:
                raise ValueError(f"relative wrist actions need the {side} wrist pose at observation time")
            previous = np.concatenate([np.asarray(wrist_at_observation[side], dtype=float)[None], poses[:-1]])
            steps = _relative_steps(previous, poses, layout.frame, base_T_camera)
        elif layout.frame == "camera":
            if base_T_camera is None:
                raise ValueError("camera-frame absolute wrist actions need the camera extrinsics (base_T_camera)")
            steps = np.linalg.inv(np.asarray(base_T_camera, dtype=float)) @ poses
        else:
            steps = poses
        actions[:, hand.translation] = steps[:, :3, 3]
        actions[:, hand.rotation_slice] = encode_rotations(steps[:, :3, :3], layout.rotation)
        values = np.asarray(chunk.hand[side], dtype=float)
        if list(chunk.hand_joint_names[side]) != list(hand.joint_names):
            raise ValueError(f"{side} hand: the chunk's joints differ from the layout's")
        actions[:, hand.joints] = values
    return actions
