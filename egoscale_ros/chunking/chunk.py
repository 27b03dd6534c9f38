"""The action chunk, from the policy's decoding to the smoother, and its validation.

A chunk is what the policy predicted from one observation: per step ``k`` (``0..H-1``) absolute
wrist targets in the frame named by ``frame`` (the robot's base frame) and hand joint targets,
due at ``stamp_ns + k·dt`` where ``stamp_ns`` is the observation's time in integer nanoseconds
(the stamp of the captured frame, kept exact so that the two halves of a chunk pair by it) and
``dt`` the explicit step, never re-derived. A chunk may carry wrist targets only or hand targets
only, since the two arrive on separate topics (run one smoother per stream, or combine them
before).

:func:`make_chunk` is the only way in: it copies and checks every array so that nothing later in
the control path can meet a NaN, a wrong shape or a non-rigid transform, and it refuses a stamp
that is not an integer (seconds passed where nanoseconds are meant would otherwise run 10⁹ times
too early). The frame is carried as given and checked by whoever consumes it, never relabelled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from egoscale_ros.chunking.step_tables import StepTables, build_step_tables
from egoscale_ros.kinematics import se3

ROTATION_TOLERANCE = 1e-3  # |RᵀR − I| and |det R − 1| allowed (float32 decoding noise passes)
_LAYOUTS: dict[tuple, tuple] = {}  # one object per layout: chunks of one stream compare with `is`


class ChunkError(ValueError):
    """A chunk was refused; the message names the offending field (e.g. ``hand['left']``)."""


@dataclass(frozen=True)
class ActionChunk:
    """A validated chunk. Arrays are float64, read-only; build it with :func:`make_chunk`."""

    stamp_ns: int  #: the observation's time, integer nanoseconds
    dt: float  #: seconds from one step to the next
    wrist: Mapping[str, np.ndarray]  # side -> (H, 4, 4), in ``frame``
    hand: Mapping[str, np.ndarray]  # side -> (H, n)
    horizon: int = field(default=0)
    #: side -> (H−1, 3): rotation vector from step k to k+1 in step k's frame, from which the
    #: per-step tables are built (computed here when not given)
    wrist_step_rotvecs: Mapping[str, np.ndarray] = field(default_factory=dict)
    #: side -> names of the hand's columns (empty where the consumer orders them by side alone)
    hand_joint_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    frame: str = ""  #: the frame the wrist poses are expressed in
    #: ``stamp_ns`` in seconds, derived once: the control loop's clock arithmetic is in seconds
    stamp: float = field(init=False, repr=False, compare=False)
    #: derived: the per-step tables that make a reading at any time a lookup (:mod:`.step_tables`)
    tables: StepTables = field(init=False, repr=False, compare=False)
    #: due time of the last step (an attribute, not a property: read many times per tick)
    end_time: float = field(init=False, repr=False, compare=False)
    _layout: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stamp", self.stamp_ns * 1e-9)
        object.__setattr__(self, "end_time", self.stamp + (self.horizon - 1) * self.dt)
        wrist_sides = tuple(sorted(self.wrist))
        hand_sides = tuple(sorted(self.hand))
        layout = (wrist_sides, tuple((s, int(self.hand[s].shape[1])) for s in hand_sides))
        object.__setattr__(self, "_layout", _LAYOUTS.setdefault(layout, layout))
        h, n_wrist = self.horizon, len(wrist_sides)
        for name, arrays in (("wrist", self.wrist), ("hand", self.hand)):
            for side, a in arrays.items():
                if len(a) != h:
                    raise ChunkError(f"{name}[{side!r}] has {len(a)} steps but the horizon is {h}")
        rots = np.zeros((h, n_wrist, 3, 3))
        trans = np.zeros((h, n_wrist, 3))
        rotvecs = np.zeros((max(h - 1, 0), n_wrist, 3))
        for i, side in enumerate(wrist_sides):
            rots[:, i] = self.wrist[side][:, :3, :3]
            trans[:, i] = self.wrist[side][:, :3, 3]
            step_rotvecs = self.wrist_step_rotvecs.get(side)
            rotvecs[:, i] = _step_rotvecs(self.wrist[side]) if step_rotvecs is None else step_rotvecs
        tables = build_step_tables(rots, trans, rotvecs, [self.hand[s] for s in hand_sides])
        object.__setattr__(self, "tables", tables)

    def due_time(self, k: int | float) -> float:
        """Time at which step ``k`` is due."""
        return self.stamp + k * self.dt

    def covers(self, t: float) -> bool:
        """Whether ``t`` lies between the first and the last step's due times."""
        return self.stamp - 1e-9 <= t <= self.end_time + 1e-9

    def layout(self) -> tuple[tuple[str, ...], tuple[tuple[str, int], ...]]:
        """(wrist sides, (hand side, joint count)…) sorted — two chunks mix only if these agree."""
        return self._layout


# Points of one chunk may differ from k·dt by this much (each time_from_start is rounded to 1 ns).
STEP_TOLERANCE_NS = 1_000


