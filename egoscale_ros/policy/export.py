"""Export the reference policy: two ONNX graphs, a checkpoint and the manifest, verified.

Output folder::

    backbone.onnx        once per observation: image, tokens, state, state_mask -> context
    action_expert.onnx   one denoising step: noisy_actions, timestep, context -> velocity
    checkpoint.pt        weights + architecture (PyTorch backend, re-export)
    manifest.yaml        how to feed and read the model (see manifest.py)

Every export is checked: the ONNX checker passes, the manifest agrees with the graphs, and ONNX
Runtime reproduces PyTorch on a full chunk (all K steps) with identical noise.

:func:`ensure_default_policy` gives the demo and the node a ready policy: exported (and briefly
trained on synthetic data) on first use into the user cache, keyed by preset, code version and
state layout, written to a temporary folder and renamed into place so that concurrent callers
never see or produce a half-written policy.

CLI: ``egoscale-ros export-policy --preset tiny --out DIR [--robot NAME]``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from egoscale_ros import resources
from egoscale_ros.policy.layout import ActionLayout, default_frame
from egoscale_ros.policy.manifest import (
    BACKBONE_INPUTS,
    BACKBONE_OUTPUT,
    EXPERT_INPUTS,
    EXPERT_OUTPUT,
    LOCAL_BACKENDS,
    PolicyManifest,
    load_manifest,
)

DEFAULT_TRAIN_STEPS = {"tiny": 150}
PARITY_TOLERANCE = 1e-4
_CODE_FILES = ("model.py", "training.py", "synthetic.py", "export.py", "layout.py", "tokenizer.py", "manifest.py")


def code_version() -> str:
    """Hash of the sources that determine an exported policy (a change invalidates the cache)."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in _CODE_FILES:
        h.update(name.encode())
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def _example_inputs(policy, manifest: PolicyManifest, batch: int = 1):
    import torch

    c = policy.config
    gen = torch.Generator().manual_seed(0)
    image = torch.randn(batch, c.num_cameras, 3, c.image_size, c.image_size, generator=gen)
    tokens = torch.zeros(batch, c.max_tokens, dtype=torch.int64)
    tokens[:, :4] = torch.tensor([1, 100, 101, 2])
    n = len(manifest.state.joints)
    state, state_mask = torch.randn(batch, n, generator=gen), torch.ones(batch, n)
    noisy = torch.randn(batch, c.horizon, c.action_dim, generator=gen)
    timestep = torch.full((batch,), 0.25)
    return (image, tokens, state, state_mask), noisy, timestep


EXPORTERS = ("torchscript", "dynamo")
OPSET = 18


def export_onnx(policy, manifest: PolicyManifest, out_dir: Path, max_batch: int = 16,
                exporter: str = "torchscript") -> dict[str, Path]:
    """Write ``backbone.onnx`` and ``action_expert.onnx`` (dynamic batch) and check them.

    ``torchscript``: PyTorch's tracing exporter followed by the onnxscript optimiser (constant
    folding, dead-code removal) - a clean graph in seconds. ``dynamo``: the ``torch.export``
    based exporter - a slightly smaller graph, but tens of seconds per graph on a small CPU, which
    matters because the reference policy is exported on first use.
    """
    import logging

    import onnx
    import torch

    from egoscale_ros.policy.model import ActionExpertGraph, BackboneGraph

    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {EXPORTERS}, got {exporter!r}")
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # e.g. "torchvision is not installed"
    policy = policy.eval().float()
    backbone = BackboneGraph(policy, manifest.embodiment)
    expert = ActionExpertGraph(policy, manifest.embodiment)
    obs, noisy, timestep = _example_inputs(policy, manifest)
    with torch.no_grad():
        context = backbone(*obs)
        velocity = expert(noisy, timestep, context)
    # Protobuf caps a single file at 2 GiB: big presets keep their weights in a side file.
    external = sum(p.numel() * p.element_size() for p in policy.parameters()) > 1 << 30
    paths = {"backbone": out_dir / "backbone.onnx", "action_expert": out_dir / "action_expert.onnx"}
    jobs = [
        (backbone, obs, BACKBONE_INPUTS, BACKBONE_OUTPUT, context, paths["backbone"]),
        (expert, (noisy, timestep, context), EXPERT_INPUTS, EXPERT_OUTPUT, velocity, paths["action_expert"]),
    ]
    for module, args, inputs, output, example_out, path in jobs:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr), torch.no_grad():
            warnings.simplefilter("ignore")
            if exporter == "dynamo":
                batch = torch.export.Dim("batch", min=1, max=max_batch)
                torch.onnx.export(module, args, str(path), dynamo=True, verbose=False, input_names=list(inputs),
                                  output_names=[output], dynamic_shapes={n: {0: batch} for n in inputs},
                                  external_data=external)
            else:
                _export_torchscript(module, args, list(inputs), output, tuple(example_out.shape), path, external)
        onnx.checker.check_model(str(path), full_check=True)
    return paths


