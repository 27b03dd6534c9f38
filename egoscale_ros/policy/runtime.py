"""Selection among the policy backends (TensorRT, ONNX Runtime, PyTorch, remote servers).

:func:`create_runtime` walks the manifest's backend order (or a requested backend first) and
returns the first that starts, with the reasons the others did not: that text goes to the log
and to diagnostics. Backend modules are imported lazily, so choosing ONNX Runtime or TensorRT
never imports torch. The interface they implement is :class:`runtime_base.PolicyRuntime`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from egoscale_ros.policy.manifest import BACKENDS, SERVER_BACKENDS, ManifestError, PolicyManifest
from egoscale_ros.policy.runtime_base import BackendUnavailable, PolicyRuntime


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
