"""TensorRT backend: the two cached engines run with device buffers on one CUDA stream.

The backbone's ``context`` output buffer is bound directly as the action expert's ``context``
input, so the context never leaves the GPU; per denoising step only the small action tensor
(H x dim floats) crosses to the host, where the Euler update is exact float32 arithmetic.
Engines are built on first use (or ahead of time with ``egoscale-ros build-engine``).

This module never imports torch.
"""

from __future__ import annotations

import numpy as np

from egoscale_ros.policy.manifest import (
    BACKBONE_INPUTS,
    BACKBONE_OUTPUT,
    EXPERT_INPUTS,
    EXPERT_OUTPUT,
    PolicyManifest,
)
from egoscale_ros.policy.runtime_base import BackendUnavailable, PolicyRuntime
from egoscale_ros.policy.tensorrt_engine import CudaRuntime, ensure_engines, import_tensorrt


class _Engine:
    """One deserialized engine with its execution context and device buffers (batch 1)."""

    def __init__(self, trt, runtime, path, cuda: CudaRuntime, stream: int, batch: int = 1):
        self.cuda, self.stream = cuda, stream
        self.engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise BackendUnavailable(f"TensorRT could not load engine {path} (built for another GPU or version?)")
        self.context = self.engine.create_execution_context()
        self.buffers: dict[str, int] = {}
        self.shapes: dict[str, tuple] = {}
        self.dtypes: dict[str, np.dtype] = {}
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        for name in self.inputs:
            shape = tuple(batch if d < 0 else d for d in self.engine.get_tensor_shape(name))
            self.context.set_input_shape(name, shape)
        for name in names:
            shape = tuple(self.context.get_tensor_shape(name))
            dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
            self.shapes[name], self.dtypes[name] = shape, dtype
            self.buffers[name] = cuda.malloc(int(np.prod(shape)) * dtype.itemsize)
            self.context.set_tensor_address(name, self.buffers[name])

    def upload(self, name: str, array: np.ndarray) -> None:
        host = np.ascontiguousarray(array, dtype=self.dtypes[name])
        if host.shape != self.shapes[name]:
            raise ValueError(f"TensorRT input '{name}' has shape {host.shape}, the engine expects {self.shapes[name]}")
        self.cuda.copy_async(self.buffers[name], host.ctypes.data, host.nbytes, CudaRuntime.H2D, self.stream)
        # Pageable host memory: cudaMemcpyAsync returns after staging, so `host` may be freed.

    def bind(self, name: str, device_ptr: int) -> None:
        self.context.set_tensor_address(name, device_ptr)

    def run(self) -> None:
        if not self.context.execute_async_v3(self.stream):
            raise RuntimeError("TensorRT execution failed")

    def download(self, name: str) -> np.ndarray:
        out = np.empty(self.shapes[name], self.dtypes[name])
        self.cuda.copy_async(out.ctypes.data, self.buffers[name], out.nbytes, CudaRuntime.D2H, self.stream)
        self.cuda.synchronize(self.stream)
        return out

    def close(self) -> None:
        for ptr in self.buffers.values():
            self.cuda.free(ptr)
        self.buffers.clear()


class TensorRTPolicy(PolicyRuntime):
    """Backbone + action expert engines on the GPU."""

    backend = "tensorrt"

    def __init__(self, manifest: PolicyManifest, cache_dir=None, precision: str | None = None,
                 progress: bool = True):
        super().__init__()
        trt = import_tensorrt()
        self.cuda = CudaRuntime()
        gpu = self.cuda.gpu_name()
        paths = ensure_engines(manifest, cache_dir, precision, max_batch=None, progress=progress, cuda=self.cuda)
        self.stream = self.cuda.stream()
        logger = trt.Logger(trt.Logger.WARNING)
        self._trt_runtime = trt.Runtime(logger)
        self.backbone = _Engine(trt, self._trt_runtime, paths["backbone"], self.cuda, self.stream)
        self.expert = _Engine(trt, self._trt_runtime, paths["action_expert"], self.cuda, self.stream)
        # Zero-copy hand-over of the context tokens between the two engines.
        self.expert.bind("context", self.backbone.buffers[BACKBONE_OUTPUT])
        self.device = "cuda"
        precision = precision or manifest.backends.get("tensorrt", {}).get("precision", "fp16")
        self.detail = f"{gpu}, TensorRT {trt.__version__}, {precision}"

    def encode(self, image, tokens, state, state_mask):
        for name, value in zip(BACKBONE_INPUTS, (image, tokens, state, state_mask)):
            self.backbone.upload(name, value)
        self.backbone.run()
        return self.backbone.buffers[BACKBONE_OUTPUT]  # stays on the device

    def velocity(self, noisy_actions, timestep, context):
        self.expert.upload(EXPERT_INPUTS[0], noisy_actions)
        self.expert.upload(EXPERT_INPUTS[1], timestep)
        self.expert.run()
        return self.expert.download(EXPERT_OUTPUT)

    def synchronize(self) -> None:
        self.cuda.synchronize(self.stream)

    def close(self) -> None:
        for engine in (getattr(self, "backbone", None), getattr(self, "expert", None)):
            if engine is not None:
                engine.close()
        if getattr(self, "stream", None):
            self.cuda.destroy_stream(self.stream)
            self.stream = 0
