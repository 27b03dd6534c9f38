"""Joint limits as the safety layer uses them: position, velocity and acceleration per joint.

Limits start from the URDF (position, velocity; acceleration is not in URDF and defaults to
unlimited) and may then only be tightened by configuration: :meth:`JointLimits.tightened`
refuses any value that would widen a limit, naming the joint and the field, so a typo in a
config can never make a robot faster or its range larger than its maker allows. Infinite values
mean "no limit" (a continuous joint's position, a URDF without a velocity).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FIELDS = ("lower", "upper", "velocity", "acceleration")


class LimitsError(ValueError):
    """Limits that are inconsistent, or a change that would loosen them; names joint and field."""


@dataclass(frozen=True)
class JointLimits:
    """Per-joint limits, all arrays of shape ``(n,)`` in the order of ``names``."""

    names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray
    acceleration: np.ndarray

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.names)
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise LimitsError(f"joint '{dup}' appears twice")
        object.__setattr__(self, "names", names)
        n = len(names)
        for field in FIELDS:
            arr = np.array(getattr(self, field), dtype=np.float64).reshape(-1)
            if arr.shape != (n,):
                raise LimitsError(f"{field}: {arr.size} values for {n} joints")
            bad = np.isnan(arr)
            if bad.any():
                raise LimitsError(f"joint '{names[int(np.argmax(bad))]}': {field} is NaN")
            arr.setflags(write=False)
            object.__setattr__(self, field, arr)
        for i, name in enumerate(names):
            if self.lower[i] > self.upper[i]:
                raise LimitsError(f"joint '{name}': lower {self.lower[i]} > upper {self.upper[i]}")
            if self.lower[i] == math.inf or self.upper[i] == -math.inf:
                raise LimitsError(f"joint '{name}': position range [{self.lower[i]}, {self.upper[i]}] is empty")
            for field in ("velocity", "acceleration"):
                if not getattr(self, field)[i] > 0:
                    raise LimitsError(f"joint '{name}': {field} limit must be > 0 (got {getattr(self, field)[i]})")

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_joints(cls, joints: Mapping[str, Any], names: Iterable[str],
                    acceleration: float = math.inf) -> JointLimits:
        """From objects with ``lower``/``upper``/``velocity`` attributes (e.g. URDF joints), in the
        order of ``names``; every joint gets ``acceleration`` (URDF has none)."""
        names = tuple(names)
        missing = [n for n in names if n not in joints]
        if missing:
            raise LimitsError(f"joint '{missing[0]}' has no limits (not in the joint description)")
        rows = [joints[n] for n in names]
        return cls(names, [r.lower for r in rows], [r.upper for r in rows], [r.velocity for r in rows],
                   [acceleration] * len(names))

    @property
    def size(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise LimitsError(f"joint '{name}' is not among the limited joints") from None

    def subset(self, names: Sequence[str]) -> JointLimits:
        """Limits of ``names`` in that order (e.g. one controller's joint order)."""
        idx = [self.index(n) for n in names]
        return JointLimits(tuple(names), self.lower[idx], self.upper[idx], self.velocity[idx],
                           self.acceleration[idx])

    # -- tightening ----------------------------------------------------------------------------
    def tightened(self, overrides: Mapping[str, Any] | None = None, *, velocity_scale: float = 1.0,
                  acceleration: float | None = None) -> JointLimits:
        """New limits, never looser than these.

        ``velocity_scale`` (in (0, 1]) scales every velocity limit; ``acceleration`` caps every
        joint's; ``overrides`` maps a joint name to new ``lower``/``upper``/``velocity``/
        ``acceleration`` values (a mapping, or an object with those attributes; None = keep).
        Raises :class:`LimitsError` naming the joint and field for a loosening or an empty range.
        """
        if not 0.0 < velocity_scale <= 1.0:
            raise LimitsError(f"velocity_scale must be in (0, 1] (limits may only tighten), got {velocity_scale}")
        values = {f: getattr(self, f).copy() for f in FIELDS}
        values["velocity"] *= velocity_scale
        if acceleration is not None:
            if not acceleration > 0:
                raise LimitsError(f"acceleration must be > 0 (got {acceleration})")
            loose = values["acceleration"] < acceleration
            if loose.any():
                i = int(np.argmax(loose))
                raise LimitsError(f"joint '{self.names[i]}': acceleration {acceleration} would loosen the limit "
                                  f"{values['acceleration'][i]}")
            values["acceleration"][:] = acceleration
        for name, override in (overrides or {}).items():
            i = self.index(name)
            for field in FIELDS:
                new = override.get(field) if isinstance(override, Mapping) else getattr(override, field, None)
                if new is None:
                    continue
                new = float(new)
                old = values[field][i]
                looser = new < old if field == "lower" else new > old
                if math.isnan(new) or looser:
                    raise LimitsError(f"joint '{name}': {field} {new} would loosen the limit {old}")
                if field in ("velocity", "acceleration") and not new > 0:
                    raise LimitsError(f"joint '{name}': {field} limit must be > 0 (got {new})")
                values[field][i] = new
            if values["lower"][i] > values["upper"][i]:
                raise LimitsError(f"joint '{name}': tightened range [{values['lower'][i]}, "
                                  f"{values['upper'][i]}] is empty")
        return JointLimits(self.names, **values)

    # -- checks ----------------------------------------------------------------------------------
    def clip(self, q: np.ndarray) -> np.ndarray:
        return np.clip(q, self.lower, self.upper)

    def within(self, q: np.ndarray, tolerance: float = 1e-9) -> bool:
        q = np.asarray(q, dtype=float)
        return bool(np.all((q >= self.lower - tolerance) & (q <= self.upper + tolerance)))
