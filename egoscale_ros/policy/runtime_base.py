"""The interface every policy backend implements: two graphs, numpy at the edges, flow sampling.

A runtime evaluates the two graphs of the split model: :meth:`PolicyRuntime.encode` (backbone,
once per observation) and :meth:`PolicyRuntime.velocity` (action expert, once per denoising
step). :meth:`PolicyRuntime.sample` integrates the flow with K Euler steps and records the time
of every stage. Backends keep intermediate tensors in their own memory (device buffers, torch
tensors) and only the inputs and the final chunk cross to numpy.

The backends (``runtime_onnx``, ``runtime_tensorrt``, ``runtime_torch``) build on this module;
``runtime.py`` chooses among them.
"""

from __future__ import annotations

import time

import numpy as np


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
