"""Policy manifest: the YAML file next to the model files that says how to feed and read a policy.

It records the model files per backend and the backend order, the image size and normalisation,
the instruction tokenizer, the proprioceptive state layout (joint names) with normalisation
statistics, the action layout (:mod:`egoscale_ros.policy.layout`) with its statistics, horizon,
dt, denoising steps and embodiment id.

:func:`load_manifest` refuses, at start, a manifest that disagrees with its models: every input
and output of the ONNX graphs is compared with the shape the manifest implies, and a mismatch
names the graph, the tensor and both shapes. A missing model file is an error naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from egoscale_ros.policy.layout import ActionLayout
from egoscale_ros.policy.tokenizer import TOKENIZER_NAME
from egoscale_ros.schema import ConfigError, Fields, load_yaml

FORMAT = "egoscale_ros/policy-manifest/1"
LOCAL_BACKENDS = ("tensorrt", "onnxruntime", "torch")
# Clients of policy servers (egoscale_ros.remote): the manifest's ``remote`` section says what they take.
SERVER_BACKENDS = ("gr00t_server", "openpi_server")
BACKENDS = LOCAL_BACKENDS + SERVER_BACKENDS
GRAPHS = ("backbone", "action_expert")
# Tensor names of the two exported graphs (the contract between export and every runtime).
BACKBONE_INPUTS = ("image", "tokens", "state", "state_mask")
BACKBONE_OUTPUT = "context"
EXPERT_INPUTS = ("noisy_actions", "timestep", "context")
EXPERT_OUTPUT = "velocity"
RESIZE_MODES = ("stretch", "center_crop")


class ManifestError(ConfigError):
    """A manifest that cannot be used; the message names the file and the offending field."""


@dataclass(frozen=True)
class ImageSpec:
    """Square model input ``size``; ``cameras`` images per observation; per-channel RGB
    normalisation ``(x / 255 - mean) / std``; how a differently shaped frame is fitted."""

    size: int
    cameras: int = 1
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    resize: str = "center_crop"

    def to_dict(self) -> dict:
        return {"size": self.size, "cameras": self.cameras, "mean": list(self.mean), "std": list(self.std),
                "resize": self.resize, "layout": "NCHW float32, RGB"}


@dataclass(frozen=True)
class StateSpec:
    """Proprioceptive state: joint names in model order with normalisation statistics."""

    joints: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray

    def to_dict(self) -> dict:
        return {"joints": list(self.joints), "mean": _floats(self.mean), "std": _floats(self.std)}


@dataclass(frozen=True)
class ActionSpec:
    """Action layout plus per-column normalisation statistics (model output is normalised)."""

    layout: ActionLayout
    mean: np.ndarray
    std: np.ndarray

    def to_dict(self) -> dict:
        return {**self.layout.to_dict(), "mean": _floats(self.mean), "std": _floats(self.std)}


@dataclass
class PolicyManifest:
    """A loaded manifest. Relative file names are resolved against the manifest's folder."""

    path: Path
    name: str
    preset: str
    embodiment: str
    image: ImageSpec
    max_tokens: int
    default_instruction: str
    state: StateSpec
    action: ActionSpec
    denoising_steps: int = 4
    seed: int = 0
    backend_order: tuple[str, ...] = LOCAL_BACKENDS
    backends: dict[str, dict] = field(default_factory=dict)
    code_version: str = ""
    remote: Any = None  # egoscale_ros.remote.spec.RemoteSpec for a policy served elsewhere

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def layout(self) -> ActionLayout:
        return self.action.layout

    def file(self, backend: str, key: str) -> Path:
        """Absolute path of a backend's model file; a clear error when it is not there."""
        entry = self.backends.get(backend)
        if not entry or key not in entry:
            raise ManifestError(f"{self.path}: backends.{backend}.{key} is not set")
        path = Path(os.path.expanduser(str(entry[key])))
        path = path if path.is_absolute() else self.folder / path
        if not path.is_file():
            raise ManifestError(f"{self.path}: {backend} model file '{entry[key]}' not found (looked at {path})")
        return path

    def expected_shapes(self) -> dict[str, dict[str, list]]:
        """Shapes the manifest implies for each graph tensor (``"batch"`` = dynamic first axis;
        the context length/width is the model's own business and is checked between graphs)."""
        s = self.image.size
        h, a, n = self.layout.horizon, self.layout.dim, len(self.state.joints)
        return {
            "backbone": {"image": ["batch", self.image.cameras, 3, s, s], "tokens": ["batch", self.max_tokens],
                         "state": ["batch", n], "state_mask": ["batch", n]},
            "action_expert": {"noisy_actions": ["batch", h, a], "timestep": ["batch"],
                              "velocity": ["batch", h, a]},
        }

    def to_dict(self) -> dict:
        if self.remote is not None:
            return {"format": FORMAT, "name": self.name, "embodiment": self.embodiment,
                    "backends": {"order": list(self.backend_order), **self.backends},
                    "instruction": {"default": self.default_instruction}, "remote": self.remote.to_dict()}
        return {
            "format": FORMAT,
            "name": self.name,
            "preset": self.preset,
            "embodiment": self.embodiment,
            "code_version": self.code_version,
            "backends": {"order": list(self.backend_order), **self.backends},
            "image": self.image.to_dict(),
            "instruction": {"tokenizer": TOKENIZER_NAME, "max_tokens": self.max_tokens,
                            "default": self.default_instruction},
            "state": self.state.to_dict(),
            "action": self.action.to_dict(),
            "denoising": {"steps": self.denoising_steps, "seed": self.seed, "method": "euler",
                          "time": "0 = noise, 1 = action"},
        }

    def save(self, path: str | os.PathLike | None = None) -> Path:
        target = Path(path) if path is not None else self.path
        target.write_text(yaml.dump(self.to_dict(), Dumper=_ManifestDumper, sort_keys=False, width=110))
        return target


