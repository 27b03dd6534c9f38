"""Hand retargeting configs: ``config/hands/<hand>_<side>.yaml``, one per hand and side.

A hand config describes a hand both as a retargeting *target* (its URDF, actuated joints in
command order, which of its frames play the human keypoints, the objective and solver) and as a
*source* (the same keypoints, read by forward kinematics from its joint angles). Every field is
checked when the file is loaded; errors name the file and the field.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egoscale_ros import resources
from egoscale_ros.kinematics.urdf import Mimic
from egoscale_ros.retarget.hand_model import FramePoint
from egoscale_ros.retarget.keypoints import HUMAN_FORWARD, HUMAN_LATERAL, KEYPOINT_NAMES
from egoscale_ros.schema import HAND_TYPES, SIDES, ConfigError, Fields, load_yaml

RETARGETING_TYPES = ("vector", "position")
SOLVERS = ("newton", "ipopt")
HESSIANS = ("exact", "gauss_newton")


class HandConfigError(ConfigError):
    """A hand config that is malformed (the message names the file and the field)."""


def _keypoint(name: Any, where: str) -> str:
    if name not in KEYPOINT_NAMES:
        raise HandConfigError(f"{where}: '{name}' is not a hand keypoint (one of {', '.join(KEYPOINT_NAMES)})")
    return name


def _xyz(value: Any, where: str) -> tuple[float, float, float]:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise HandConfigError(f"{where}: expected 3 numbers, got {value!r}") from exc
    if len(out) != 3 or not all(math.isfinite(v) for v in out):
        raise HandConfigError(f"{where}: expected 3 finite numbers, got {value!r}")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class VectorTerm:
    """Match the robot's ``origin -> task`` keypoint vector to the (scaled) source's."""

    origin: str
    task: str
    weight: float = 1.0


@dataclass(frozen=True)
class PointTerm:
    """Match the robot keypoint's position in the wrist frame to the (scaled) source's."""

    keypoint: str
    weight: float = 1.0


@dataclass(frozen=True)
class PinchPrior:
    """DexPilot-style pinch prior on fingertip pairs, with hysteresis.

    When the source's tips of a pair come closer than ``engage_distance`` (metres, unscaled) the
    pair is *engaged* until they part beyond ``release_distance``. While engaged the pair's vector
    target keeps its direction but takes the source's absolute distance × ``distance_scale``
    (0 closes the robot's pinch completely, 1 reproduces the human gap whatever the hand scale),
    and its weight is multiplied by ``weight_gain``.
    """

    pairs: tuple[tuple[str, str], ...]
    engage_distance: float = 0.02
    release_distance: float = 0.035
    distance_scale: float = 1.0
    weight_gain: float = 4.0


@dataclass(frozen=True)
class SolverSettings:
    name: str = "newton"
    hessian: str = "exact"  # newton only: exact (robust when targets are out of reach) or gauss_newton
    max_iterations: int = 8  # per frame, warm-started
    first_max_iterations: int = 50  # cold start (first frame or after reset)
    tolerance: float = 1e-6  # step size (rad) that counts as converged


@dataclass(frozen=True)
class HandRetargetConfig:
    name: str
    path: Path
    hand: str  # one of HAND_TYPES
    side: str
    urdf: Path
    root_frame: str
    joints: tuple[str, ...]  # actuated joints, command order
    mimic: tuple[Mimic, ...]
    keypoints: dict[str, FramePoint]
    wrist_forward: tuple[str, ...]
    wrist_lateral: tuple[str, str]
    reference_pose: dict[str, float]
    scale: float  # this hand's size relative to a human hand
    type: str  # one of RETARGETING_TYPES
    vectors: tuple[VectorTerm, ...]
    points: tuple[PointTerm, ...]
    huber_delta: float
    regularization: float
    pinch: PinchPrior | None
    solver: SolverSettings
    velocity_scale: float  # fraction of the URDF velocity limit one output step may use
    lowpass_alpha: float  # 1.0 = no low-pass on the output
    fingertips: tuple[str, ...] = field(default=())

    def keypoints_used(self) -> set[str]:
        used = {t.origin for t in self.vectors} | {t.task for t in self.vectors} | {t.keypoint for t in self.points}
        used |= set(self.wrist_forward) | set(self.wrist_lateral) | {"wrist"} | set(self.fingertips)
        return used


def config_path(name_or_path: str | os.PathLike, side: str | None = None) -> Path:
    """``config/hands/<name>[_<side>].yaml``, or ``name_or_path`` itself when it is a file path."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        return resources.resolve(text)
    folder = resources.share_dir() / "config" / "hands"
    if side is not None and not text.endswith(f"_{side}"):
        text = f"{text}_{side}"
    return folder / f"{text}.yaml"


def available_hand_configs() -> list[str]:
    return sorted(p.stem for p in (resources.share_dir() / "config" / "hands").glob("*.yaml"))


def load_hand_config(
    name_or_path: str | os.PathLike, side: str | None = None, urdf: str | os.PathLike | None = None
) -> HandRetargetConfig:
    """Load and validate a hand config; ``urdf`` overrides the file's ``urdf`` (e.g. the maker's)."""
    path = config_path(name_or_path, side)
    if not path.is_file():
        known = ", ".join(available_hand_configs())
        raise HandConfigError(f"hand config not found: {path} (known: {known})")
    cfg = parse_hand_config(load_yaml(path, HandConfigError), path, urdf)
    if side is not None and cfg.side != side:
        raise HandConfigError(f"{path.name}.side: the file is for the {cfg.side} hand, {side} was asked for")
    return cfg


def parse_hand_config(data: Any, path: Path, urdf: str | os.PathLike | None = None) -> HandRetargetConfig:
    where = path.name
    r = Fields(data, where, HandConfigError)
    hand = r.get("hand", str, required=True)
    if hand not in HAND_TYPES:
        raise HandConfigError(f"{where}.hand: '{hand}' is not one of {', '.join(HAND_TYPES)}")
    side = r.get("side", str, required=True)
    if side not in SIDES:
        raise HandConfigError(f"{where}.side: '{side}' is not left or right")
    urdf_path = resources.resolve(urdf if urdf is not None else r.get("urdf", str, required=True), path.parent)
    if urdf is not None:
        r.seen.add("urdf")
    if not urdf_path.is_file():
        raise HandConfigError(f"{where}.urdf: file not found: {urdf_path}")
    root_frame = r.get("root_frame", str, required=True)
    joints = r.names("joints")

    mimic = []
    for i, item in enumerate(r.get("mimic", list, [])):
        m = Fields(item, f"{where}.mimic[{i}]", HandConfigError)
        mimic.append(Mimic(m.get("joint", str, required=True), m.get("source", str, required=True),
                           m.get("multiplier", float, 1.0), m.get("offset", float, 0.0)))
        m.done()

    kp = r.sub("keypoints")
    keypoints: dict[str, FramePoint] = {}
    for name in kp.data:
        _keypoint(name, f"{kp.where}")
        item = kp.sub(name)
        keypoints[name] = FramePoint(
            item.get("frame", str, required=True), _xyz(item.get("offset", list, [0, 0, 0]), f"{item.where}.offset")
        )
        item.done()
    kp.done()
    if "wrist" not in keypoints:
        raise HandConfigError(f"{where}.keypoints: 'wrist' is required (the origin of the wrist frame)")

    wf = r.sub("wrist_frame")
    forward = tuple(_keypoint(n, f"{wf.where}.forward") for n in wf.names("forward", required=False)) or HUMAN_FORWARD
    lateral_list = list(wf.names("lateral", required=False)) or list(HUMAN_LATERAL)
    if len(lateral_list) != 2:
        raise HandConfigError(f"{wf.where}.lateral: expected [thumb-side keypoint, other keypoint], got {lateral_list}")
    lateral = (_keypoint(lateral_list[0], f"{wf.where}.lateral"), _keypoint(lateral_list[1], f"{wf.where}.lateral"))
    ref = wf.get("reference_pose", dict, {})
    reference_pose = {}
    for k, v in ref.items():
        if k not in joints:
            raise HandConfigError(f"{wf.where}.reference_pose: '{k}' is not one of the joints")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise HandConfigError(f"{wf.where}.reference_pose.{k}: expected a finite number, got {v!r}")
        reference_pose[k] = float(v)
    wf.done()

    scale = r.number("scale", 1.0, 1e-3, 1e3)
    fingertips = tuple(_keypoint(n, f"{where}.fingertips") for n in r.names("fingertips", required=False))

    rt = r.sub("retargeting")
    rtype = rt.get("type", str, "vector")
    if rtype not in RETARGETING_TYPES:
        raise HandConfigError(f"{rt.where}.type: '{rtype}' is not one of {', '.join(RETARGETING_TYPES)}")
    vectors = []
    for i, item in enumerate(rt.get("vectors", list, [])):
        w = f"{rt.where}.vectors[{i}]"
        if not isinstance(item, list) or len(item) not in (2, 3):
            raise HandConfigError(f"{w}: expected [origin, task] or [origin, task, weight], got {item!r}")
        weight = float(item[2]) if len(item) == 3 else 1.0
        if not math.isfinite(weight) or weight < 0:
            raise HandConfigError(f"{w}: weight must be a finite number >= 0, got {item[2]!r}")
        vectors.append(VectorTerm(_keypoint(item[0], w), _keypoint(item[1], w), weight))
    points = []
    for i, item in enumerate(rt.get("points", list, [])):
        w = f"{rt.where}.points[{i}]"
        if isinstance(item, str):
            item = [item]
        if not isinstance(item, list) or len(item) not in (1, 2):
            raise HandConfigError(f"{w}: expected keypoint or [keypoint, weight], got {item!r}")
        weight = float(item[1]) if len(item) == 2 else 1.0
        if not math.isfinite(weight) or weight < 0:
            raise HandConfigError(f"{w}: weight must be a finite number >= 0, got {item[1]!r}")
        points.append(PointTerm(_keypoint(item[0], w), weight))
    if rtype == "vector" and not vectors:
        raise HandConfigError(f"{rt.where}.vectors: vector retargeting needs at least one vector")
    if rtype == "position" and not points:
        raise HandConfigError(f"{rt.where}.points: position retargeting needs at least one point")

    pinch = None
    pr = rt.sub("pinch")
    if pr.data:
        pairs = []
        for i, pair in enumerate(pr.get("pairs", list, [], required=True)):
            if not isinstance(pair, list) or len(pair) != 2:
                raise HandConfigError(f"{pr.where}.pairs[{i}]: expected [tip, tip], got {pair!r}")
            pairs.append((_keypoint(pair[0], f"{pr.where}.pairs[{i}]"), _keypoint(pair[1], f"{pr.where}.pairs[{i}]")))
        pinch = PinchPrior(
            pairs=tuple(pairs),
            engage_distance=pr.number("engage_distance", 0.02, 0.0, 1.0),
            release_distance=pr.number("release_distance", 0.035, 0.0, 1.0),
            distance_scale=pr.number("distance_scale", 1.0, 0.0, 10.0),
            weight_gain=pr.number("weight_gain", 4.0, 0.0, 1e6),
        )
        if pinch.release_distance < pinch.engage_distance:
            raise HandConfigError(f"{pr.where}.release_distance: must be >= engage_distance")
    pr.done()

    so = rt.sub("solver")
    solver_name = so.get("name", str, "newton")
    if solver_name not in SOLVERS:
        raise HandConfigError(f"{so.where}.name: '{solver_name}' is not one of {', '.join(SOLVERS)}")
    hessian = so.get("hessian", str, "exact")
    if hessian not in HESSIANS:
        raise HandConfigError(f"{so.where}.hessian: '{hessian}' is not one of {', '.join(HESSIANS)}")
    solver = SolverSettings(
        name=solver_name,
        hessian=hessian,
        max_iterations=int(so.number("max_iterations", 8, 1, 1000)),
        first_max_iterations=int(so.number("first_max_iterations", 50, 1, 10000)),
        tolerance=so.number("tolerance", 1e-6, 0.0, 1.0),
    )
    so.done()
    huber_delta = rt.number("huber_delta", 0.02, 1e-6, 10.0)
    regularization = rt.number("regularization", 1e-4, 0.0, 1e3)
    velocity_scale = rt.number("velocity_scale", 1.0, 0.0, 1.0)
    rt.done()

    sm = r.sub("smoothing")
    lowpass_alpha = sm.number("lowpass_alpha", 1.0, 0.0, 1.0)
    sm.done()
    r.get("description", str)
    r.done()

    cfg = HandRetargetConfig(
        name=path.stem, path=path, hand=hand, side=side, urdf=urdf_path, root_frame=root_frame,
        joints=tuple(joints), mimic=tuple(mimic), keypoints=keypoints, wrist_forward=forward,
        wrist_lateral=lateral, reference_pose=reference_pose, scale=scale, type=rtype, vectors=tuple(vectors),
        points=tuple(points), huber_delta=huber_delta, regularization=regularization, pinch=pinch, solver=solver,
        velocity_scale=velocity_scale, lowpass_alpha=lowpass_alpha, fingertips=fingertips,
    )
    missing = sorted(cfg.keypoints_used() - set(keypoints))
    if missing:
        raise HandConfigError(f"{where}: keypoint(s) {', '.join(missing)} are used but not given under keypoints")
    if pinch is not None:
        vec_pairs = {(t.origin, t.task) for t in cfg.vectors}
        for a, b in pinch.pairs:
            if (a, b) not in vec_pairs:
                raise HandConfigError(f"{where}.retargeting.pinch.pairs: [{a}, {b}] is not one of the vectors")
    return cfg
