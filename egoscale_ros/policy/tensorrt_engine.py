"""TensorRT engines for a policy manifest: build (with the TensorRT Python API), cache, CUDA memory.

Engines are specific to the ONNX graph, the TensorRT version and the GPU, so the cache key is
``sha256(ONNX) + TensorRT version + GPU name`` (plus precision and optimisation profile): a new
model, an upgraded TensorRT or a different GPU builds a new engine, anything else reuses it.
Builds show a progress display (TensorRT's progress monitor where available) and are written
atomically, so an interrupted build never leaves a corrupt engine behind.

CUDA memory and streams go through the CUDA runtime library directly (ctypes), so neither torch
nor an extra CUDA Python package is needed on the robot.

CLI: ``egoscale-ros build-engine MANIFEST [--precision fp16|bf16|fp32] [--max-batch N]``.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import glob
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from egoscale_ros import resources
from egoscale_ros.policy.manifest import (
    BACKBONE_OUTPUT,
    GRAPHS,
    PolicyManifest,
    check_onnx_shapes,
    load_manifest,
)
from egoscale_ros.policy.runtime_base import BackendUnavailable

PRECISIONS = ("fp32", "fp16", "bf16")
TENSORRT_MISSING = "TensorRT is not installed (pip install tensorrt on a machine with an NVIDIA GPU)"


def import_tensorrt():
    """The ``tensorrt`` module, or :class:`BackendUnavailable` saying why not."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise BackendUnavailable(f"{TENSORRT_MISSING}: {exc}") from exc
    if not hasattr(trt, "Builder"):  # the PyPI placeholder package without the real wheel behind it
        raise BackendUnavailable(f"{TENSORRT_MISSING}: the installed 'tensorrt' package is a stub")
    return trt


# --------------------------------------------------------------------------------------------- CUDA


class CudaRuntime:
    """The few CUDA runtime calls the TensorRT backend needs, through ctypes (no extra packages)."""

    H2D, D2H, D2D = 1, 2, 3

    def __init__(self, device: int = 0):
        self.lib = self._load()
        self.device = device
        self._check(self.lib.cudaSetDevice(ctypes.c_int(device)), "cudaSetDevice")

    @staticmethod
    def _candidates() -> list[str]:
        names = ["libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"]
        found = ctypes.util.find_library("cudart")
        if found:
            names.insert(0, found)
        # pip wheels (nvidia-cuda-runtime-cu12) keep it inside site-packages.
        for base in sys.path:
            names.extend(sorted(glob.glob(os.path.join(base, "nvidia", "cuda_runtime", "lib", "libcudart.so*"))))
        return names

    def _load(self):
        errors = []
        for name in self._candidates():
            try:
                return ctypes.CDLL(name)
            except OSError as exc:
                errors.append(str(exc))
        raise BackendUnavailable("the CUDA runtime library (libcudart) was not found: " + "; ".join(errors[:2]))

    def _check(self, status: int, what: str) -> None:
        if status != 0:
            self.lib.cudaGetErrorString.restype = ctypes.c_char_p
            message = self.lib.cudaGetErrorString(ctypes.c_int(status)).decode()
            raise BackendUnavailable(f"{what} failed: {message} (CUDA error {status})")

    def gpu_name(self) -> str:
        props = ctypes.create_string_buffer(8192)  # cudaDeviceProp starts with char name[256]
        fn = getattr(self.lib, "cudaGetDeviceProperties_v2", None) or self.lib.cudaGetDeviceProperties
        self._check(fn(props, ctypes.c_int(self.device)), "cudaGetDeviceProperties")
        return props.raw[:256].split(b"\0", 1)[0].decode(errors="replace")

    def malloc(self, nbytes: int) -> int:
        ptr = ctypes.c_void_p()
        self._check(self.lib.cudaMalloc(ctypes.byref(ptr), ctypes.c_size_t(max(nbytes, 1))), "cudaMalloc")
        return int(ptr.value)

    def free(self, ptr: int) -> None:
        self.lib.cudaFree(ctypes.c_void_p(ptr))

    def stream(self) -> int:
        handle = ctypes.c_void_p()
        self._check(self.lib.cudaStreamCreate(ctypes.byref(handle)), "cudaStreamCreate")
        return int(handle.value or 0)

    def destroy_stream(self, stream: int) -> None:
        self.lib.cudaStreamDestroy(ctypes.c_void_p(stream))

    def copy_async(self, dst: int, src: int, nbytes: int, kind: int, stream: int) -> None:
        self._check(self.lib.cudaMemcpyAsync(ctypes.c_void_p(dst), ctypes.c_void_p(src), ctypes.c_size_t(nbytes),
                                             ctypes.c_int(kind), ctypes.c_void_p(stream)), "cudaMemcpyAsync")

    def synchronize(self, stream: int) -> None:
        self._check(self.lib.cudaStreamSynchronize(ctypes.c_void_p(stream)), "cudaStreamSynchronize")


# --------------------------------------------------------------------------------------------- profiles


def optimisation_profiles(manifest: PolicyManifest, context_shape: list, max_batch: int = 1,
                          opt_batch: int = 1) -> dict[str, dict[str, tuple[tuple, tuple, tuple]]]:
    """Per graph, per input: (min, opt, max) shapes; only the batch axis varies."""
    expected = manifest.expected_shapes()
    inputs = {"backbone": dict(expected["backbone"]),
              "action_expert": {k: v for k, v in expected["action_expert"].items() if k != "velocity"}}
    inputs["action_expert"]["context"] = context_shape
    out: dict[str, dict] = {}
    for graph, tensors in inputs.items():
        out[graph] = {}
        for name, shape in tensors.items():
            def at(b: int, shape=shape) -> tuple:
                return tuple(b if isinstance(d, str) else int(d) for d in shape)
            out[graph][name] = (at(1), at(min(opt_batch, max_batch)), at(max_batch))
    return out


