"""``egoscale-ros import-policy``: a manifest for a GR00T policy server, from the checkpoint's metadata.

A fine-tuned GR00T checkpoint carries ``processor_config.json`` (per embodiment: the video,
state, action and language keys, the action horizon as ``delta_indices``, and per action key
its representation, EEF or joint type, and format), ``statistics.json`` (per key min, max,
mean, std, q01, q99 - which also give every key's dimension) and ``embodiment_id.json``.
A live server answers ``get_modality_config`` with the same modality configs (no statistics).

Keys are mapped onto the robot config by name, overridable with ``--map KEY=ROLE``:

- video: a key named like a robot camera, or the only key when the robot has one camera;
- state: ``<side>..wrist|eef`` -> the wrist pose (format from the dimension: 9 rot6d, 7 quat,
  6 rotvec), ``<side>..arm`` -> that arm's joints, ``<side>..hand`` -> that hand's joints (the
  dimension must match the robot's joint count);
- action: EEF keys -> the wrist of their side (XYZ_ROT6D, XYZ_ROTVEC, or DEFAULT by dimension);
  ``<side>..hand`` joint keys -> the hand in the Sharpa Wave space the retargeting takes (22).
  The GR00T server turns RELATIVE actions back into absolute ones with the state it was sent,
  so every reply is absolute.

Whatever cannot be mapped is an error naming the key. ``ROLE``: ``camera:NAME``,
``joints:J1,J2,...``, ``wrist:SIDE[:FORMAT]``, ``hand:SIDE``, ``ignore`` (state keys only:
sent as zeros would be wrong, so ignoring a state key is refused too - map it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from egoscale_ros.policy.layout import SHARPA_WAVE_JOINTS, sharpa_joint_names
from egoscale_ros.remote.normalisation import KeyStats, StatisticsError, read_statistics
from egoscale_ros.remote.spec import (
    DEFAULT_PORTS,
    WRIST_FORMATS,
    ActionEntry,
    RemoteSpec,
    SpecError,
    StateEntry,
)

FILES = ("processor_config.json", "statistics.json", "embodiment_id.json")
GR00T_FORMATS = {"XYZ_ROT6D": "xyz+rot6d", "XYZ_ROTVEC": "xyz+rotvec"}
FORMAT_BY_DIM = {9: "xyz+rot6d", 7: "xyz+quat", 6: "xyz+rotvec"}


class ImportError_(SpecError):
    """Metadata that cannot be turned into a manifest; the message names the file or key."""


def _side_of(key: str) -> str | None:
    low = key.lower()
    hits = [s for s in ("left", "right") if s in low]
    return hits[0] if len(hits) == 1 else None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ImportError_(f"{path} is missing (a GR00T checkpoint has {', '.join(FILES)})") from exc
    except json.JSONDecodeError as exc:
        raise ImportError_(f"{path}: not valid JSON: {exc}") from exc


def read_checkpoint(directory: Path, embodiment_tag: str = "") -> tuple[str, dict, dict[str, dict[str, KeyStats]] | None, int | None]:
    """``(tag, modality_configs, statistics or None, embodiment id or None)`` of a checkpoint folder."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ImportError_(f"checkpoint folder {directory} does not exist")
    processor = _read_json(directory / "processor_config.json")
    kwargs = processor.get("processor_kwargs", processor) if isinstance(processor, dict) else None
    configs = kwargs.get("modality_configs") if isinstance(kwargs, dict) else None
    if not isinstance(configs, dict) or not configs:
        raise ImportError_(f"{directory / 'processor_config.json'}: processor_kwargs.modality_configs is missing or empty")
    if embodiment_tag:
        if embodiment_tag not in configs:
            raise ImportError_(f"{directory / 'processor_config.json'} has no embodiment '{embodiment_tag}' "
                               f"(it has {sorted(configs)})")
        tag = embodiment_tag
    elif len(configs) == 1:
        tag = next(iter(configs))
    else:
        raise ImportError_(f"{directory / 'processor_config.json'} has embodiments {sorted(configs)}: choose one "
                           "with --embodiment-tag")
    ids_path = directory / "embodiment_id.json"
    ids = _read_json(ids_path) if ids_path.is_file() else {}
    if ids and tag not in ids:
        raise ImportError_(f"{ids_path} has no id for embodiment '{tag}' (it has {sorted(ids)})")
    stats_path = directory / "statistics.json"
    stats = None
    if stats_path.is_file():
        try:
            stats = read_statistics(_read_json(stats_path), tag, str(stats_path))
        except StatisticsError as exc:
            raise ImportError_(str(exc)) from exc
    return tag, configs[tag], stats, ids.get(tag)