class _ManifestDumper(yaml.SafeDumper):
    """Lists of plain values on one (wrapped) line: statistics and joint names stay readable."""

    def represent_list(self, data):
        flow = all(isinstance(v, (int, float, str, bool)) for v in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_ManifestDumper.add_representer(list, _ManifestDumper.represent_list)


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=float).ravel()]


def _vector(data: dict, key: str, size: int, where: str) -> np.ndarray:
    if key not in data:
        raise ManifestError(f"{where}.{key} is missing")
    values = np.asarray(data[key], dtype=float)
    if values.shape != (size,):
        raise ManifestError(f"{where}.{key} has {values.size} values, expected {size}")
    if not np.all(np.isfinite(values)):
        raise ManifestError(f"{where}.{key} contains NaN or inf")
    return values


# The keys of each section of a local manifest (what ``to_dict`` writes); any other key is refused.
_KEYS = {
    "": ("format", "name", "preset", "embodiment", "code_version", "backends", "image", "instruction", "state",
         "action", "denoising"),
    "image": ("size", "cameras", "mean", "std", "resize", "layout"),
    "instruction": ("tokenizer", "max_tokens", "default"),
    "state": ("joints", "mean", "std"),
    "action": ("horizon", "dt", "dim", "rotation", "representation", "frame", "hands", "mean", "std"),
    "denoising": ("steps", "seed", "method", "time"),
}


def _refuse_unknown_keys(data: dict, where: str) -> None:
    """Unknown keys of a local manifest, refused with their path (a misspelt key is never ignored)."""
    for section, keys in _KEYS.items():
        value = data.get(section) if section else data
        if not isinstance(value, dict):
            continue
        fields = Fields(value, f"{where}.{section}" if section else where, ManifestError)
        fields.seen.update(keys)
        fields.done()