def engine_cache_key(onnx_path: Path, trt_version: str, gpu_name: str, precision: str, profile: dict) -> str:
    """sha256 of the ONNX bytes, TensorRT version, GPU name, precision and profile."""
    h = hashlib.sha256()
    with open(onnx_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    h.update(json.dumps({"trt": trt_version, "gpu": gpu_name, "precision": precision,
                         "profile": {k: [list(s) for s in v] for k, v in profile.items()}}, sort_keys=True).encode())
    return h.hexdigest()


def engine_file(cache_dir: Path, graph: str, key: str) -> Path:
    return cache_dir / f"{graph}-{key[:24]}.engine"


# --------------------------------------------------------------------------------------------- build


def _progress_monitor(trt):
    """A tqdm-backed ``trt.IProgressMonitor`` (TensorRT >= 10), or None on older versions."""
    if not hasattr(trt, "IProgressMonitor"):
        return None
    from tqdm import tqdm

    class TqdmMonitor(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self.bars: dict[str, tqdm] = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            depth = len(self.bars)
            self.bars[phase_name] = tqdm(total=num_steps, desc=phase_name, position=depth, leave=depth == 0,
                                         file=sys.stderr)

        def step_complete(self, phase_name, step):
            bar = self.bars.get(phase_name)
            if bar is not None:
                bar.update(step - bar.n + 1)
            return True  # False would cancel the build

        def phase_finish(self, phase_name):
            bar = self.bars.pop(phase_name, None)
            if bar is not None:
                bar.close()

    return TqdmMonitor()


def build_engine(onnx_path: Path, out_path: Path, profile: dict[str, tuple], precision: str = "fp16",
                 workspace_gib: float = 4.0, progress: bool = True) -> Path:
    """Parse ``onnx_path``, build a serialized engine with ``profile`` and ``precision``, write it
    atomically to ``out_path``."""
    trt = import_tensorrt()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # implicit in TensorRT >= 10
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "bf16":
        config.set_flag(trt.BuilderFlag.BF16)
    opt_profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in profile.items():
        opt_profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(opt_profile)
    monitor = _progress_monitor(trt) if progress else None
    if monitor is not None:
        config.progress_monitor = monitor
    elif progress:
        print(f"building TensorRT engine for {onnx_path.name} ({precision}); this can take minutes", file=sys.stderr)
    t0 = time.monotonic()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine for {onnx_path} (see the TensorRT log above)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(serialized)
    os.replace(tmp, out_path)
    if progress:
        print(f"built {out_path.name} in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return out_path


def ensure_engines(manifest: PolicyManifest, cache_dir: str | os.PathLike | None = None,
                   precision: str | None = None, max_batch: int | None = None, force: bool = False,
                   progress: bool = True, cuda: CudaRuntime | None = None) -> dict[str, Path]:
    """Engine files for both graphs, built when the cache has none for this ONNX/TensorRT/GPU."""
    trt = import_tensorrt()
    entry = manifest.backends.get("tensorrt", {})
    precision = precision or str(entry.get("precision", "fp16"))
    max_batch = int(max_batch or entry.get("max_batch", 1))
    cache = Path(cache_dir or entry.get("engine_cache") or resources.cache_dir("tensorrt"))
    if not cache.is_absolute():
        cache = manifest.folder / cache
    gpu = (cuda or CudaRuntime()).gpu_name()
    shapes = check_onnx_shapes(manifest, "tensorrt")
    profiles = optimisation_profiles(manifest, shapes["backbone"]["outputs"][BACKBONE_OUTPUT], max_batch)
    engines = {}
    for graph in GRAPHS:
        onnx_path = manifest.file("tensorrt", graph)
        key = engine_cache_key(onnx_path, trt.__version__, gpu, precision, profiles[graph])
        path = engine_file(cache, graph, key)
        if force or not path.is_file():
            build_engine(onnx_path, path, profiles[graph], precision, progress=progress)
            path.with_suffix(".json").write_text(json.dumps(
                {"onnx": str(onnx_path), "tensorrt": trt.__version__, "gpu": gpu, "precision": precision,
                 "profile": {k: [list(s) for s in v] for k, v in profiles[graph].items()}}, indent=1))
        engines[graph] = path
    return engines


# --------------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", help="policy manifest (manifest.yaml or its folder)")
    parser.add_argument("--precision", choices=PRECISIONS, default=None, help="default: the manifest's (fp16)")
    parser.add_argument("--max-batch", type=int, default=None, help="largest batch of the optimisation profile")
    parser.add_argument("--cache-dir", default=None, help="engine cache folder (default: the user cache)")
    parser.add_argument("--force", action="store_true", help="rebuild even when a cached engine matches")


def run(args: argparse.Namespace) -> int:
    manifest = load_manifest(args.manifest)
    try:
        engines = ensure_engines(manifest, args.cache_dir, args.precision, args.max_batch, args.force)
    except BackendUnavailable as exc:
        print(f"build-engine: {exc}", file=sys.stderr)
        return 2
    for graph, path in engines.items():
        print(f"{graph}: {path}")
    return 0
