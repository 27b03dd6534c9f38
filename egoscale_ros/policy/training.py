"""Training of the reference policy on synthetic data, and its checkpoint format.

A checkpoint holds the architecture (:class:`~egoscale_ros.policy.model.PolicyConfig`), the
weights and the manifest fields that describe how to feed and read the model (image, state and
action layouts with normalisation statistics), so export and the PyTorch runtime need nothing else.

CLI: ``egoscale-ros train-policy --preset tiny --steps 300 --out policy.pt [--robot g1_dex3]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from egoscale_ros.policy.layout import ActionLayout
from egoscale_ros.policy.manifest import ActionSpec, ImageSpec, PolicyManifest, StateSpec, manifest_from_dict
from egoscale_ros.policy.synthetic import make_batch, normalisation_stats
from egoscale_ros.policy.tokenizer import tokenize

DEFAULT_INSTRUCTION = "pick up the red cube"


def new_policy(preset: str, embodiment: str, state_joints: list[str], layout: ActionLayout | None = None,
               seed: int = 0, default_instruction: str = DEFAULT_INSTRUCTION):
    """A freshly initialised policy and the manifest fields that go with it (no model files yet).

    Normalisation statistics come from the synthetic task, so a policy trained on it decodes to
    the task's scale (millimetre wrist steps) even before training converges.
    """
    import torch

    from egoscale_ros.policy.model import EgoScalePolicy, preset_config

    if not state_joints:
        raise ValueError("state_joints is empty: the policy needs the robot's proprioceptive joint names")
    layout = layout or ActionLayout()
    config = preset_config(preset, horizon=layout.horizon, action_dim=layout.dim,
                           embodiments={embodiment: len(state_joints)})
    torch.manual_seed(seed)
    policy = EgoScalePolicy(config)
    stats = normalisation_stats(layout, len(state_joints))
    manifest = PolicyManifest(
        path=Path("manifest.yaml"), name=f"reference-{preset}-{embodiment}", preset=preset, embodiment=embodiment,
        image=ImageSpec(size=config.image_size, cameras=config.num_cameras), max_tokens=config.max_tokens,
        default_instruction=default_instruction,
        state=StateSpec(tuple(state_joints), stats["state_mean"], stats["state_std"]),
        action=ActionSpec(layout, stats["action_mean"], stats["action_std"]), seed=seed,
    )
    return policy, manifest


def batch_tensors(batch, manifest: PolicyManifest) -> dict:
    """Synthetic batch -> normalised model tensors (same formulas as the deployment transforms)."""
    import torch

    from egoscale_ros.policy.transforms import normalise_actions, normalise_pixels

    state = (batch.state - manifest.state.mean) / manifest.state.std * batch.state_mask
    tokens = np.stack([tokenize(t, manifest.max_tokens) for t in batch.instructions])
    return {
        "image": torch.from_numpy(np.ascontiguousarray(normalise_pixels(batch.images, manifest.image))),
        "tokens": torch.from_numpy(tokens),
        "state": torch.from_numpy(state.astype(np.float32)),
        "state_mask": torch.from_numpy(batch.state_mask.astype(np.float32)),
        "actions": torch.from_numpy(normalise_actions(batch.actions, manifest.action).astype(np.float32)),
    }


def train(policy, manifest: PolicyManifest, steps: int = 300, batch_size: int = 32, lr: float = 1e-3,
          seed: int = 0, progress: bool = True, threads: int | None = 1) -> list[float]:
    """Flow-matching training on freshly drawn synthetic batches; returns the loss per step.

    AdamW with warm-up and cosine decay, gradient clipping at 1. A tqdm bar on stderr shows the
    running loss. ``threads`` caps PyTorch's CPU threads for the duration (None: leave as is):
    at this model size one thread is nearly as fast as two on an idle machine and many times
    faster on a busy one, where multi-threaded kernels wait on each other.
    """
    import torch

    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _train(policy, manifest, steps, batch_size, lr, seed, progress)
    finally:
        torch.set_num_threads(previous_threads)


def _train(policy, manifest: PolicyManifest, steps: int, batch_size: int, lr: float, seed: int,
           progress: bool) -> list[float]:
    import torch
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    optimiser = Optimiser(policy, lr, steps)
    policy.train()
    losses = []
    bar = tqdm(range(steps), desc=f"train {manifest.preset}", unit="step", disable=not progress, file=sys.stderr)
    for _ in bar:
        batch = make_batch(batch_size, manifest.layout, len(manifest.state.joints), manifest.image.size, rng,
                           manifest.image.cameras)
        t = batch_tensors(batch, manifest)
        losses.append(optimiser.step(policy.flow_matching_loss(
            manifest.embodiment, t["image"], t["tokens"], t["state"], t["state_mask"], t["actions"],
            generator=generator)))
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    policy.eval()
    return losses


class Optimiser:
    """AdamW with a linear warm-up over the first 5 % of ``steps`` then a cosine decay to 0, and
    gradients clipped to norm 1: how every policy of the package is trained."""

    def __init__(self, policy, lr: float, steps: int):
        import torch

        self.params = list(policy.parameters())
        self.opt = torch.optim.AdamW(self.params, lr=lr, weight_decay=1e-4)
        warmup = max(1, steps // 20)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda i: min(1.0, (i + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * min(i, steps) / max(steps, 1))))

    def step(self, loss) -> float:
        """One update from ``loss``; returns its value."""
        import torch

        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.sched.step()
        return float(loss.detach())


def save_checkpoint(path: str | Path, policy, manifest: PolicyManifest, extra: dict | None = None) -> Path:
    """Write weights + architecture + manifest fields (no pickled classes: loads with weights_only)."""
    import torch

    spec = manifest.to_dict()
    spec["backends"] = {"order": list(manifest.backend_order)}
    path = Path(path)
    torch.save({"config": policy.config.to_dict(), "state_dict": policy.state_dict(), "manifest": spec,
                "extra": extra or {}}, path)
    return path


def load_checkpoint(path: str | Path, device: str = "cpu"):
    """``(policy, manifest_fields)`` from :func:`save_checkpoint`; the policy is in eval mode."""
    import torch

    from egoscale_ros.policy.model import EgoScalePolicy, PolicyConfig

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"policy checkpoint not found: {path}")
    data = torch.load(path, map_location=device, weights_only=True)
    if data["config"].get("architecture") == "reach_keypoints":  # the reaching task's small policy
        from egoscale_ros.policy.reach_model import ReachPolicy, ReachPolicyConfig

        policy = ReachPolicy(ReachPolicyConfig.from_dict(data["config"]))
    else:
        policy = EgoScalePolicy(PolicyConfig.from_dict(data["config"]))
    policy.load_state_dict(data["state_dict"])
    return policy.to(device).eval(), manifest_from_dict(data["manifest"], path)


def state_joints_for(robot: str | None, state_joints: list[str] | None) -> tuple[str, list[str]]:
    """``(embodiment, state joint names)`` from an explicit list or from the robot config."""
    if state_joints:
        return (robot or "custom"), list(state_joints)
    if not robot:
        raise ValueError("give --robot or --state-joints: the policy's state layout comes from the robot")
    from egoscale_ros.robot.config import load_robot_config

    config = load_robot_config(robot)
    return str(config.embodiment), list(config.policy_state_joints)


# --------------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="tiny", help="model size preset (tiny, small, base)")
    parser.add_argument("--robot", default="g1_dex3", help="robot config name or path (gives the state layout)")
    parser.add_argument("--state-joints", nargs="+", default=None, help="explicit state joint names instead of --robot")
    parser.add_argument("--rotation", choices=("rot6d", "quaternion"), default="rot6d")
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads (0: PyTorch's default)")
    parser.add_argument("--out", required=True, help="checkpoint file to write (.pt)")


def run(args: argparse.Namespace) -> int:
    embodiment, joints = state_joints_for(args.robot, args.state_joints)
    policy, manifest = new_policy(args.preset, embodiment, joints, ActionLayout(rotation=args.rotation), args.seed)
    losses = train(policy, manifest, args.steps, args.batch_size, args.lr, args.seed, threads=args.threads or None)
    save_checkpoint(args.out, policy, manifest, {"losses": losses[-50:]})
    window = max(1, len(losses) // 5)
    first, last = np.mean(losses[:window]), np.mean(losses[-window:])
    print(f"trained {args.preset} for {args.steps} steps: loss {first:.3f} -> {last:.3f}; wrote {args.out}")
    return 0
