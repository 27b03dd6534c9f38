"""Synthetic observation/action pairs for training the reference policy without any data set.

The task is simple but real enough that a trained model is not a random function: a coloured
cube lies on a table in the egocentric image; the wrists move toward it in small steps (a few
millimetres and a fraction of a degree per 1/30 s step, so the arms stay reachable when a demo
executes the chunks), and the instruction decides whether the hands close ("pick", "grasp") or
open ("release", "open"). The proprioceptive state is sometimes partly or entirely missing, which
teaches the learnable missing-state token.

Everything here is numpy so the same samples can feed training (torch) and tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egoscale_ros.camera.synthetic import ORBIT_CENTRE
from egoscale_ros.kinematics import se3
from egoscale_ros.policy.layout import ActionLayout

COLOURS = {"red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 200), "yellow": (220, 200, 40)}
CLOSE_VERBS = ("pick up", "grasp", "grab")
OPEN_VERBS = ("release", "let go of", "open the hands near")
HOLD_VERBS = ("look at", "point at")

# Per-step wrist motion scale: ~30 mm/s and ~8 deg/s at 30 Hz.
STEP_TRANSLATION_M = (0.0005, 0.0015)
STEP_ROTATION_RAD = 0.0025

# A plausible open and closed Sharpa Wave posture for the synthetic hand targets (radians). These
# are training targets, not limits: flexion joints bend, abduction joints stay near neutral.
_CLOSED = {"CMC_FE": 0.9, "CMC_AA": 0.3, "MCP_FE": 1.1, "MCP_AA": 0.0, "IP": 0.7, "PIP": 1.2, "DIP": 0.8,
           "CMC": 0.15}
_OPEN = {"CMC_FE": 0.1, "CMC_AA": 0.0, "MCP_FE": 0.05, "MCP_AA": 0.05, "IP": 0.05, "PIP": 0.05, "DIP": 0.05,
         "CMC": 0.0}


def hand_posture(joint_names, closure: np.ndarray) -> np.ndarray:
    """``(len(closure), len(joint_names))`` postures blending open (0) to closed (1).

    Joints are matched by the part of the name after side and finger (``left_index_PIP`` -> PIP);
    joints this table does not know stay at 0.
    """
    def key(name: str) -> str:
        parts = name.split("_")
        while parts and parts[0] in ("left", "right", "thumb", "index", "middle", "ring", "pinky"):
            parts = parts[1:]
        return "_".join(parts)

    open_ = np.array([_OPEN.get(key(n), 0.0) for n in joint_names])
    closed = np.array([_CLOSED.get(key(n), 0.0) for n in joint_names])
    return open_[None] + np.asarray(closure)[:, None] * (closed - open_)[None]


@dataclass
class SyntheticBatch:
    """Raw (un-normalised) samples: images uint8 ``(B, cams, S, S, 3)``, instructions, state,
    state mask ``(B, S)`` and actions ``(B, H, dim)`` in the given layout."""

    images: np.ndarray
    instructions: list[str]
    state: np.ndarray
    state_mask: np.ndarray
    actions: np.ndarray


def render_scene(size: int, cube_xy: np.ndarray, colour: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """A table seen from above-front with one cube; ``cube_xy`` in [0, 1]^2 image coordinates."""
    rows = np.linspace(0.0, 1.0, size)[:, None, None]
    table = np.array([120.0, 100.0, 80.0]) + 60.0 * rows + rng.normal(0.0, 4.0, (size, size, 3))
    img = np.clip(table, 0, 255).astype(np.uint8)
    half = max(2, int(size * rng.uniform(0.06, 0.1)))
    cx, cy = (cube_xy * (size - 1)).astype(int)
    img[max(0, cy - half): cy + half, max(0, cx - half): cx + half] = colour
    return img


def encode_rotation(rot: np.ndarray, rotation: str) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` -> rot6d ``(..., 6)`` or quaternion (x, y, z, w) ``(..., 4)``."""
    if rotation == "rot6d":
        return se3.matrix_to_rot6d(rot)
    flat = rot.reshape(-1, 3, 3)
    return np.stack([se3.matrix_to_quat(r) for r in flat]).reshape(rot.shape[:-2] + (4,))


NOMINAL_WRIST = {"left": se3.make_transform(trans=np.array([0.30, 0.20, 0.10])),
                 "right": se3.make_transform(trans=np.array([0.30, -0.20, 0.10]))}


