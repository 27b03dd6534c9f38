"""What a policy server takes and returns, mapped onto the robot: the manifest's ``remote`` section.

A server speaks in its own keys (GR00T: ``video.<camera>``, ``state.<key>``, ``action.<key>``;
openpi: a flat dict such as ``observation/image``, ``observation/state``, ``prompt`` and a reply
``actions`` of shape ``(H, D)``). The spec says, per key, what fills it or what it means:

- ``video``: server camera key -> robot camera name;
- ``state``: a list of entries ``{key, joints: [...]}`` (joint positions by name) or
  ``{key, wrist: left|right, format}`` (the wrist pose at observation time, from forward
  kinematics, in the base frame). Entries with the same key are concatenated in order;
- ``language``: the key of the instruction;
- ``action``: entries ``{key, wrist: side, format, rep}`` or ``{key, hand: side, joints}``;
  entries sharing a key take consecutive columns of that key's array (openpi's single
  ``actions`` array is several entries with key ``actions``).

Wrist formats: ``xyz+rot6d`` (first two rotation-matrix columns), ``xyz+rot6d_rows`` (first two
rows), ``xyz+quat`` (x, y, z, w), ``xyz+rotvec``. Wrist ``rep``: ``absolute`` (poses in the base
frame), ``relative`` (each step relative to the wrist at observation time, GR00T's RELATIVE) or
``delta`` (each step relative to the previous one). Hands are absolute joint angles in the policy's
hand space. :func:`parse_remote` refuses an unknown field or value with a message naming it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from egoscale_ros.kinematics import se3
from egoscale_ros.remote.normalisation import KeyStats, StatisticsError

PROTOCOLS = ("gr00t", "openpi")
DEFAULT_PORTS = {"gr00t": 5555, "openpi": 8000}
WRIST_FORMATS = {"xyz+rot6d": 9, "xyz+rot6d_rows": 9, "xyz+quat": 7, "xyz+rotvec": 6}
WRIST_REPS = ("absolute", "relative", "delta")
SIDES = ("left", "right")


class SpecError(ValueError):
    """A ``remote`` section that cannot be used; the message names the field or key."""


@dataclass(frozen=True)
class Entry:
    """Columns of a server key: a wrist pose in ``format`` (when ``wrist`` names a side) or joint positions."""

    key: str
    joints: tuple[str, ...] = ()
    wrist: str = ""
    format: str = ""

    @property
    def dim(self) -> int:
        """Columns the entry takes in its key's array."""
        return WRIST_FORMATS[self.format] if self.wrist else len(self.joints)


@dataclass(frozen=True)
class StateEntry(Entry):
    """One ``state`` entry (the wrist pose at observation time, or measured joint positions)."""


@dataclass(frozen=True)
class ActionEntry(Entry):
    """One ``action`` entry: a wrist with its ``rep``, or a hand (``hand``: its side) with its joints."""

    hand: str = ""
    rep: str = "absolute"