def _export_torchscript(module, args, inputs: list[str], output: str, output_shape: tuple, path: Path,
                        external: bool) -> None:
    import onnx
    import torch
    from onnxscript import optimizer

    torch.onnx.export(module, args, str(path), dynamo=False, input_names=inputs, output_names=[output],
                      dynamic_axes={n: {0: "batch"} for n in [*inputs, output]}, opset_version=OPSET)
    model = optimizer.optimize(onnx.load(str(path)))
    # The tracer leaves non-batch output dims symbolic; they are fixed by the architecture.
    dims = model.graph.output[0].type.tensor_type.shape.dim
    for dim, size in zip(list(dims)[1:], output_shape[1:]):
        dim.Clear()
        dim.dim_value = int(size)
    onnx.save(model, str(path), save_as_external_data=external, location=f"{path.name}.data")


def torch_chunk(policy, manifest: PolicyManifest, feeds: dict[str, np.ndarray], noise: np.ndarray) -> np.ndarray:
    """Reference normalised chunk from the PyTorch model (for parity checks)."""
    import torch

    with torch.inference_mode():
        args = [torch.from_numpy(np.asarray(feeds[k])) for k in BACKBONE_INPUTS]
        return policy.sample(manifest.embodiment, *args, torch.from_numpy(noise), manifest.denoising_steps).numpy()


