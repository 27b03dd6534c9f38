"""Per-key statistics of a checkpoint and the normalisations they define.

GR00T checkpoints ship ``statistics.json``: per embodiment, per modality (``state``,
``action``, sometimes ``relative_action``), per key the vectors ``min``, ``max``, ``mean``,
``std``, ``q01`` and ``q99``. A key is normalised by one of three rules:

- ``min_max``: ``2 (x - min) / (max - min) - 1`` into [-1, 1];
- ``q01_q99``: the same with the 1st/99th percentiles (robust to outliers; values beyond
  them leave [-1, 1] unless clipped);
- ``mean_std``: ``(x - mean) / std``.

Dimensions whose range (or std) is zero map to 0 and back to the constant, never divide by
zero. The server does this itself; the client uses the statistics to know the dimensions of
every key and to flag actions far outside what the model was trained on, and the mock server
uses them as a real server would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

STAT_FIELDS = ("min", "max", "mean", "std", "q01", "q99")
MODES = ("min_max", "q01_q99", "mean_std")
_EPS = 1e-8


class StatisticsError(ValueError):
    """Statistics that cannot be used; the message names the key and field."""


@dataclass(frozen=True)
class KeyStats:
    """Statistics of one key (all vectors of the key's dimension)."""

    min: np.ndarray
    max: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    q01: np.ndarray
    q99: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def from_dict(cls, data: Mapping, where: str) -> KeyStats:
        if not isinstance(data, Mapping):
            raise StatisticsError(f"{where}: expected a mapping of {STAT_FIELDS}")
        values, dim = {}, None
        for name in STAT_FIELDS:
            if name not in data:
                raise StatisticsError(f"{where}.{name} is missing")
            try:
                vec = np.asarray(data[name], dtype=np.float64).reshape(-1)
            except (TypeError, ValueError) as exc:
                raise StatisticsError(f"{where}.{name} is not a list of numbers: {exc}") from exc
            if not np.all(np.isfinite(vec)):
                raise StatisticsError(f"{where}.{name} contains NaN or inf")
            if dim is None:
                dim = vec.shape[0]
            if vec.shape[0] != dim or dim == 0:
                raise StatisticsError(f"{where}.{name} has {vec.shape[0]} values, {where}.min has {dim}")
            values[name] = vec
        if np.any(values["std"] < 0):
            raise StatisticsError(f"{where}.std has negative values")
        return cls(**values)

    def to_dict(self) -> dict[str, list[float]]:
        return {name: [float(v) for v in getattr(self, name)] for name in STAT_FIELDS}

    def _bounds(self, mode: str) -> tuple[np.ndarray, np.ndarray]:
        if mode == "min_max":
            return self.min, self.max
        if mode == "q01_q99":
            return self.q01, self.q99
        raise StatisticsError(f"normalisation mode must be one of {MODES}, got {mode!r}")

    def normalise(self, x: np.ndarray, mode: str, clip: bool = False) -> np.ndarray:
        """Physical values ``(..., dim)`` -> model space."""
        x = np.asarray(x, dtype=np.float64)
        if mode == "mean_std":
            scale = np.where(self.std > _EPS, self.std, 1.0)
            out = np.where(self.std > _EPS, (x - self.mean) / scale, 0.0)
        else:
            lo, hi = self._bounds(mode)
            span = hi - lo
            safe = np.where(span > _EPS, span, 1.0)
            out = np.where(span > _EPS, 2.0 * (x - lo) / safe - 1.0, 0.0)
        return np.clip(out, -1.0, 1.0) if clip and mode != "mean_std" else out

    def unnormalise(self, y: np.ndarray, mode: str) -> np.ndarray:
        """Model space ``(..., dim)`` -> physical values (inverse of :meth:`normalise`)."""
        y = np.asarray(y, dtype=np.float64)
        if mode == "mean_std":
            return np.where(self.std > _EPS, y * self.std + self.mean, self.mean)
        lo, hi = self._bounds(mode)
        span = hi - lo
        return np.where(span > _EPS, (y + 1.0) * 0.5 * span + lo, lo)

    def outside(self, x: np.ndarray, margin: float = 0.5) -> np.ndarray:
        """Boolean mask of values beyond [min, max] widened by ``margin`` times the range."""
        span = np.maximum(self.max - self.min, _EPS)
        return (x < self.min - margin * span) | (x > self.max + margin * span)


def read_statistics(data: Mapping, embodiment: str, where: str = "statistics.json") -> dict[str, dict[str, KeyStats]]:
    """``statistics.json`` content -> ``{modality: {key: KeyStats}}`` for one embodiment."""
    if embodiment not in data:
        raise StatisticsError(f"{where} has no statistics for embodiment '{embodiment}' (it has {sorted(data)})")
    out: dict[str, dict[str, KeyStats]] = {}
    for modality, keys in data[embodiment].items():
        if not isinstance(keys, Mapping):
            raise StatisticsError(f"{where}: {embodiment}.{modality} is not a mapping")
        out[modality] = {k: KeyStats.from_dict(v, f"{where}: {embodiment}.{modality}.{k}") for k, v in keys.items()}
    return out


def stats_from_samples(samples: np.ndarray) -> KeyStats:
    """Statistics of ``(N, dim)`` samples, as a training pipeline computes them."""
    s = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    return KeyStats(min=s.min(0), max=s.max(0), mean=s.mean(0), std=s.std(0),
                    q01=np.quantile(s, 0.01, axis=0), q99=np.quantile(s, 0.99, axis=0))