@dataclass(frozen=True)
class RemoteSpec:
    """A server's observation and action keys mapped onto the robot (see the module doc)."""

    protocol: str
    video: dict[str, str]
    state: tuple[StateEntry, ...]
    action: tuple[ActionEntry, ...]
    language: str
    horizon: int
    dt: float
    execute_steps: int
    embodiment_tag: str = ""
    image_size: tuple[int, int] | None = None  # (height, width) sent; None = as captured
    statistics: dict[str, KeyStats] = field(default_factory=dict)  # action key -> stats

    @property
    def state_joints(self) -> list[str]:
        return [j for e in self.state for j in e.joints]

    @property
    def wrist_sides(self) -> list[str]:
        return [e.wrist for e in self.action if e.wrist]

    @property
    def hand_joints(self) -> dict[str, tuple[str, ...]]:
        return {e.hand: e.joints for e in self.action if e.hand}

    def steps_to_publish(self, age_s: float) -> int:
        """How many steps of a reply to publish when it arrives ``age_s`` after its observation:
        ``execute_steps`` from the arrival on, as far as the horizon reaches.

        Step ``k`` is due at capture + ``k·dt``, so the steps due while the request was out are
        behind the robot already. Counted from the capture, a slow server's chunk would leave
        the smoother less to blend over (the blend is shorter and sharper, the path rougher)
        and a dead server would stop the arms sooner than ``execute_steps`` says; counted from
        the arrival, both are what they are with a fast server. A clock that gives no sensible
        age (negative, not finite) falls back to ``execute_steps``. The client passes the usual age
        of its replies in whole steps, scaled (:class:`~egoscale_ros.remote.client.PublishedSteps`),
        not each reply's own, so that every chunk is as long while the latency is steady.
        """
        if not (age_s > 0 and math.isfinite(age_s)):
            return self.execute_steps
        return min(self.horizon, self.execute_steps + math.ceil(age_s / self.dt - 1e-9))

    def key_dims(self, entries) -> dict[str, int]:
        dims: dict[str, int] = {}
        for e in entries:
            dims[e.key] = dims.get(e.key, 0) + e.dim
        return dims

    def to_dict(self) -> dict:
        def state(e: StateEntry) -> dict:
            return {"key": e.key, "wrist": e.wrist, "format": e.format} if e.wrist else \
                {"key": e.key, "joints": list(e.joints)}

        def action(e: ActionEntry) -> dict:
            return {"key": e.key, "wrist": e.wrist, "format": e.format, "rep": e.rep} if e.wrist else \
                {"key": e.key, "hand": e.hand, "joints": list(e.joints)}

        out = {"protocol": self.protocol, "embodiment_tag": self.embodiment_tag, "video": dict(self.video),
               "language": self.language, "state": [state(e) for e in self.state],
               "action": [action(e) for e in self.action], "horizon": self.horizon, "dt": self.dt,
               "execute_steps": self.execute_steps}
        if self.image_size is not None:
            out["image_size"] = list(self.image_size)
        if self.statistics:
            out["statistics"] = {k: s.to_dict() for k, s in self.statistics.items()}
        return out


def _only(data: Mapping, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {unknown}; allowed {sorted(allowed)}")


def _side(value, where: str) -> str:
    if value not in SIDES:
        raise SpecError(f"{where} must be one of {SIDES}, got {value!r}")
    return str(value)


def _format(value, where: str) -> str:
    if value not in WRIST_FORMATS:
        raise SpecError(f"{where} must be one of {sorted(WRIST_FORMATS)}, got {value!r}")
    return str(value)


def _joints(value, where: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(j, str) for j in value):
        raise SpecError(f"{where} must be a non-empty list of joint names")
    return tuple(value)


def _state_entry(data, where: str) -> StateEntry:
    if not isinstance(data, Mapping) or not isinstance(data.get("key"), str):
        raise SpecError(f"{where}: each state entry is a mapping with a 'key'")
    _only(data, {"key", "joints", "wrist", "format"}, where)
    if "wrist" in data:
        return StateEntry(data["key"], wrist=_side(data["wrist"], f"{where}.wrist"),
                          format=_format(data.get("format", "xyz+rot6d"), f"{where}.format"))
    if "joints" in data:
        return StateEntry(data["key"], joints=_joints(data["joints"], f"{where}.joints"))
    raise SpecError(f"{where} (key '{data['key']}'): say what fills it, 'joints' or 'wrist'")


def _action_entry(data, where: str) -> ActionEntry:
    if not isinstance(data, Mapping) or not isinstance(data.get("key"), str):
        raise SpecError(f"{where}: each action entry is a mapping with a 'key'")
    _only(data, {"key", "wrist", "hand", "format", "rep", "joints"}, where)
    if "wrist" in data:
        rep = data.get("rep", "absolute")
        if rep not in WRIST_REPS:
            raise SpecError(f"{where}.rep (key '{data['key']}') must be one of {WRIST_REPS}, got {rep!r}")
        return ActionEntry(data["key"], wrist=_side(data["wrist"], f"{where}.wrist"),
                           format=_format(data.get("format", "xyz+rot6d"), f"{where}.format"), rep=rep)
    if "hand" in data:
        if data.get("rep", "absolute") != "absolute":
            raise SpecError(f"{where}.rep (key '{data['key']}'): hand actions must be absolute joint angles")
        return ActionEntry(data["key"], hand=_side(data["hand"], f"{where}.hand"),
                           joints=_joints(data.get("joints"), f"{where}.joints"))
    raise SpecError(f"{where} (key '{data['key']}'): say what it drives, 'wrist' or 'hand'")


def parse_remote(data: Mapping, where: str = "remote") -> RemoteSpec:
    """The manifest's ``remote`` mapping -> :class:`RemoteSpec` (errors name the field)."""
    if not isinstance(data, Mapping):
        raise SpecError(f"{where} must be a mapping")
    _only(data, {"protocol", "embodiment_tag", "video", "state", "language", "action", "horizon", "dt",
                 "execute_steps", "image_size", "statistics"}, where)
    protocol = data.get("protocol")
    if protocol not in PROTOCOLS:
        raise SpecError(f"{where}.protocol must be one of {PROTOCOLS}, got {protocol!r}")
    video = data.get("video")
    if not isinstance(video, Mapping) or not video:
        raise SpecError(f"{where}.video must map the server's camera keys to robot cameras")
    state = tuple(_state_entry(e, f"{where}.state[{i}]") for i, e in enumerate(data.get("state") or ()))
    actions = tuple(_action_entry(e, f"{where}.action[{i}]") for i, e in enumerate(data.get("action") or ()))
    if not actions:
        raise SpecError(f"{where}.action is empty: the manifest maps no server action onto the robot")
    for kind, entries in (("wrist", [e.wrist for e in actions if e.wrist]), ("hand", [e.hand for e in actions if e.hand])):
        twice = sorted({s for s in entries if entries.count(s) > 1})
        if twice:
            raise SpecError(f"{where}.action drives the {twice} {kind}(s) twice")
    wrist_sides = {e.wrist for e in actions if e.wrist}
    hand_sides = {e.hand for e in actions if e.hand}
    if wrist_sides != hand_sides:
        raise SpecError(f"{where}.action: wrists {sorted(wrist_sides)} and hands {sorted(hand_sides)} must "
                        "cover the same sides (a chunk carries both per side)")
    try:
        horizon = int(data.get("horizon", 0))
        dt = float(data.get("dt", 0.0))
        execute = int(data.get("execute_steps", horizon))
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{where}: horizon/dt/execute_steps: {exc}") from exc
    if horizon < 1 or not dt > 0:
        raise SpecError(f"{where}: horizon must be >= 1 and dt > 0 (got {horizon}, {dt})")
    if not 1 <= execute <= horizon:
        raise SpecError(f"{where}.execute_steps must be within 1..horizon ({horizon}), got {execute}")
    size = data.get("image_size")
    if size is not None:
        if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(int(s) >= 16 for s in size)):
            raise SpecError(f"{where}.image_size must be [height, width] of at least 16 px, got {size!r}")
        size = (int(size[0]), int(size[1]))
    stats = {}
    for key, value in (data.get("statistics") or {}).items():
        try:
            stats[str(key)] = KeyStats.from_dict(value, f"{where}.statistics.{key}")
        except StatisticsError as exc:
            raise SpecError(str(exc)) from exc
    spec = RemoteSpec(protocol=protocol, video={str(k): str(v) for k, v in video.items()}, state=state,
                      action=actions, language=str(data.get("language", "")), horizon=horizon, dt=dt,
                      execute_steps=execute, embodiment_tag=str(data.get("embodiment_tag", "")),
                      image_size=size, statistics=stats)
    dims = spec.key_dims(spec.action)
    for key, s in stats.items():
        if key in dims and s.dim != dims[key]:
            raise SpecError(f"{where}.statistics.{key} has {s.dim} dimensions, the action entries add up to {dims[key]}")
    return spec


SERVER_BACKENDS = {"gr00t_server": "gr00t", "openpi_server": "openpi"}
OPTION_FIELDS = {"host", "port", "timeout_s", "api_token", "max_backoff_s", "stale_s", "connections"}
# Requests in flight at once (one per connection). Twelve keep 30 chunks/s up to a round trip of
# about 360 ms (connections >= round trip x rate + 1): 150 ms of network plus the server's
# inference and the jitter of a loaded computer (eight left observations unsent when round trips
# reached 250 ms, and each unsent one is a chunk missing from the stream, a kink in the executed
# path); a round trip within one period needs one, and the in-flight window keeps it at that
# while it suffices. An idle connection costs a socket and a sleeping thread.
DEFAULT_CONNECTIONS = 12