def parity_inputs(manifest: PolicyManifest, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A realistic observation (synthetic scene, instruction, partial state) and flow noise."""
    from egoscale_ros.policy.synthetic import make_batch
    from egoscale_ros.policy.tokenizer import tokenize
    from egoscale_ros.policy.transforms import normalise_pixels

    rng = np.random.default_rng(seed)
    batch = make_batch(1, manifest.layout, len(manifest.state.joints), manifest.image.size, rng,
                       manifest.image.cameras)
    state = (batch.state - manifest.state.mean) / manifest.state.std * batch.state_mask
    feeds = {"image": np.ascontiguousarray(normalise_pixels(batch.images, manifest.image)),
             "tokens": tokenize(batch.instructions[0], manifest.max_tokens)[None],
             "state": state.astype(np.float32), "state_mask": batch.state_mask.astype(np.float32)}
    noise = rng.standard_normal((1, manifest.layout.horizon, manifest.layout.dim), dtype=np.float32)
    return feeds, noise


def parity_check(policy, manifest: PolicyManifest, seed: int = 0, backend: str = "onnxruntime") -> float:
    """Max |runtime - PyTorch| over a full normalised chunk computed from identical noise."""
    from egoscale_ros.policy.runtime import create_runtime

    feeds, noise = parity_inputs(manifest, seed)
    reference = torch_chunk(policy, manifest, feeds, noise)
    selection = create_runtime(manifest, backend, device="cpu", strict=True)
    try:
        out = selection.runtime.sample(feeds["image"], feeds["tokens"], feeds["state"], feeds["state_mask"],
                                       noise, manifest.denoising_steps)
    finally:
        selection.runtime.close()
    return float(np.max(np.abs(out - reference)))


def export_policy(policy, manifest: PolicyManifest, out_dir: str | os.PathLike, verify: bool = True,
                  extra: dict | None = None, exporter: str = "torchscript",
                  progress: bool = False) -> tuple[Path, float | None]:
    """Write the whole export to ``out_dir``; returns the manifest path and the parity error.

    ``progress``: a bar on stderr over the stages (ONNX graphs, checkpoint, manifest, parity).
    """
    from tqdm import tqdm

    from egoscale_ros.policy.training import save_checkpoint

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=4 if verify else 3, desc="export", unit="stage", disable=not progress, file=sys.stderr)
    bar.set_postfix_str("ONNX graphs")
    export_onnx(policy, manifest, out, exporter=exporter)
    bar.update()
    bar.set_postfix_str("checkpoint")
    save_checkpoint(out / "checkpoint.pt", policy, manifest, extra)
    bar.update()
    bar.set_postfix_str("manifest")
    manifest.path = out / "manifest.yaml"
    manifest.code_version = code_version()
    manifest.backend_order = LOCAL_BACKENDS
    manifest.backends = {
        "tensorrt": {"backbone": "backbone.onnx", "action_expert": "action_expert.onnx", "precision": "fp16",
                     "max_batch": 1},
        "onnxruntime": {"backbone": "backbone.onnx", "action_expert": "action_expert.onnx",
                        "providers": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]},
        "torch": {"checkpoint": "checkpoint.pt"},
    }
    manifest.save()
    checked = load_manifest(manifest.path)  # the manifest agrees with the graphs it names
    bar.update()
    if verify:
        bar.set_postfix_str("parity check")
    parity = parity_check(policy, checked) if verify else None
    bar.update(1 if verify else 0)
    bar.close()
    if parity is not None and parity > PARITY_TOLERANCE:
        raise RuntimeError(f"ONNX Runtime differs from PyTorch by {parity:.2e} (> {PARITY_TOLERANCE:g}) on a full chunk")
    return manifest.path, parity


# --------------------------------------------------------------------------------------------- cache


def cache_key(preset: str, embodiment: str, state_joints: list[str], layout: ActionLayout, train_steps: int) -> str:
    spec = {"preset": preset, "embodiment": embodiment, "state": list(state_joints), "layout": layout.to_dict(),
            "train_steps": train_steps, "code": code_version()}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def ensure_default_policy(preset: str = "tiny", robot: str | None = "g1_dex3", state_joints: list[str] | None = None,
                          cache_dir: str | os.PathLike | None = None, train_steps: int | None = None,
                          progress: bool = True) -> Path:
    """Manifest path of the reference policy for ``robot``, exporting it on first use.

    Cached under ``<cache>/policies/<preset>-<embodiment>-<key>/``. The first caller trains
    briefly on synthetic data and exports into a temporary sibling folder, then renames it into
    place; a concurrent caller waits on a lock file and then finds the finished folder.
    """
    from egoscale_ros.policy.training import state_joints_for

    embodiment, joints = state_joints_for(robot, state_joints)
    layout = ActionLayout()
    steps = DEFAULT_TRAIN_STEPS.get(preset, 0) if train_steps is None else train_steps
    root = Path(cache_dir) if cache_dir else resources.cache_dir("policies")
    final = root / f"{preset}-{embodiment}-{cache_key(preset, embodiment, joints, layout, steps)}"
    manifest_path = final / "manifest.yaml"
    if manifest_path.is_file():
        return manifest_path
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / f".{final.name}.lock"):
        if manifest_path.is_file():  # another process finished while we waited
            return manifest_path
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=root))
        try:
            _build(preset, embodiment, joints, layout, steps, tmp, progress)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return manifest_path


def _build(preset: str, embodiment: str, joints: list[str], layout: ActionLayout, steps: int, out: Path,
           progress: bool) -> tuple[Path, float | None]:
    from egoscale_ros.policy.training import new_policy, train

    t0 = time.monotonic()
    policy, manifest = new_policy(preset, embodiment, joints, layout)
    losses = train(policy, manifest, steps=steps, batch_size=16, lr=2e-3, progress=progress) if steps else []
    path, parity = export_policy(policy, manifest, out, extra={"train_steps": steps, "losses": losses[-20:]},
                                 progress=progress)
    if progress:
        print(f"reference policy {preset}/{embodiment}: trained {steps} steps, exported in "
              f"{time.monotonic() - t0:.1f} s, ORT parity {parity:.1e}", file=sys.stderr)
    return path, parity


@contextlib.contextmanager
def _file_lock(path: Path):
    """Exclusive advisory lock (POSIX); elsewhere the atomic rename alone keeps the cache sound."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="tiny", help="model size preset (tiny, small, base)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--robot", default="g1_dex3", help="robot config name or path (gives the state layout)")
    parser.add_argument("--state-joints", nargs="+", default=None, help="explicit state joint names instead of --robot")
    parser.add_argument("--checkpoint", default=None, help="export this trained checkpoint instead of a new model")
    parser.add_argument("--train-steps", type=int, default=None,
                        help="synthetic training steps before export (default: 150 for tiny, 0 otherwise)")
    parser.add_argument("--rotation", choices=("rot6d", "quaternion"), default="rot6d")
    parser.add_argument("--representation", choices=("relative", "absolute"), default="relative")
    parser.add_argument("--frame", choices=("wrist", "base", "camera"), default=None,
                        help="frame of the wrist actions (default: wrist for relative, base for absolute)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exporter", choices=EXPORTERS, default="torchscript",
                        help="ONNX exporter (torchscript + onnxscript optimiser: fast; dynamo: torch.export)")
    parser.add_argument("--no-verify", action="store_true", help="skip the ONNX Runtime parity check")


def run(args: argparse.Namespace) -> int:
    from egoscale_ros.policy.training import load_checkpoint, new_policy, state_joints_for, train

    if args.checkpoint:
        policy, manifest = load_checkpoint(args.checkpoint)
    else:
        embodiment, joints = state_joints_for(args.robot, args.state_joints)
        frame = args.frame or default_frame(args.representation)
        layout = ActionLayout(rotation=args.rotation, representation=args.representation, frame=frame)
        policy, manifest = new_policy(args.preset, embodiment, joints, layout, args.seed)
        steps = DEFAULT_TRAIN_STEPS.get(args.preset, 0) if args.train_steps is None else args.train_steps
        if steps:
            train(policy, manifest, steps=steps, batch_size=16, lr=2e-3, seed=args.seed)
    path, parity = export_policy(policy, manifest, args.out, verify=not args.no_verify, exporter=args.exporter,
                                 progress=True)
    text = f"wrote {path}" + (f" (ONNX Runtime vs PyTorch max abs error {parity:.2e})" if parity is not None else "")
    print(text)
    return 0