def step_spacing(times_from_start_ns: list[int] | tuple[int, ...]) -> float:
    """``dt`` (seconds) of a chunk whose point ``k`` is due ``k·dt`` after the observation stamp.

    Taken from the points' own spacing (over the whole chunk, so the 1 ns rounding of each point
    does not become a rate error); refused with :class:`ChunkError` when there are fewer than two
    points, the first is not at 0, or the points are not evenly spaced.
    """
    times = np.asarray(times_from_start_ns, dtype=np.int64)
    if len(times) < 2:
        raise ChunkError(f"{len(times)} point(s): a chunk needs two or more to state its step spacing")
    if abs(int(times[0])) > STEP_TOLERANCE_NS:
        raise ChunkError(f"point 0 is due {int(times[0])} ns after the stamp, not at it")
    dt_ns = (int(times[-1]) - int(times[0])) / (len(times) - 1)
    if not dt_ns > 0:
        raise ChunkError("time_from_start does not increase")
    off = np.abs(times - times[0] - dt_ns * np.arange(len(times)))
    if off.max() > STEP_TOLERANCE_NS:
        raise ChunkError(f"point {int(off.argmax())} is {int(off.max())} ns off an even step spacing")
    return dt_ns * 1e-9


def ns_from_seconds(seconds: float) -> int:
    """A stamp in seconds as integer nanoseconds (nearest), for callers that keep time in seconds."""
    return round(float(seconds) * 1e9)


def make_chunk(stamp_ns: int, dt: float, wrist: Mapping[str, np.ndarray] | None = None,
               hand: Mapping[str, np.ndarray] | None = None, *,
               hand_joint_names: Mapping[str, Sequence[str]] | None = None, frame: str = "") -> ActionChunk:
    """Validate and freeze a chunk; raises :class:`ChunkError` naming the first bad field."""
    if isinstance(stamp_ns, (bool, np.bool_)) or not isinstance(stamp_ns, (int, np.integer)):
        raise ChunkError(f"stamp_ns must be an integer number of nanoseconds (got {stamp_ns!r})")
    dt = _finite_scalar("dt", dt)
    if dt <= 0.0:
        raise ChunkError(f"dt must be > 0 (got {dt})")
    wrist = dict(wrist or {})
    hand = dict(hand or {})
    if not wrist and not hand:
        raise ChunkError("chunk carries neither wrist nor hand targets")
    horizons: dict[str, int] = {}
    frozen_wrist = {}
    for side, value in wrist.items():
        name = f"wrist[{side!r}]"
        arr = _as_float_array(name, value)
        if arr.ndim != 3 or arr.shape[1:] != (4, 4) or arr.shape[0] < 1:
            raise ChunkError(f"{name}: shape {arr.shape}, expected (H, 4, 4) with H >= 1")
        _check_finite(name, arr.reshape(arr.shape[0], -1))
        _check_rigid(name, arr)
        frozen_wrist[str(side)] = _freeze(arr)
        horizons[name] = arr.shape[0]
    frozen_hand = {}
    for side, value in hand.items():
        name = f"hand[{side!r}]"
        arr = _as_float_array(name, value)
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise ChunkError(f"{name}: shape {arr.shape}, expected (H, n) with H >= 1 and n >= 1")
        _check_finite(name, arr)
        frozen_hand[str(side)] = _freeze(arr)
        horizons[name] = arr.shape[0]
    if len(set(horizons.values())) != 1:
        raise ChunkError(f"horizons disagree: {', '.join(f'{k} has {v}' for k, v in horizons.items())}")
    names = {str(side): tuple(str(n) for n in joints) for side, joints in (hand_joint_names or {}).items()}
    for side, joints in names.items():
        if side not in frozen_hand:
            raise ChunkError(f"hand_joint_names[{side!r}]: the chunk has no {side!r} hand")
        if len(joints) != frozen_hand[side].shape[1]:
            raise ChunkError(f"hand_joint_names[{side!r}]: {len(joints)} names for {frozen_hand[side].shape[1]} columns")
    rotvecs = {side: _freeze(_step_rotvecs(a)) for side, a in frozen_wrist.items()}
    return ActionChunk(int(stamp_ns), dt, frozen_wrist, frozen_hand, next(iter(horizons.values())), rotvecs,
                       names, str(frame))


def _step_rotvecs(poses: np.ndarray) -> np.ndarray:
    """(H, 4, 4) → (H−1, 3): rotation vector from step k to k+1 in step k's frame."""
    rot = poses[:, :3, :3]
    return se3.so3_log_batch(np.swapaxes(rot[:-1], -1, -2) @ rot[1:])


def _finite_scalar(name: str, value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise ChunkError(f"{name} must be a number (got {value!r})") from exc
    if not math.isfinite(out):
        raise ChunkError(f"{name} must be finite (got {out})")
    return out


def _as_float_array(name: str, value) -> np.ndarray:
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ChunkError(f"{name}: not a numeric array ({exc})") from exc


def _check_finite(name: str, arr2d: np.ndarray) -> None:
    bad = ~np.isfinite(arr2d)
    if bad.any():
        step, idx = (int(i) for i in np.argwhere(bad)[0])
        raise ChunkError(f"{name}: non-finite value {arr2d[step, idx]} at step {step}, element {idx}")


def _check_rigid(name: str, poses: np.ndarray) -> None:
    rot = poses[:, :3, :3]
    ortho = np.abs(np.swapaxes(rot, 1, 2) @ rot - np.eye(3)).max(axis=(1, 2))
    det = np.linalg.det(rot)
    bottom = np.abs(poses[:, 3, :] - np.array([0.0, 0.0, 0.0, 1.0])).max(axis=1)
    bad = (ortho > ROTATION_TOLERANCE) | (np.abs(det - 1.0) > ROTATION_TOLERANCE) | (bottom > 1e-6)
    if bad.any():
        step = int(np.argmax(bad))
        raise ChunkError(
            f"{name}: step {step} is not a rigid transform (|RᵀR−I| = {ortho[step]:.2g}, "
            f"det R = {det[step]:.4f}, bottom row {poses[step, 3].tolist()})"
        )


def _freeze(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr
