"""Observation in, action chunk out: preprocessing, a runtime, postprocessing, with stage times.

This is everything the policy node does per observation except ROS plumbing, so it can be
tested and benchmarked without ROS. Noise for the flow is drawn from a generator seeded with the
manifest's seed and the observation's stamp, so the same observation always gives the same chunk:
a recorded run can be replayed offline and compared chunk by chunk. A caller may also pass the
noise explicitly.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from egoscale_ros.chunking.chunk import ActionChunk, ChunkError
from egoscale_ros.policy.manifest import PolicyManifest
from egoscale_ros.policy.runtime_base import PolicyRuntime
from egoscale_ros.policy.tokenizer import tokenize
from egoscale_ros.policy.transforms import (
    decode_chunk,
    denormalise_actions,
    normalise_state,
    preprocess_images,
)


@dataclass
class Observation:
    """What the policy sees at ``stamp_ns``: one RGB uint8 image per camera slot, joint positions
    by name (missing joints are simply absent), the instruction, and the wrist poses (base frame)
    at that time, which relative wrist actions are composed with; ``frame`` names the frame those
    poses are in (the robot's base frame), which the decoded chunk carries on."""

    stamp_ns: int
    images: Sequence[np.ndarray]
    joint_positions: Mapping[str, float]
    instruction: str
    wrist_poses: Mapping[str, np.ndarray] | None = None
    base_T_camera: np.ndarray | None = None
    frame: str = ""


@dataclass
class Prediction:
    """A decoded chunk (None when the network produced NaN/inf) and milliseconds per stage."""

    chunk: ActionChunk | None
    stages_ms: dict[str, float] = field(default_factory=dict)
    normalised: np.ndarray | None = None

    @property
    def total_ms(self) -> float:
        return float(sum(self.stages_ms.values()))

    @property
    def dropped_non_finite(self) -> bool:
        return self.chunk is None


class PolicyPipeline:
    """Manifest-driven pre/post-processing around a :class:`PolicyRuntime`."""

    def __init__(self, manifest: PolicyManifest, runtime: PolicyRuntime, seed: int | None = None):
        self.manifest = manifest
        self.runtime = runtime
        self.seed = manifest.seed if seed is None else seed
        self._token_cache: tuple[str, np.ndarray] | None = None

    def noise(self, stamp_ns: int) -> np.ndarray:
        """The flow's initial noise for the observation stamped ``stamp_ns`` (a pure function of it)."""
        layout = self.manifest.layout
        rng = np.random.default_rng((int(self.seed), int(stamp_ns)))
        return rng.standard_normal((1, layout.horizon, layout.dim), dtype=np.float32)

    def tokens(self, instruction: str) -> np.ndarray:
        if self._token_cache is None or self._token_cache[0] != instruction:
            self._token_cache = (instruction, tokenize(instruction, self.manifest.max_tokens)[None])
        return self._token_cache[1]

    def inputs(self, obs: Observation) -> dict[str, np.ndarray]:
        """The model's input tensors for ``obs`` (batch of one)."""
        state, mask = normalise_state(obs.joint_positions, self.manifest.state)
        return {"image": preprocess_images(obs.images, self.manifest.image),
                "tokens": self.tokens(obs.instruction or self.manifest.default_instruction),
                "state": state[None], "state_mask": mask[None]}

    def predict(self, obs: Observation, noise: np.ndarray | None = None) -> Prediction:
        """Run the whole pipeline; a non-finite network output gives ``chunk=None`` (to be counted)."""
        stages: dict[str, float] = {}
        t0 = time.perf_counter()
        feeds = self.inputs(obs)
        stages["preprocess"] = (time.perf_counter() - t0) * 1e3
        normalised = self.runtime.sample(feeds["image"], feeds["tokens"], feeds["state"], feeds["state_mask"],
                                         self.noise(obs.stamp_ns) if noise is None else noise,
                                         self.manifest.denoising_steps, stages)[0]
        t1 = time.perf_counter()
        chunk = None
        if np.all(np.isfinite(normalised)):
            actions = denormalise_actions(normalised, self.manifest.action)
            try:
                chunk = decode_chunk(actions, self.manifest.layout, obs.stamp_ns, obs.wrist_poses,
                                     obs.base_T_camera, obs.frame)
            except ChunkError:  # not finite (or not rigid) once decoded: dropped and counted
                chunk = None
        stages["postprocess"] = (time.perf_counter() - t1) * 1e3
        return Prediction(chunk, stages, normalised)


def pipeline_for(manifest: PolicyManifest, runtime: PolicyRuntime):
    """The object whose ``predict(obs)`` the node calls: the runtime's own where it has one (a
    policy server does all pre- and post-processing itself), else a local :class:`PolicyPipeline`."""
    own = getattr(runtime, "make_pipeline", None)
    return own(manifest) if own is not None else PolicyPipeline(manifest, runtime)