def _parse_overrides(items: list[str]) -> dict[str, list[str]]:
    out = {}
    for item in items or []:
        key, sep, role = item.partition("=")
        if not sep or not key or not role:
            raise ImportError_(f"--map {item!r}: expected KEY=ROLE (camera:NAME, joints:A,B, wrist:SIDE[:FORMAT], hand:SIDE)")
        out[key] = role.split(":")
    return out


def _keys(configs: dict, modality: str) -> list[str]:
    entry = configs.get(modality) or {}
    keys = entry.get("modality_keys") or []
    if modality in ("video", "action") and not keys:
        raise ImportError_(f"modality_configs.{modality}.modality_keys is empty")
    return [str(k) for k in keys]


def _dim(stats, modality: str, key: str) -> int | None:
    if stats is None or key not in stats.get(modality, {}):
        return None
    return stats[modality][key].dim


def map_video(keys: list[str], config, overrides) -> dict[str, str]:
    cameras = [c.name for c in config.cameras]
    out = {}
    for key in keys:
        role = overrides.get(key)
        if role and role[0] == "camera" and len(role) == 2:
            camera = role[1]
        elif key in cameras:
            camera = key
        elif len(keys) == 1 and len(cameras) == 1:
            camera = cameras[0]
        else:
            raise ImportError_(f"video key '{key}': no robot camera of that name (robot {config.name} has "
                               f"{cameras}); map it with --map {key}=camera:NAME")
        if camera not in cameras:
            raise ImportError_(f"video key '{key}' mapped to camera '{camera}', which robot {config.name} lacks ({cameras})")
        out[key] = camera
    return out


def map_state(keys: list[str], config, stats, overrides) -> list[StateEntry]:
    out = []
    for key in keys:
        dim = _dim(stats, "state", key)
        role = overrides.get(key)
        side = _side_of(key)
        low = key.lower()
        if role and role[0] == "joints":
            joints = tuple(j for j in ",".join(role[1:]).split(",") if j)
            entry = StateEntry(key, joints=joints)
        elif (role and role[0] == "wrist") or (not role and side and ("wrist" in low or "eef" in low)):
            side = role[1] if role and len(role) > 1 else side
            fmt = role[2] if role and len(role) > 2 else FORMAT_BY_DIM.get(dim or 9)
            if fmt not in WRIST_FORMATS:
                raise ImportError_(f"state key '{key}' has {dim} values: not a wrist pose format {sorted(WRIST_FORMATS)}")
            entry = StateEntry(key, wrist=side, format=fmt)
        elif (role and role[0] == "arm") or (not role and side and "arm" in low):
            side = role[1] if role and len(role) > 1 else side
            if side not in config.arms:
                raise ImportError_(f"state key '{key}': robot {config.name} has no {side} arm")
            entry = StateEntry(key, joints=tuple(config.arms[side].joints))
        elif (role and role[0] == "hand") or (not role and side and "hand" in low):
            side = role[1] if role and len(role) > 1 else side
            if side not in config.hands:
                raise ImportError_(f"state key '{key}': robot {config.name} has no {side} hand")
            entry = StateEntry(key, joints=tuple(config.hands[side].joints))
        else:
            raise ImportError_(f"state key '{key}'" + (f" ({dim} values)" if dim else "") + ": no mapping onto robot "
                               f"{config.name}; map it with --map {key}=joints:J1,J2,... or wrist:SIDE")
        out.append(_fits(entry, dim, f"state key '{key}'", f"the mapping gives {entry.dim} "
                                                           f"({', '.join(entry.joints) or entry.format})"))
    return out


