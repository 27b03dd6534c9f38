"""One interface over the policy backends (TensorRT, ONNX Runtime, PyTorch) and their selection.

A runtime evaluates the two graphs of the split model: :meth:`PolicyRuntime.encode` (backbone,
once per observation) and :meth:`PolicyRuntime.velocity` (action expert, once per denoising
step). :meth:`PolicyRuntime.sample` integrates the flow with K Euler steps and records the time
of every stage. Backends keep intermediate tensors in their own memory (device buffers, torch
tensors) and only the inputs and the final chunk cross to numpy.

:func:`create_runtime` walks the manifest's backend order (or a requested backend first) and
returns the first that starts, with the reasons the others did not: that text goes to the log
and to diagnostics. Backend modules are imported lazily, so choosing ONNX Runtime or TensorRT
never imports torch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from egoscale_ros.policy.manifest import BACKENDS, SERVER_BACKENDS, ManifestError, PolicyManifest


class BackendUnavailable(RuntimeError):
    """A backend that cannot run here (library missing, no GPU); the message says why."""


class PolicyRuntime:
    """Base class: subclasses implement :meth:`encode` and :meth:`velocity` on their own tensors."""

    backend = ""

    def __init__(self) -> None:
        self.device = "cpu"
        self.detail = ""  # e.g. the execution provider or GPU; shown in the selection report

    # -- to implement ------------------------------------------------------------------------

    def encode(self, image: np.ndarray, tokens: np.ndarray, state: np.ndarray, state_mask: np.ndarray):
        """Backbone: numpy inputs -> context in the backend's own tensor type."""
        raise NotImplementedError

    def velocity(self, noisy_actions, timestep, context):
        """Action expert, one step, on backend tensors."""
        raise NotImplementedError

    # -- hooks with numpy defaults -------------------------------------------------------------

    def from_host(self, array: np.ndarray):
        return array

    def to_host(self, value) -> np.ndarray:
        return np.asarray(value)

    def timestep(self, value: float, batch: int):
        return np.full((batch,), value, dtype=np.float32)

    def synchronize(self) -> None:
        """Wait for queued device work (so stage timings are honest on GPUs)."""

    def close(self) -> None:
        """Release sessions, engines and device memory."""

    # -- flow integration ----------------------------------------------------------------------

    def sample(self, image: np.ndarray, tokens: np.ndarray, state: np.ndarray, state_mask: np.ndarray,
               noise: np.ndarray, steps: int, timings: dict[str, float] | None = None) -> np.ndarray:
        """Normalised action chunk ``(B, H, dim)``: K Euler steps of the flow from ``noise``.

        ``timings`` (if given) receives milliseconds per stage: ``backbone``, ``denoise_0`` ...
        """
        t0 = time.perf_counter()
        context = self.encode(image, tokens, state, state_mask)
        self.synchronize()
        t1 = time.perf_counter()
        if timings is not None:
            timings["backbone"] = (t1 - t0) * 1e3
        x = self.from_host(np.ascontiguousarray(noise, dtype=np.float32))
        batch = noise.shape[0]
        for k in range(steps):
            x = x + self.velocity(x, self.timestep(k / steps, batch), context) / steps
            if timings is not None:
                self.synchronize()
                t2 = time.perf_counter()
                timings[f"denoise_{k}"] = (t2 - t1) * 1e3
                t1 = t2
        return self.to_host(x)


@dataclass
class RuntimeSelection:
    """The runtime that started, and every backend (or provider) passed over with its reason."""

    runtime: PolicyRuntime
    backend: str
    fallbacks: list[tuple[str, str]] = field(default_factory=list)

    @property
    def fell_back(self) -> bool:
        return bool(self.fallbacks)

    def report(self) -> str:
        text = self.backend + (f" [{self.runtime.detail}]" if self.runtime.detail else "")
        if self.fallbacks:
            text += "; fell back from: " + "; ".join(f"{name} ({why})" for name, why in self.fallbacks)
        return text


def _construct(backend: str, manifest: PolicyManifest, device: str, options: dict) -> PolicyRuntime:
    if backend == "onnxruntime":
        from egoscale_ros.policy.runtime_onnx import OnnxRuntimePolicy

        return OnnxRuntimePolicy(manifest, device=device, **options.get("onnxruntime", {}))
    if backend == "tensorrt":
        from egoscale_ros.policy.runtime_tensorrt import TensorRTPolicy

        return TensorRTPolicy(manifest, **options.get("tensorrt", {}))
    if backend == "torch":
        from egoscale_ros.policy.runtime_torch import TorchPolicy

        return TorchPolicy(manifest, device=device, **options.get("torch", {}))
    if backend in SERVER_BACKENDS:
        from egoscale_ros.remote.client import RemoteRuntime

        return RemoteRuntime(manifest, backend)
    raise ValueError(f"unknown policy backend {backend!r}; choose one of {BACKENDS} or 'auto'")


def create_runtime(manifest: PolicyManifest, backend: str = "auto", device: str = "auto",
                   options: dict | None = None, strict: bool = False) -> RuntimeSelection:
    """Start the requested backend, or the manifest's order with ``"auto"``.

    A requested backend that cannot start falls back to the manifest's order (reported) unless
    ``strict``. ``device``: ``"auto"`` (GPU when there is one), ``"cpu"`` or ``"cuda"``.
    ``options``: per-backend keyword arguments (``{"onnxruntime": {"threads": 1}}``).
    Raises :class:`BackendUnavailable` listing every reason when nothing starts.
    """
    options = options or {}
    if backend in ("", "auto"):
        order = list(manifest.backend_order)
    elif backend not in BACKENDS:
        raise ValueError(f"unknown policy backend {backend!r}; choose one of {BACKENDS} or 'auto'")
    elif strict:
        order = [backend]
    else:
        order = [backend] + [b for b in manifest.backend_order if b != backend]
    fallbacks: list[tuple[str, str]] = []
    for name in order:
        if name not in manifest.backends:
            fallbacks.append((name, "the manifest has no model files for it"))
            continue
        try:
            runtime = _construct(name, manifest, device, options)
        except (BackendUnavailable, ManifestError, ImportError, OSError, RuntimeError) as exc:
            if isinstance(exc, ManifestError) and strict:
                raise
            fallbacks.append((name, str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__))
            continue
        fallbacks.extend(getattr(runtime, "provider_fallbacks", []))
        return RuntimeSelection(runtime, name, fallbacks)
    raise BackendUnavailable(
        f"no policy backend could start for {manifest.path}: " + "; ".join(f"{n}: {why}" for n, why in fallbacks)
    )
