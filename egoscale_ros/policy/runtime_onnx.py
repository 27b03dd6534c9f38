"""ONNX Runtime backend: TensorRT EP -> CUDA EP -> CPU, first that this build and machine offer.

The TensorRT execution provider gets an engine cache and a timing cache (building engines takes
minutes; a robot must not rebuild them at every start). On CPU the sessions use few threads and
no spin-waiting by default: the policy shares a small computer with the rest of the graph, and at
this model size more threads only add synchronisation.

This module never imports torch.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from egoscale_ros import resources
from egoscale_ros.policy.manifest import (
    BACKBONE_INPUTS,
    BACKBONE_OUTPUT,
    EXPERT_INPUTS,
    EXPERT_OUTPUT,
    GRAPHS,
    PolicyManifest,
    check_onnx_shapes,
)
from egoscale_ros.policy.runtime_base import BackendUnavailable, PolicyRuntime

TRT_EP, CUDA_EP, CPU_EP = "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"
DEFAULT_PROVIDERS = (TRT_EP, CUDA_EP, CPU_EP)


def profile_shapes(manifest: PolicyManifest, graph: str, context_shape: list, batch: int) -> str:
    """TensorRT EP optimisation-profile string ``name:1x2x3,...`` for one graph at ``batch``."""
    shapes = dict(manifest.expected_shapes()[graph])
    if graph == "action_expert":
        shapes["context"] = context_shape
        shapes.pop("velocity")
    return ",".join(f"{name}:" + "x".join(str(batch if isinstance(d, str) else d) for d in shape)
                    for name, shape in shapes.items())


class OnnxRuntimePolicy(PolicyRuntime):
    """Both graphs as ONNX Runtime sessions on the best available execution provider."""

    backend = "onnxruntime"

    def __init__(self, manifest: PolicyManifest, device: str = "auto", providers: list[str] | None = None,
                 threads: int = 1, engine_cache_dir: str | os.PathLike | None = None, fp16: bool = True,
                 max_batch: int = 1):
        super().__init__()
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailable(f"onnxruntime is not installed ({exc})") from exc
        shapes = check_onnx_shapes(manifest, "onnxruntime")
        context_shape = shapes["backbone"]["outputs"][BACKBONE_OUTPUT]
        entry = manifest.backends.get("onnxruntime", {})
        requested = list(providers or entry.get("providers") or DEFAULT_PROVIDERS)
        if device == "cpu":
            requested = [CPU_EP]
        available = set(ort.get_available_providers())
        self.provider_fallbacks: list[tuple[str, str]] = []
        chosen = []
        for p in requested:
            if p in available:
                chosen.append(p)
            else:
                self.provider_fallbacks.append((f"onnxruntime/{p}", "not in this onnxruntime build"))
        if not chosen:
            raise BackendUnavailable(f"none of the providers {requested} is available (have {sorted(available)})")

        cache = Path(engine_cache_dir or entry.get("engine_cache") or resources.cache_dir("ort_trt"))
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if threads > 0:
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.sessions = {}
        for graph in GRAPHS:
            provider_list = []
            for p in chosen:
                if p == TRT_EP:
                    cache.mkdir(parents=True, exist_ok=True)
                    provider_list.append((p, {
                        "trt_engine_cache_enable": "True", "trt_engine_cache_path": str(cache),
                        "trt_timing_cache_enable": "True", "trt_timing_cache_path": str(cache),
                        "trt_fp16_enable": str(bool(fp16)),
                        "trt_profile_min_shapes": profile_shapes(manifest, graph, context_shape, 1),
                        "trt_profile_opt_shapes": profile_shapes(manifest, graph, context_shape, 1),
                        "trt_profile_max_shapes": profile_shapes(manifest, graph, context_shape, max_batch),
                    }))
                elif p == CUDA_EP:
                    provider_list.append((p, {"device_id": "0"}))
                else:
                    provider_list.append(p)
            self.sessions[graph] = ort.InferenceSession(str(manifest.file("onnxruntime", graph)), so,
                                                        providers=provider_list)
        # A provider that is compiled in but cannot initialise (no GPU, missing CUDA libraries) is
        # silently dropped by ONNX Runtime: report it as a fallback too.
        active = self.sessions["backbone"].get_providers()
        for p in chosen:
            if p not in active:
                self.provider_fallbacks.append((f"onnxruntime/{p}", "could not initialise on this machine"))
        self.providers = active
        self.detail = active[0]
        self.device = "cpu" if active[0] == CPU_EP else "cuda"
        self._backbone, self._expert = self.sessions["backbone"], self.sessions["action_expert"]

    def encode(self, image, tokens, state, state_mask):
        feeds = dict(zip(BACKBONE_INPUTS, (image, tokens, state, state_mask)))
        return self._backbone.run([BACKBONE_OUTPUT], feeds)[0]

    def velocity(self, noisy_actions, timestep, context):
        feeds = dict(zip(EXPERT_INPUTS, (noisy_actions, timestep, context)))
        return self._expert.run([EXPERT_OUTPUT], feeds)[0]

    def sample(self, image, tokens, state, state_mask, noise, steps, timings=None) -> np.ndarray:
        return super().sample(np.ascontiguousarray(image, np.float32), np.ascontiguousarray(tokens, np.int64),
                              np.ascontiguousarray(state, np.float32), np.ascontiguousarray(state_mask, np.float32),
                              noise, steps, timings)

    def close(self) -> None:
        self.sessions.clear()
