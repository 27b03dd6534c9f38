"""Execution mode ``temporal_ensemble`` (ACT, Zhao et al. 2023).

Every buffered chunk that covers ``t`` predicted an action for ``t``; the output is their
weighted mean with weights ``exp(−m·i)``, ``i = 0`` for the oldest chunk. With ``m > 0`` older
predictions weigh more, which damps jitter from chunk to chunk; ``m = 0`` is a plain mean and
``m < 0`` favours new chunks. ACT uses ``m = 0.01``. Rotations are averaged with the weighted
quaternion mean of :mod:`egoscale_ros.kinematics.se3` (signs aligned, normalised weighted sum),
which agrees with the weighted Karcher (geodesic) mean to third order in the spread of the
predictions (1e-7 rad for predictions spread by 0.01 rad).

All buffered chunks are read at once from their stacked tables
(:mod:`egoscale_ros.chunking.stacked`), so a tick costs a fixed number of vectorised calls
whatever the number of chunks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from egoscale_ros.chunking.execution import BufferedChunk, ExecutionMode
from egoscale_ros.chunking.interpolation import sample_chunk
from egoscale_ros.chunking.stack import targets_from_poses
from egoscale_ros.chunking.stacked import StackedChunks
from egoscale_ros.chunking.targets import Targets, weighted_mean
from egoscale_ros.kinematics import se3


class TemporalEnsembleMode(ExecutionMode):
    """ACT temporal ensembling over the covering chunks (at most ``max_chunks`` newest, if set)."""

    name = "temporal_ensemble"

    def __init__(self, m: float = 0.01, max_chunks: int | None = None) -> None:
        if not math.isfinite(m):
            raise ValueError(f"temporal_ensemble: m must be finite (got {m})")
        if max_chunks is not None and max_chunks < 1:
            raise ValueError(f"temporal_ensemble: max_chunks must be >= 1 (got {max_chunks})")
        self.m = float(m)
        self.max_chunks = max_chunks
        self._weights_by_count: dict[int, np.ndarray] = {}
        self._stacked = StackedChunks()

    def on_chunk(self, new: BufferedChunk, buffer: Sequence[BufferedChunk]) -> None:
        self._stacked.sync(buffer)  # stacked on arrival, not at the next tick

    def sample(self, buffer: Sequence[BufferedChunk], t: float) -> Targets | None:
        if not self._stacked.sync(buffer):
            return self._sample_one_by_one(buffer, t)
        summed = self._stacked.weighted_sum(t, self._weights, self.max_chunks)
        if summed is None:
            return None
        layout = self._stacked.layout
        n_quat = 4 * len(layout[0])
        head = summed[: n_quat + 3 * len(layout[0])].tolist()  # quaternion sums, then translations
        try:
            poses = se3.poses_from_quats(head[:n_quat], head[n_quat:])
        except ValueError:  # predictions half a turn apart cancelled out: align them to the heaviest
            return self._sample_one_by_one(buffer, t)
        return targets_from_poses(layout, poses, summed[n_quat:])

    def reset(self) -> None:
        self._stacked.clear()

    def _sample_one_by_one(self, buffer: Sequence[BufferedChunk], t: float) -> Targets | None:
        """Each chunk read and the readings mixed side by side, with the same rule: for chunks of
        several layouts (a mode used without the smoother, which refuses them)."""
        samples = [s for s in (sample_chunk(e.chunk, t) for e in buffer) if s is not None]
        if not samples:
            return None
        if self.max_chunks is not None:
            samples = samples[-self.max_chunks:]
        return weighted_mean(samples, self._weights(len(samples))[:, 0])

    def _weights(self, count: int) -> np.ndarray:
        """``exp(−m·i)`` for ``i = 0 .. count−1``, normalised, as a column (count, 1)."""
        weights = self._weights_by_count.get(count)
        if weights is None:  # the same few counts every tick: computed once each
            weights = np.exp(-self.m * np.arange(count))
            weights = self._weights_by_count[count] = (weights / weights.sum())[:, None]
        return weights