def manifest_from_dict(data: dict, path: Path) -> PolicyManifest:
    """Build a :class:`PolicyManifest` from parsed YAML, with field-named errors."""
    where = str(path)

    def section(name: str) -> dict:
        value = data.get(name)
        if not isinstance(value, dict):
            raise ManifestError(f"{where}: section '{name}' is missing or not a mapping")
        return value

    if data.get("format", FORMAT) != FORMAT:
        raise ManifestError(f"{where}: format is {data.get('format')!r}, this package reads {FORMAT!r}")
    if "remote" in data:
        return _remote_manifest(data, path)
    _refuse_unknown_keys(data, where)
    try:
        img = section("image")
        image = ImageSpec(size=int(img["size"]), cameras=int(img.get("cameras", 1)),
                          mean=tuple(float(v) for v in img.get("mean", (0.5, 0.5, 0.5))),
                          std=tuple(float(v) for v in img.get("std", (0.5, 0.5, 0.5))),
                          resize=str(img.get("resize", "center_crop")))
        if image.resize not in RESIZE_MODES:
            raise ManifestError(f"{where}: image.resize must be one of {RESIZE_MODES}, got {image.resize!r}")
        if len(image.mean) != 3 or len(image.std) != 3 or min(image.std) <= 0:
            raise ManifestError(f"{where}: image.mean/std need 3 values each, std > 0")
        ins = section("instruction")
        if ins.get("tokenizer", TOKENIZER_NAME) != TOKENIZER_NAME:
            raise ManifestError(f"{where}: instruction.tokenizer {ins.get('tokenizer')!r} is not {TOKENIZER_NAME!r}")
        st = section("state")
        joints = tuple(str(j) for j in st.get("joints") or ())
        if not joints:
            raise ManifestError(f"{where}: state.joints is empty")
        state = StateSpec(joints, _vector(st, "mean", len(joints), f"{where}: state"),
                          _vector(st, "std", len(joints), f"{where}: state"))
        act = section("action")
        layout = ActionLayout.from_dict(act)
        action = ActionSpec(layout, _vector(act, "mean", layout.dim, f"{where}: action"),
                            _vector(act, "std", layout.dim, f"{where}: action"))
        if np.any(state.std <= 0) or np.any(action.std <= 0):
            raise ManifestError(f"{where}: normalisation std must be > 0")
        den = data.get("denoising") or {}
        be = dict(section("backends"))
        order = tuple(str(b) for b in be.pop("order", LOCAL_BACKENDS))
        unknown = [b for b in order if b not in LOCAL_BACKENDS]
        if unknown:
            raise ManifestError(f"{where}: backends.order names unknown backend(s) {unknown}; known {LOCAL_BACKENDS} "
                                "(a policy server's manifest has a 'remote' section)")
        steps = int(den.get("steps", 4))
        if steps < 1:
            raise ManifestError(f"{where}: denoising.steps must be >= 1, got {steps}")
        return PolicyManifest(
            path=path, name=str(data.get("name", path.parent.name)), preset=str(data.get("preset", "")),
            embodiment=str(data["embodiment"]), image=image, max_tokens=int(ins.get("max_tokens", 24)),
            default_instruction=str(ins.get("default", "")), state=state, action=action,
            denoising_steps=steps, seed=int(den.get("seed", 0)), backend_order=order,
            backends={k: dict(v) for k, v in be.items()}, code_version=str(data.get("code_version", "")),
        )
    except ManifestError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"{where}: {exc.__class__.__name__}: {exc}") from exc


def _remote_manifest(data: dict, path: Path) -> PolicyManifest:
    """A policy served by a GR00T or openpi server: the ``remote`` section is the contract, and the
    image/state/action specs the node reads are derived from it (the server normalises itself)."""
    from egoscale_ros.remote.spec import SERVER_BACKENDS as PROTOCOL_OF
    from egoscale_ros.remote.spec import SpecError, parse_remote, server_options

    where = str(path)
    try:
        spec = parse_remote(data["remote"], f"{where}: remote")
        be = dict(data.get("backends") or {})
        order = tuple(str(b) for b in be.pop("order", [b for b in SERVER_BACKENDS if b in be]))
        if not order or any(b not in SERVER_BACKENDS for b in order):
            raise ManifestError(f"{where}: a remote policy's backends.order must name {SERVER_BACKENDS}, got {list(order)}")
        for b in order:
            if PROTOCOL_OF[b] != spec.protocol:
                raise ManifestError(f"{where}: backend {b} does not speak remote.protocol {spec.protocol!r}")
            be[b] = server_options(b, be.get(b) or {}, f"{where}: backends")
        side = max(spec.image_size) if spec.image_size else 224
        layout = ActionLayout(horizon=spec.execute_steps, dt=spec.dt, rotation="rot6d", representation="absolute",
                              frame="base", hand_joints=spec.hand_joints)
        joints = tuple(spec.state_joints)
        ins = data.get("instruction") or {}
        return PolicyManifest(
            path=path, name=str(data.get("name", path.parent.name)), preset="remote",
            embodiment=str(data.get("embodiment", spec.embodiment_tag)), image=ImageSpec(side, len(spec.video)),
            max_tokens=0, default_instruction=str(ins.get("default", "")),
            state=StateSpec(joints, np.zeros(len(joints)), np.ones(len(joints))),
            action=ActionSpec(layout, np.zeros(layout.dim), np.ones(layout.dim)), denoising_steps=1,
            backend_order=order, backends=be, remote=spec)
    except SpecError as exc:
        raise ManifestError(str(exc)) from exc
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ManifestError):
            raise
        raise ManifestError(f"{where}: {exc.__class__.__name__}: {exc}") from exc


