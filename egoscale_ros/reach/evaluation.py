"""Pure pieces of the reaching evaluation: the balls of a run and the deliberately wrong frame.

``egoscale-ros eval-synthetic`` (the shell in ``nodes/eval_synthetic_command.py``) runs the graph;
what it scores against and how it breaks the policy on purpose lives here, tested directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

MIN_BALL_SEPARATION_M = 0.08
# The wrong frame --flip-frame reads relative steps in: for a wrist- or base-frame policy the camera
# frame (a robot's head camera looks down and sideways: its axes are 130-170 degrees from the
# wrist's and the base's), for a camera-frame policy the wrist frame. A smaller error, such as wrist
# read as base (about 80 degrees on these robots), still converges in closed loop, only slower:
# --flip-to picks it explicitly.
FLIPPED_FRAME = {"wrist": "camera", "base": "camera", "camera": "wrist"}


def flipped_manifest(manifest_path: str | os.PathLike, out_dir: str | os.PathLike, frame: str | None = None) -> Path:
    """A copy of the manifest whose relative wrist steps are read in the wrong frame.

    Model files are referenced by absolute path, so the copy can live anywhere.
    """
    from egoscale_ros.policy.layout import ActionLayout
    from egoscale_ros.policy.manifest import ActionSpec, load_manifest

    manifest = load_manifest(manifest_path)
    layout = manifest.layout
    if layout.representation != "relative":
        raise ValueError(f"{manifest.path}: --flip-frame needs relative wrist actions, not {layout.representation}")
    frame = frame or FLIPPED_FRAME[layout.frame]
    if frame == layout.frame:
        raise ValueError(f"{manifest.path}: the policy's steps are already in the {frame} frame; flip to another")
    flipped = ActionLayout(horizon=layout.horizon, dt=layout.dt, rotation=layout.rotation,
                           representation=layout.representation, frame=frame,
                           hand_joints=layout.hand_joints)
    manifest.action = ActionSpec(flipped, manifest.action.mean, manifest.action.std)
    manifest.backends = {name: {k: (str(manifest.folder / v) if isinstance(v, str) and v.endswith((".onnx", ".pt"))
                                    else v) for k, v in entry.items()}
                         for name, entry in manifest.backends.items()}
    manifest.name = f"{manifest.name} (frame flipped: {layout.frame} read as {flipped.frame})"
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    manifest.path = Path(out_dir) / "manifest.yaml"
    return manifest.save()


def episode_balls(task, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` ball positions, each at least :data:`MIN_BALL_SEPARATION_M` from the one before
    (where the wrist waits), the first that far from the wrist's home."""
    pool = task.sample_balls(8 * n, rng)
    previous = task.home_wrist[task.side][:3, 3]
    out = []
    for ball in pool:
        if np.linalg.norm(ball - previous) >= MIN_BALL_SEPARATION_M:
            out.append(ball)
            previous = ball
        if len(out) == n:
            return np.array(out)
    raise RuntimeError(f"could not draw {n} balls {MIN_BALL_SEPARATION_M} m apart in turn")
