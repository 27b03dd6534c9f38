"""``egoscale-ros train-synthetic``: train the reaching policy of a robot and export it like any policy.

Demonstrations (:mod:`egoscale_ros.reach.data`) are drawn once, then a
:class:`~egoscale_ros.policy.reach_model.ReachPolicy` is
trained by flow matching on them (seeded: the same arguments give the same weights) and exported
through :func:`egoscale_ros.policy.export.export_policy` - ONNX graphs, checkpoint, manifest and
the ONNX Runtime parity check. Results are cached under ``<cache>/reach_policies/`` keyed by
everything that determines them, so the evaluation and a second call reuse the export.

CLI: ``egoscale-ros train-synthetic --robot g1_dex3 --preset tiny [--out DIR] [--steps N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from egoscale_ros.policy.layout import ActionLayout


@dataclass(frozen=True)
class TrainSettings:
    """What a preset trains with; ``steps`` x ``batch_size`` samples are seen in all."""

    samples: int = 3000
    steps: int = 1200
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0


TRAIN_PRESETS = {"tiny": TrainSettings()}
_CODE = ("policy/transforms.py", "policy/reach_model.py", "reach/task.py", "reach/data.py", "reach/training.py",
         "camera/reach_scene.py")


def code_version() -> str:
    """Hash of the sources that determine a trained reaching policy (a change invalidates the cache)."""
    from egoscale_ros.policy.export import code_version as policy_code_version

    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(policy_code_version().encode())
    for name in _CODE:
        h.update(name.encode())
        h.update((root / name).read_bytes())
    return h.hexdigest()[:16]


def new_reach_policy(preset: str, config, data, layout: ActionLayout, seed: int):
    """A freshly initialised :class:`ReachPolicy` and its manifest (statistics and the action
    chunks' principal components from ``data``)."""
    import torch

    from egoscale_ros.policy.manifest import ActionSpec, ImageSpec, PolicyManifest, StateSpec
    from egoscale_ros.policy.reach_model import PRESETS, ReachPolicy
    from egoscale_ros.reach.task import INSTRUCTION

    if preset not in PRESETS:
        raise ValueError(f"unknown reaching policy preset {preset!r}; choose one of {sorted(PRESETS)}")
    joints = list(config.policy_state_joints)
    model_config = replace(PRESETS[preset], horizon=layout.horizon, action_dim=layout.dim,
                           plan_size=data.plans.shape[1], embodiments={config.embodiment: len(joints)})
    torch.manual_seed(seed)
    policy = ReachPolicy(model_config)
    stats = data.statistics()
    policy.set_action_basis(torch.from_numpy((data.actions - stats["action_mean"]) / stats["action_std"]))
    manifest = PolicyManifest(
        path=Path("manifest.yaml"), name=f"reach-{preset}-{config.name}", preset=f"reach-{preset}",
        embodiment=config.embodiment, image=ImageSpec(size=model_config.image_size, cameras=1),
        max_tokens=model_config.max_tokens, default_instruction=INSTRUCTION,
        state=StateSpec(tuple(joints), stats["state_mean"], stats["state_std"]),
        action=ActionSpec(layout, stats["action_mean"], stats["action_std"]), seed=seed,
    )
    return policy, manifest


def _tensors(data, manifest):
    import torch

    from egoscale_ros.policy.tokenizer import tokenize
    from egoscale_ros.policy.transforms import normalise_actions, normalise_pixels

    state = (data.states - manifest.state.mean) / manifest.state.std
    return {
        "image": torch.from_numpy(np.ascontiguousarray(normalise_pixels(data.images[:, None], manifest.image))),
        "tokens": torch.from_numpy(tokenize(manifest.default_instruction, manifest.max_tokens)[None]),
        "state": torch.from_numpy(state.astype(np.float32)),
        "actions": torch.from_numpy(normalise_actions(data.actions, manifest.action).astype(np.float32)),
        "plan": torch.from_numpy(((data.plans - data.plans.mean(axis=0)) / np.maximum(data.plans.std(axis=0), 1e-4))
                                 .astype(np.float32)),
    }


def train(policy, manifest, data, settings: TrainSettings, progress: bool = True, threads: int | None = 1) -> list[float]:
    """Flow matching on ``data`` (minibatches drawn with the settings' seed); loss per step."""
    import torch
    from tqdm import tqdm

    from egoscale_ros.policy.training import Optimiser

    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        t = _tensors(data, manifest)
        n = len(data)
        generator = torch.Generator().manual_seed(settings.seed)
        optimiser = Optimiser(policy, settings.lr, settings.steps)
        policy.train()
        losses: list[float] = []
        ones = torch.ones(1, t["state"].shape[1])
        bar = tqdm(range(settings.steps), desc=f"train {manifest.name}", unit="step", disable=not progress, file=sys.stderr)
        for _ in bar:
            idx = torch.randint(0, n, (settings.batch_size,), generator=generator)
            b = len(idx)
            losses.append(optimiser.step(policy.flow_matching_loss(
                manifest.embodiment, t["image"][idx], t["tokens"].expand(b, -1), t["state"][idx],
                ones.expand(b, -1), t["actions"][idx], generator=generator, plan=t["plan"][idx])))
            if len(losses) % 25 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-25:]):.4f}")
        policy.eval()
        return losses
    finally:
        torch.set_num_threads(previous)


