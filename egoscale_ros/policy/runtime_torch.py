"""PyTorch backend: the reference model from the checkpoint, eager, with CUDA graphs on a GPU.

On a GPU the backbone and one denoising step are each captured once into a CUDA graph with
static input/output buffers, then replayed: this removes the per-kernel launch overhead that
dominates small-batch inference. On CPU it runs eagerly under ``inference_mode``.
"""

from __future__ import annotations

import numpy as np

from egoscale_ros.policy.manifest import PolicyManifest
from egoscale_ros.policy.runtime_base import BackendUnavailable, PolicyRuntime


class TorchPolicy(PolicyRuntime):
    """The checkpoint's :class:`~egoscale_ros.policy.model.EgoScalePolicy` run by PyTorch."""

    backend = "torch"

    def __init__(self, manifest: PolicyManifest, device: str = "auto", cuda_graphs: bool = True,
                 threads: int = 0, dtype: str = "float32"):
        super().__init__()
        try:
            import torch
        except ImportError as exc:
            raise BackendUnavailable(f"torch is not installed ({exc})") from exc
        from egoscale_ros.policy.training import load_checkpoint

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailable("device 'cuda' requested but torch sees no CUDA GPU")
        if threads > 0:
            torch.set_num_threads(threads)
        self.torch = torch
        self.device = device
        self.dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
        policy, fields = load_checkpoint(manifest.file("torch", "checkpoint"), device=device)
        _check_checkpoint_matches(manifest, policy.config, fields)
        self.policy = policy.to(self.dtype)
        self.embodiment = manifest.embodiment
        self.detail = f"{device}" + (f" {torch.cuda.get_device_name(device)}" if device.startswith("cuda") else "")
        self.use_graphs = bool(cuda_graphs and device.startswith("cuda"))
        self._graphs: dict[str, object] = {}
        if self.use_graphs:
            self.detail += ", CUDA graphs"

    # -- tensors -------------------------------------------------------------------------------

    def from_host(self, array: np.ndarray):
        t = self.torch.from_numpy(np.ascontiguousarray(array)).to(self.device)
        return t.to(self.dtype) if t.is_floating_point() else t

    def to_host(self, value) -> np.ndarray:
        return value.float().cpu().numpy()

    def timestep(self, value: float, batch: int):
        return self.torch.full((batch,), value, dtype=self.dtype, device=self.device)

    def synchronize(self) -> None:
        if self.device.startswith("cuda"):
            self.torch.cuda.synchronize(self.device)

    # -- graphs --------------------------------------------------------------------------------

    def encode(self, image, tokens, state, state_mask):
        args = [self.from_host(a) for a in (image, tokens, state, state_mask)]
        with self.torch.inference_mode():
            if self.use_graphs:
                return self._replay("backbone", lambda *a: self.policy.encode(self.embodiment, *a), args)
            return self.policy.encode(self.embodiment, *args)

    def velocity(self, noisy_actions, timestep, context):
        with self.torch.inference_mode():
            if self.use_graphs:
                return self._replay("expert", lambda *a: self.policy.velocity(self.embodiment, *a),
                                    [noisy_actions, timestep, context])
            return self.policy.velocity(self.embodiment, noisy_actions, timestep, context)

    def _replay(self, name: str, fn, args: list):
        """Capture ``fn`` for these input shapes once, then copy inputs in and replay."""
        torch = self.torch
        key = (name, tuple(tuple(a.shape) for a in args))
        entry = self._graphs.get(key)
        if entry is None:
            static_in = [a.clone() for a in args]
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                for _ in range(3):  # warm up kernels/allocator outside the capture
                    fn(*static_in)
            torch.cuda.current_stream(self.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = fn(*static_in)
            entry = self._graphs[key] = (graph, static_in, static_out)
        graph, static_in, static_out = entry
        for dst, src in zip(static_in, args):
            dst.copy_(src)
        graph.replay()
        # The output buffer is overwritten by the next replay: hand out a copy.
        return static_out.clone()

    def close(self) -> None:
        self._graphs.clear()


def _check_checkpoint_matches(manifest: PolicyManifest, config, fields: PolicyManifest) -> None:
    """The checkpoint's architecture must agree with the manifest it is deployed with."""
    from egoscale_ros.policy.manifest import ManifestError

    checks = [
        ("image.size", manifest.image.size, config.image_size),
        ("image.cameras", manifest.image.cameras, config.num_cameras),
        ("instruction.max_tokens", manifest.max_tokens, config.max_tokens),
        ("action.horizon", manifest.layout.horizon, config.horizon),
        ("action.dim", manifest.layout.dim, config.action_dim),
        ("state.joints (count)", len(manifest.state.joints), config.embodiments.get(manifest.embodiment)),
    ]
    for name, want, have in checks:
        if want != have:
            raise ManifestError(f"{manifest.path}: {name} is {want} but the torch checkpoint has {have}")