def _fits(entry, dim: int | None, what: str, mapped: str):
    """``entry`` when its width agrees with the statistics' ``dim`` (unknown: anything goes)."""
    if dim is not None and entry.dim != dim:
        raise ImportError_(f"{what} has {dim} values in the statistics, but {mapped}")
    return entry


def map_actions(configs: dict, config, stats, overrides) -> list[ActionEntry]:
    action = configs.get("action") or {}
    keys = _keys(configs, "action")
    action_configs = action.get("action_configs") or [{}] * len(keys)
    if len(action_configs) != len(keys):
        raise ImportError_(f"modality_configs.action has {len(keys)} keys but {len(action_configs)} action_configs")
    out = []
    for key, ac in zip(keys, action_configs):
        ac = ac or {}
        dim = _dim(stats, "action", key)
        role = overrides.get(key)
        side = role[1] if role and len(role) > 1 else _side_of(key)
        kind = role[0] if role else ("wrist" if str(ac.get("type", "")).upper() == "EEF" else
                                     "hand" if "hand" in key.lower() else "")
        if kind == "wrist":
            fmt = role[2] if role and len(role) > 2 else GR00T_FORMATS.get(str(ac.get("format", "")).upper()) \
                or FORMAT_BY_DIM.get(dim or 0)
            if fmt not in WRIST_FORMATS or side not in config.arms:
                raise ImportError_(f"action key '{key}' (EEF, format {ac.get('format')}, {dim} values): cannot map "
                                   f"onto a wrist of robot {config.name} (arms {sorted(config.arms)})")
            entry = ActionEntry(key, wrist=side, format=fmt, rep="absolute")
        elif kind == "hand":
            if side not in config.hands:
                raise ImportError_(f"action key '{key}': robot {config.name} has no {side} hand")
            if dim is not None and dim != len(SHARPA_WAVE_JOINTS):
                raise ImportError_(f"action key '{key}' has {dim} hand joints; the hand retargeting takes the "
                                   f"{len(SHARPA_WAVE_JOINTS)}-joint Sharpa Wave space")
            entry = ActionEntry(key, hand=side, joints=tuple(sharpa_joint_names(side)))
        else:
            raise ImportError_(f"action key '{key}' ({ac.get('type', 'no type')}, {dim} values): this package "
                               "commands wrists (EEF actions, through IK) and hands; joint-space arm actions "
                               f"cannot be mapped; use --map {key}=wrist:SIDE or hand:SIDE if it is one")
        out.append(_fits(entry, dim, f"action key '{key}'", f"{entry.format or 'the hand'} takes {entry.dim}"))
    return out


def spec_from_gr00t(configs: dict, config, stats=None, tag: str = "", dt: float = 1.0 / 30.0,
                    execute_s: float = 0.4, overrides: dict | None = None) -> RemoteSpec:
    """Modality configs (+ statistics) of one embodiment -> :class:`RemoteSpec` for ``config``."""
    overrides = overrides or {}
    horizon = len((configs.get("action") or {}).get("delta_indices") or [])
    if horizon < 1:
        raise ImportError_("modality_configs.action.delta_indices is empty: the action horizon is unknown")
    language = _keys(configs, "language")
    actions = map_actions(configs, config, stats, overrides)
    action_stats = {e.key: stats["action"][e.key] for e in actions if stats and e.key in stats.get("action", {})}
    return RemoteSpec(protocol="gr00t", video=map_video(_keys(configs, "video"), config, overrides),
                      state=tuple(map_state(_keys(configs, "state"), config, stats, overrides)), action=tuple(actions),
                      language=language[0] if language else "", horizon=horizon, dt=dt,
                      execute_steps=max(1, min(horizon, round(execute_s / dt))), embodiment_tag=tag,
                      statistics=action_stats)


def manifest_data(spec: RemoteSpec, config, name: str, host: str, port: int, timeout_s: float,
                  api_token: str = "", instruction: str = "") -> dict:
    backend = "gr00t_server" if spec.protocol == "gr00t" else "openpi_server"
    options = {"host": host, "port": int(port), "timeout_s": float(timeout_s)}
    if api_token:
        options["api_token"] = api_token
    return {"format": "egoscale_ros/policy-manifest/1", "name": name, "embodiment": config.embodiment,
            "backends": {"order": [backend], backend: options}, "instruction": {"default": instruction},
            "remote": spec.to_dict()}