def train_and_export(robot: str, preset: str, out: Path, settings: TrainSettings, progress: bool = True,
                     threads: int | None = 1) -> dict:
    """Draw demonstrations, train, export to ``out``; returns a summary (losses, times, parity)."""
    from tqdm import tqdm

    from egoscale_ros.policy.export import export_policy
    from egoscale_ros.policy.reach_model import PRESETS
    from egoscale_ros.reach.data import make_demonstrations
    from egoscale_ros.reach.task import ReachTask
    from egoscale_ros.robot.config import load_robot_config

    config = load_robot_config(robot)
    task = ReachTask(config)
    layout = ActionLayout()
    rng = np.random.default_rng(settings.seed)
    t0 = time.monotonic()
    with tqdm(total=settings.samples, desc="demonstrations", unit="sample", disable=not progress,
              file=sys.stderr) as bar:
        data = make_demonstrations(task, layout, list(config.policy_state_joints), settings.samples,
                                   PRESETS[preset].image_size, rng, progress=bar.update)
    t1 = time.monotonic()
    policy, manifest = new_reach_policy(preset, config, data, layout, settings.seed)
    losses = train(policy, manifest, data, settings, progress, threads)
    t2 = time.monotonic()
    window = max(1, len(losses) // 10)
    summary = {"robot": config.name, "preset": preset, "samples": settings.samples, "steps": settings.steps,
               "batch_size": settings.batch_size, "seed": settings.seed,
               "loss_first": round(float(np.mean(losses[:window])), 5),
               "loss_last": round(float(np.mean(losses[-window:])), 5),
               "demonstrations_s": round(t1 - t0, 1), "training_s": round(t2 - t1, 1)}
    path, parity = export_policy(policy, manifest, out, extra={"reach": summary, "losses": losses[-50:]})
    summary.update(manifest=str(path), ort_parity=parity, export_s=round(time.monotonic() - t2, 1))
    return summary


# --------------------------------------------------------------------------------------------- cache


def ensure_reach_policy(robot: str = "g1_dex3", preset: str = "tiny", settings: TrainSettings | None = None,
                        cache_dir: str | os.PathLike | None = None, progress: bool = True) -> tuple[Path, bool]:
    """``(manifest path, trained now)`` of the reaching policy for ``robot``, trained on first use.

    Cached under ``<cache>/reach_policies/<preset>-<robot>-<key>/``; built in a temporary sibling
    folder and renamed into place under a lock, as the reference policy is.
    """
    from egoscale_ros import resources
    from egoscale_ros.policy.export import _file_lock
    from egoscale_ros.robot.config import load_robot_config

    if preset not in TRAIN_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(TRAIN_PRESETS)}")
    settings = settings or TRAIN_PRESETS[preset]
    config = load_robot_config(robot)
    spec = {"robot": config.name, "joints": list(config.policy_state_joints), "preset": preset,
            "settings": settings.__dict__, "code": code_version()}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    root = Path(cache_dir) if cache_dir else resources.cache_dir("reach_policies")
    final = root / f"{preset}-{config.name}-{key}"
    manifest = final / "manifest.yaml"
    if manifest.is_file():
        return manifest, False
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / f".{final.name}.lock"):
        if manifest.is_file():
            return manifest, False
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=root))
        try:
            summary = train_and_export(robot, preset, tmp, settings, progress)
            summary["manifest"] = str(manifest)  # where it is once renamed into place
            (tmp / "training.json").write_text(json.dumps(summary, indent=2))
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return manifest, True


# --------------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", default="g1_dex3", help="robot config name or path")
    parser.add_argument("--preset", default="tiny", choices=sorted(TRAIN_PRESETS), help="model and training size")
    parser.add_argument("--out", default="", help="export folder (default: the cache, reused when up to date)")
    parser.add_argument("--steps", type=int, default=None, help="optimisation steps (default: the preset's)")
    parser.add_argument("--samples", type=int, default=None, help="demonstrations (default: the preset's)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads (0: PyTorch's default)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    settings = TRAIN_PRESETS[args.preset]
    overrides = {k: v for k, v in (("steps", args.steps), ("samples", args.samples), ("seed", args.seed))
                 if v is not None}
    settings = replace(settings, **overrides)
    if args.out:
        summary = train_and_export(args.robot, args.preset, Path(args.out), settings, threads=args.threads or None)
    else:
        path, trained = ensure_reach_policy(args.robot, args.preset, settings)
        info = path.parent / "training.json"
        summary = json.loads(info.read_text()) if info.is_file() else {}
        summary.update(manifest=str(path), cached=not trained)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"reaching policy for {summary.get('robot')}: loss {summary.get('loss_first')} -> "
              f"{summary.get('loss_last')} in {summary.get('training_s')} s; wrote {summary.get('manifest')}")
    return 0