def server_options(backend: str, options: Mapping[str, Any], where: str = "backends") -> dict[str, Any]:
    """Validated options of a server backend: ``host``, ``port``, ``timeout_s`` (a request unanswered
    this long is abandoned), ``api_token``, ``max_backoff_s`` (longest wait between retries) and
    ``stale_s`` (no good reply for this long: the server is reported as not answering) and
    ``connections`` (how many requests may be in flight at once, one per connection)."""
    unknown = sorted(set(options) - OPTION_FIELDS)
    if unknown:
        raise SpecError(f"{where}.{backend}: unknown field(s) {unknown}; allowed {sorted(OPTION_FIELDS)}")
    out = {"host": str(options.get("host", "127.0.0.1")),
           "port": int(options.get("port", DEFAULT_PORTS[SERVER_BACKENDS[backend]])),
           "timeout_s": float(options.get("timeout_s", 0.5)),
           "api_token": str(options.get("api_token", "") or ""),
           "max_backoff_s": float(options.get("max_backoff_s", 0.5)),
           "stale_s": float(options.get("stale_s", 0.3)),
           "connections": options.get("connections", DEFAULT_CONNECTIONS)}
    if isinstance(out["connections"], bool) or not isinstance(out["connections"], int) or out["connections"] < 1:
        raise SpecError(f"{where}.{backend}.connections must be a whole number >= 1, got {out['connections']!r}")
    if not 0 < out["port"] < 65536:
        raise SpecError(f"{where}.{backend}.port must be within 1..65535, got {out['port']}")
    if not (out["timeout_s"] > 0 and out["max_backoff_s"] > 0 and out["stale_s"] > 0):
        raise SpecError(f"{where}.{backend}: timeout_s, max_backoff_s and stale_s must be > 0")
    return out



# ------------------------------------------------------------------------------ wrist encodings


def encode_wrist(pose: np.ndarray, fmt: str) -> np.ndarray:
    """4x4 pose -> the server's vector for ``fmt``."""
    pose = np.asarray(pose, dtype=np.float64)
    rot, xyz = pose[:3, :3], pose[:3, 3]
    if fmt == "xyz+rot6d":
        r = se3.matrix_to_rot6d(rot)
    elif fmt == "xyz+rot6d_rows":
        r = np.concatenate([rot[0], rot[1]])
    elif fmt == "xyz+quat":
        r = se3.matrix_to_quat(rot)
    elif fmt == "xyz+rotvec":
        r = se3.so3_log(rot)
    else:
        raise SpecError(f"unknown wrist format {fmt!r}")
    return np.concatenate([xyz, r])


def decode_wrists(values: np.ndarray, fmt: str) -> np.ndarray:
    """``(H, dim)`` vectors in ``fmt`` -> ``(H, 4, 4)`` poses (rotations re-orthonormalised)."""
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros(v.shape[:-1] + (4, 4))
    out[..., 3, 3] = 1.0
    out[..., :3, 3] = v[..., :3]
    r = v[..., 3:]
    if fmt == "xyz+rot6d":
        out[..., :3, :3] = se3.rot6d_to_matrix(r)
    elif fmt == "xyz+rot6d_rows":
        out[..., :3, :3] = np.swapaxes(se3.rot6d_to_matrix(r), -1, -2)
    elif fmt == "xyz+quat":
        out[..., :3, :3] = se3.quat_to_matrix(r)
    elif fmt == "xyz+rotvec":
        out[..., :3, :3] = se3.so3_exp_batch(r.reshape(-1, 3)).reshape(r.shape[:-1] + (3, 3))
    else:
        raise SpecError(f"unknown wrist format {fmt!r}")
    return out


def wrists_to_absolute(steps: np.ndarray, rep: str, at_observation: np.ndarray | None) -> np.ndarray:
    """Decoded wrist poses ``(H, 4, 4)`` -> absolute base-frame poses.

    ``absolute``: unchanged. ``relative``: ``T_k = T_obs @ A_k`` (every step relative to the wrist
    at observation time). ``delta``: ``T_k = T_{k-1} @ A_k`` starting from ``T_obs``.
    """
    if rep == "absolute":
        return steps
    if at_observation is None:
        raise SpecError(f"{rep} wrist actions need the wrist pose at observation time")
    base = np.asarray(at_observation, dtype=np.float64)
    if rep == "relative":
        return base @ steps
    if rep == "delta":
        out = np.empty_like(steps)
        current = base
        for k in range(len(steps)):
            current = current @ steps[k]
            out[k] = current
        return out
    raise SpecError(f"unknown wrist representation {rep!r}")