def load_manifest(path: str | os.PathLike, check_models: bool = True) -> PolicyManifest:
    """Read and validate a manifest; with ``check_models`` also compare it with its ONNX graphs."""
    p = Path(os.path.expanduser(str(path))).resolve()
    if p.is_dir():
        p = p / "manifest.yaml"
    if not p.is_file():
        raise ManifestError(f"policy manifest not found: {p}")
    data = load_yaml(p, ManifestError)
    if not isinstance(data, dict):
        raise ManifestError(f"{p}: expected a mapping at top level")
    manifest = manifest_from_dict(data, p)
    if check_models:
        onnx_backends = [b for b in manifest.backend_order if b in ("onnxruntime", "tensorrt") and b in manifest.backends]
        if onnx_backends:
            check_onnx_shapes(manifest, onnx_backends[0])
    return manifest


# --------------------------------------------------------------------------------------------- ONNX


def onnx_io_shapes(path: Path) -> dict[str, dict[str, list]]:
    """``{"inputs": {name: shape}, "outputs": {...}}`` of an ONNX file (dynamic dims as names).

    Reads only the graph (external weights are not loaded), so it is quick even for big models.
    """
    import onnx  # local: only needed when validating

    model = onnx.load(str(path), load_external_data=False)
    initialisers = {i.name for i in model.graph.initializer}

    def shape(value) -> list:
        return [d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else "?")
                for d in value.type.tensor_type.shape.dim]

    return {"inputs": {v.name: shape(v) for v in model.graph.input if v.name not in initialisers},
            "outputs": {v.name: shape(v) for v in model.graph.output}}


def _same(expected: list, actual: list) -> bool:
    if len(expected) != len(actual):
        return False
    # A named (dynamic) dimension matches anything; a fixed one must be equal (and a fixed batch of
    # 1 is accepted where the manifest says "batch").
    return all(isinstance(e, str) or isinstance(a, str) or e == a for e, a in zip(expected, actual))


def check_onnx_shapes(manifest: PolicyManifest, backend: str = "onnxruntime") -> dict[str, dict]:
    """Compare every graph tensor with the manifest; raise :class:`ManifestError` naming the tensor
    and both shapes. Returns the ONNX shapes (the runtimes use them)."""
    found = {g: onnx_io_shapes(manifest.file(backend, g)) for g in GRAPHS}
    expected = manifest.expected_shapes()
    names = {"backbone": (BACKBONE_INPUTS, (BACKBONE_OUTPUT,)), "action_expert": (EXPERT_INPUTS, (EXPERT_OUTPUT,))}
    for graph, (inputs, outputs) in names.items():
        for kind, wanted in (("inputs", inputs), ("outputs", outputs)):
            have = found[graph][kind]
            missing = [n for n in wanted if n not in have]
            if missing:
                raise ManifestError(
                    f"{manifest.path}: {graph} model lacks {kind[:-1]} tensor(s) {missing}; it has {sorted(have)}"
                )
        for tensor, shape in expected[graph].items():
            kind = "outputs" if tensor in outputs else "inputs"
            actual = found[graph][kind][tensor]
            if not _same(shape, actual):
                raise ManifestError(
                    f"{manifest.path}: {graph} tensor '{tensor}' has shape {actual} in the model but the "
                    f"manifest implies {shape}"
                )
    produced = found["backbone"]["outputs"][BACKBONE_OUTPUT]
    consumed = found["action_expert"]["inputs"]["context"]
    if not _same(produced, consumed):
        raise ManifestError(
            f"{manifest.path}: backbone output 'context' has shape {produced} but action_expert input "
            f"'context' expects {consumed}"
        )
    return found