def write_manifest(data: dict, path: Path) -> Path:
    from egoscale_ros.policy.manifest import load_manifest

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=110))
    load_manifest(path)  # what was written must load (the node reads it the same way)
    return path


def gr00t_server_configs(host: str, port: int, timeout_s: float, api_token: str = "") -> dict:
    """Ask a live GR00T server for its modality configs (``get_modality_config``)."""
    from egoscale_ros.remote.codec import gr00t_packb, gr00t_unpackb
    from egoscale_ros.remote.transport import TransportError, ZmqTransport

    transport = ZmqTransport(host, port, timeout_s)
    try:
        request = {"endpoint": "get_modality_config"}
        if api_token:
            request["api_token"] = api_token
        reply = gr00t_unpackb(transport.request(gr00t_packb(request)))
    except TransportError as exc:
        raise ImportError_(f"GR00T server {host}:{port} did not answer get_modality_config: {exc}") from exc
    finally:
        transport.close()
    if isinstance(reply, dict) and "error" in reply:
        raise ImportError_(f"GR00T server {host}:{port}: {reply['error']}")
    if not isinstance(reply, dict) or "action" not in reply:
        raise ImportError_(f"GR00T server {host}:{port}: get_modality_config returned no action config")
    return reply


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", nargs="?", default="", help="GR00T checkpoint folder (its metadata JSON files)")
    parser.add_argument("--robot", default="g1_dex3", help="robot config name or YAML path")
    parser.add_argument("--server", default="", help="ask a live GR00T server instead: HOST:PORT")
    parser.add_argument("-o", "--output", default="", help="manifest to write (default: <checkpoint>/egoscale_manifest.yaml)")
    parser.add_argument("--embodiment-tag", default="", help="embodiment in the checkpoint (needed when it has several)")
    parser.add_argument("--host", default="127.0.0.1", help="where the policy server will run")
    parser.add_argument("--port", type=int, default=DEFAULT_PORTS["gr00t"])
    parser.add_argument("--timeout", type=float, default=0.5, help="seconds per request before it counts as lost")
    parser.add_argument("--api-token", default="")
    parser.add_argument("--dt", type=float, default=1.0 / 30.0, help="seconds between action steps (the data's rate)")
    parser.add_argument("--execute-s", type=float, default=0.4,
                        help="seconds of each chunk to publish (a dead server then stops motion within this)")
    parser.add_argument("--map", action="append", default=[], metavar="KEY=ROLE", help="override a key's mapping")
    parser.add_argument("--instruction", default="", help="default instruction")


def run(args: argparse.Namespace) -> int:
    from egoscale_ros.robot.config import load_robot_config
    from egoscale_ros.schema import ConfigError

    try:
        config = load_robot_config(args.robot)
        overrides = _parse_overrides(args.map)
        if args.server:
            host, _, port = args.server.rpartition(":")
            configs, stats, tag = gr00t_server_configs(host, int(port), args.timeout, args.api_token), None, args.embodiment_tag
            out = Path(args.output or "egoscale_manifest.yaml")
            name = f"gr00t@{args.server}"
        elif args.checkpoint:
            tag, configs, stats, _ = read_checkpoint(Path(args.checkpoint), args.embodiment_tag)
            out = Path(args.output) if args.output else Path(args.checkpoint) / "egoscale_manifest.yaml"
            name = Path(args.checkpoint).resolve().name
        else:
            print("import-policy: give a checkpoint folder or --server HOST:PORT", file=sys.stderr)
            return 2
        spec = spec_from_gr00t(configs, config, stats, tag, args.dt, args.execute_s, overrides)
        path = write_manifest(manifest_data(spec, config, name, args.host, args.port, args.timeout,
                                            args.api_token, args.instruction), out)
    except (SpecError, ConfigError, ValueError) as exc:
        print(f"import-policy: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}: {len(spec.video)} camera(s), {len(spec.state)} state key(s), {len(spec.action)} action "
          f"key(s), horizon {spec.horizon} x {spec.dt:.4g} s, publishing {spec.execute_steps} steps past each reply's arrival")
    return 0