def make_batch(batch_size: int, layout: ActionLayout, state_dim: int, image_size: int,
               rng: np.random.Generator, num_cameras: int = 1, render: bool = True) -> SyntheticBatch:
    """Draw ``batch_size`` synthetic samples for ``layout`` (relative or absolute wrists).

    ``render=False`` skips the images (all zeros), for statistics that do not need them.
    """
    n, h, dim = batch_size, layout.horizon, layout.dim
    colour_names = rng.choice(list(COLOURS), n)
    # Cubes around the synthetic camera scene's centre, so the reference policy has seen that scene.
    centre = np.array(ORBIT_CENTRE)
    cubes = centre + rng.uniform(-1.0, 1.0, (n, 2)) * np.array([0.35, 0.18])
    kinds = rng.integers(3, size=n)
    images = np.zeros((n, num_cameras, image_size, image_size, 3), np.uint8)
    instructions = []
    for i in range(n):
        if render:
            frame = render_scene(image_size, cubes[i], COLOURS[colour_names[i]], rng)
            images[i] = frame[None]
        verb = rng.choice([CLOSE_VERBS, OPEN_VERBS, HOLD_VERBS][kinds[i]])
        instructions.append(f"{verb} the {colour_names[i]} cube")
    ramp = np.linspace(0.0, 1.0, h)
    closure = np.select([kinds[:, None] == 0, kinds[:, None] == 1],
                        [0.1 + 0.8 * ramp[None], 0.9 - 0.8 * ramp[None]], 0.3 * np.ones((1, h)))
    # Toward the cube relative to the scene centre: image left/right -> base +y/-y, image up/down ->
    # farther/nearer (+x/-x) and higher/lower. Zero mean over the scene, so an executed stream of
    # chunks wanders around the start pose instead of drifting out of the arm's reach.
    offset = cubes - centre
    direction = np.stack([-offset[:, 1], -offset[:, 0], -0.5 * offset[:, 1]], axis=-1)
    direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-6)
    speed = np.where(kinds == 2, STEP_TRANSLATION_M[0] * 0.3, rng.uniform(*STEP_TRANSLATION_M, n))
    actions = np.zeros((n, h, dim))
    for side, hand in layout.hands.items():
        omega = rng.normal(0.0, STEP_ROTATION_RAD / np.sqrt(3), (n, 1, 3)) + rng.normal(0.0, 0.0002, (n, h, 3))
        steps = np.zeros((n, h, 4, 4))
        steps[..., :3, :3] = se3.so3_exp_batch(omega)
        steps[..., :3, 3] = (speed[:, None] * direction)[:, None, :] + rng.normal(0.0, 0.0001, (n, h, 3))
        steps[..., 3, 3] = 1.0
        if layout.representation == "relative":
            poses = steps
        else:
            poses = np.empty_like(steps)
            current = np.broadcast_to(NOMINAL_WRIST[side], (n, 4, 4))
            for k in range(h):
                current = current @ steps[:, k]
                poses[:, k] = current
        actions[..., hand.translation] = poses[..., :3, 3]
        actions[..., hand.rotation_slice] = encode_rotation(poses[..., :3, :3], layout.rotation)
        actions[..., hand.joints] = hand_posture(hand.joint_names, closure.reshape(-1)).reshape(n, h, -1)
    state = rng.normal(0.0, 0.4, (n, state_dim))
    draw = rng.uniform(size=n)[:, None]
    partial = rng.uniform(size=(n, state_dim)) > 0.3
    # 10 %: no proprioception at all (like human video); 10 %: some joints missing.
    state_mask = np.where(draw < 0.1, 0.0, np.where(draw < 0.2, partial, 1.0))
    return SyntheticBatch(images, instructions, state * state_mask, state_mask, actions)


def normalisation_stats(layout: ActionLayout, state_dim: int, samples: int = 2048,
                        seed: int = 12345) -> dict[str, np.ndarray]:
    """Per-dimension mean/std of synthetic actions and states (state stats over measured joints)."""
    rng = np.random.default_rng(seed)
    batch = make_batch(samples, layout, state_dim, image_size=8, rng=rng, render=False)
    acts = batch.actions.reshape(-1, layout.dim)
    measured = batch.state_mask.sum(axis=0).clip(min=1.0)
    s_mean = (batch.state * batch.state_mask).sum(axis=0) / measured
    s_var = (((batch.state - s_mean) * batch.state_mask) ** 2).sum(axis=0) / measured
    return {
        "action_mean": acts.mean(axis=0),
        "action_std": np.maximum(acts.std(axis=0), 1e-4),
        "state_mean": s_mean,
        "state_std": np.maximum(np.sqrt(s_var), 1e-3),
    }
