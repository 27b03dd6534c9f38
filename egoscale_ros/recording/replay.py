"""``egoscale-ros replay RUN.mcap --policy MANIFEST``: open-loop evaluation of a policy on a recording.

A recorded run holds every observation the policy acted on (``policy/observation/*``: the images
fitted to the model's input, the joint state, the instruction) and the chunks it published.
Replay feeds those observations to a policy offline, exactly as policy_node does (same
preprocessing, wrist poses by forward kinematics of the same joint state, flow noise seeded by
the observation's stamp), and compares its chunks with the recorded ones. With the policy that
ran, the chunks agree to float precision; with a new checkpoint, the differences show how far its
behaviour moves before it ever drives a robot. Prints JSON; ``--out`` also draws ``replay.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from egoscale_ros.recording import analysis as an
from egoscale_ros.recording.reader import Recording, RecordingError, open_recording

OBS_IMAGES = "policy/observation/images/"
OBS_JOINTS = "policy/observation/joint_states"
OBS_INSTRUCTION = "policy/observation/instruction"
TOLERANCE = 1e-4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", help="ROS 2 MCAP file recorded with --record / record:=")
    parser.add_argument("--policy", default="",
                        help="policy manifest.yaml to evaluate (default: the one the run used, from its diagnostics)")
    parser.add_argument("--backend", default="auto", help="policy backend (default: the manifest's order)")
    parser.add_argument("--robot", default="", help="robot config (default: the one the recording names)")
    parser.add_argument("--urdf", default="", help="override the robot config's URDF")
    parser.add_argument("--limit", type=int, default=0, help="replay at most this many observations (0 = all)")
    parser.add_argument("--out", default="", help="directory for replay.json and replay.png")


def run(args: argparse.Namespace) -> int:
    try:
        rec = open_recording(args.recording)
        policy = args.policy or recorded_policy(rec)
        if not policy:
            raise RecordingError(f"{rec.path} does not say which policy ran: pass --policy MANIFEST")
        result = replay(rec, policy, backend=args.backend, robot=args.robot, urdf=args.urdf,
                        limit=args.limit, progress=True)
    except RecordingError as exc:
        print(f"egoscale-ros replay: {exc}", file=sys.stderr)
        return 2
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "replay.json").write_text(json.dumps(result["summary"], indent=2) + "\n")
        plot(result, out / "replay.png")
    print(json.dumps(result["summary"], indent=2))
    return 0


@dataclass
class RecordedObservation:
    stamp_ns: int
    log_ns: int
    images: dict[str, np.ndarray]
    positions: dict[str, float]


def observations(rec: Recording) -> tuple[list[RecordedObservation], list[tuple[int, str]], list[str]]:
    """The recorded observations (complete ones only), the instructions over time, the cameras."""
    cameras = sorted(t.rsplit("/", 1)[-1] for t in rec.channels if OBS_IMAGES in t)
    joints_topic = rec.topic(OBS_JOINTS)
    if not cameras or joints_topic is None:
        raise RecordingError(f"{rec.path} holds no policy observations ({OBS_JOINTS}, {OBS_IMAGES}<camera>): "
                             "record with `egoscale-ros demo --record` or record:=, which turn them on")
    images: dict[int, dict[str, np.ndarray]] = {}
    for cam in cameras:
        for _t, msg in rec.decode(OBS_IMAGES + cam):
            rgb = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)
            images.setdefault(an.stamp_ns(msg.header.stamp), {})[cam] = rgb
    out = []
    for t, msg in rec.decode(OBS_JOINTS):
        stamp = an.stamp_ns(msg.header.stamp)
        frames = images.get(stamp, {})
        if len(frames) == len(cameras):
            out.append(RecordedObservation(stamp, t, frames, dict(zip(msg.name, (float(p) for p in msg.position)))))
    instructions = [(t, str(m.data)) for t, m in rec.decode(OBS_INSTRUCTION)]
    return out, instructions, cameras


def recorded_policy(rec: Recording) -> str:
    """The manifest policy_node reported on /diagnostics during the run ('' if none)."""
    topic = rec.topic(an.DIAGNOSTICS)
    for _, _t, msg in rec.messages([topic] if topic else []):
        for status in msg.status:
            if status.name.endswith("policy_node"):
                for kv in status.values:
                    if kv.key == "manifest" and kv.value:
                        return kv.value
    return ""


def recorded_chunks(rec: Recording) -> dict[int, dict[str, Any]]:
    """Recorded chunks by observation stamp: wrist poses (side -> (H, 4, 4)) and hand values."""
    from egoscale_ros.kinematics import se3

    out: dict[int, dict[str, Any]] = {}
    for _t, msg in rec.decode(an.CHUNKS):
        sides = [an.SIDES_OF_WRIST.get(n, n) for n in msg.joint_names]
        entry = out.setdefault(an.stamp_ns(msg.header.stamp), {"wrist": {}, "hand": None})
        for i, side in enumerate(sides):
            q = np.array([[p.transforms[i].rotation.x, p.transforms[i].rotation.y, p.transforms[i].rotation.z,
                           p.transforms[i].rotation.w] for p in msg.points])
            poses = np.tile(np.eye(4), (len(msg.points), 1, 1))
            poses[:, :3, :3] = se3.quat_to_matrix(q)
            poses[:, :3, 3] = [[p.transforms[i].translation.x, p.transforms[i].translation.y,
                                p.transforms[i].translation.z] for p in msg.points]
            entry["wrist"][side] = poses
    for _t, msg in rec.decode(an.HAND_CHUNKS):
        entry = out.get(an.stamp_ns(msg.header.stamp))
        if entry is not None:
            entry["hand"] = (list(msg.joint_names), np.array([list(p.positions) for p in msg.points]))
    return out


def rotation_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (rad) between rotation matrices ``a`` and ``b`` (..., 3, 3)."""
    cos = (np.einsum("...ij,...ij->...", a, b) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))


def compare(replayed, recorded: dict[str, Any]) -> dict[str, float]:
    """Largest differences between a replayed ActionChunk and a recorded chunk."""
    trans, rot = 0.0, 0.0
    for side, poses in recorded["wrist"].items():
        mine = replayed.wrist[side]
        trans = max(trans, float(np.max(np.abs(mine[:, :3, 3] - poses[:, :3, 3]))))
        rot = max(rot, float(np.max(rotation_angle(mine[:, :3, :3], poses[:, :3, :3]))))
    hand = 0.0
    if recorded["hand"] is not None:
        names, values = recorded["hand"]
        mine = np.concatenate([replayed.hand[s] for s in replayed.hand], axis=1)
        mine_names = [n for s in replayed.hand for n in replayed.hand_joint_names[s]]
        if mine_names == names and mine.shape == values.shape:
            hand = float(np.max(np.abs(mine - values)))
        else:
            hand = float("nan")
    return {"wrist_translation_m": trans, "wrist_rotation_rad": rot, "hand_rad": hand}


def replay(rec: Recording, manifest_path: str, backend: str = "auto", robot: str = "", urdf: str = "",
           limit: int = 0, progress: bool = False) -> dict[str, Any]:
    from egoscale_ros.policy.manifest import load_manifest
    from egoscale_ros.policy.pipeline import Observation, PolicyPipeline
    from egoscale_ros.policy.runtime import create_runtime
    from egoscale_ros.recording.report import robot_config
    from egoscale_ros.robot.kinematics import RobotKinematics

    config = robot_config(rec, robot, urdf)
    manifest = load_manifest(manifest_path)
    obs_list, instructions, cameras = observations(rec)
    if len(cameras) != manifest.image.cameras:
        raise RecordingError(f"the recording observed {len(cameras)} camera(s) {cameras}; policy "
                             f"{manifest.path} takes {manifest.image.cameras}")
    order = [c.name for c in config.cameras if c.name in cameras] or cameras
    recorded = recorded_chunks(rec)
    selection = create_runtime(manifest, backend, "auto", options={"onnxruntime": {"threads": 1}})
    pipeline = PolicyPipeline(manifest, selection.runtime)
    kin = RobotKinematics(config)
    layout = manifest.layout
    camera_config = {c.name: c for c in config.cameras}
    if limit:
        obs_list = obs_list[:limit]
    rows = []
    iterator = obs_list
    if progress:
        from tqdm import tqdm

        iterator = tqdm(obs_list, desc="replaying observations", unit="obs", file=sys.stderr, disable=None)
    try:
        for ob in iterator:
            instruction = next((text for t, text in reversed(instructions) if t <= ob.log_ns),
                               instructions[0][1] if instructions else manifest.default_instruction)
            wrists = ({s: kin.wrist_pose(s, ob.positions) for s in layout.sides}
                      if layout.representation == "relative" else None)
            base_T_camera = None
            if layout.representation == "absolute" and layout.frame == "camera":
                cam = camera_config[order[0]]
                base_T_camera = kin.frame_pose(cam.parent_frame, ob.positions) @ cam.extrinsics.matrix()
            obs = Observation(ob.stamp_ns, [ob.images[c] for c in order], ob.positions, instruction, wrists,
                              base_T_camera)
            prediction = pipeline.predict(obs)
            target = recorded.get(ob.stamp_ns)
            if prediction.chunk is None or target is None:
                rows.append({"stamp_ns": ob.stamp_ns, "missing": True})
                continue
            rows.append({"stamp_ns": ob.stamp_ns, "missing": False, **compare(prediction.chunk, target),
                         "replayed": prediction.chunk, "recorded": target})
    finally:
        selection.runtime.close()
    return {"summary": summarise(rec, manifest, selection.report(), rows), "rows": rows}


def summarise(rec: Recording, manifest, backend: str, rows: list[dict]) -> dict[str, Any]:
    compared = [r for r in rows if not r["missing"]]

    def stats(key: str) -> dict[str, float | None]:
        values = np.array([r[key] for r in compared], float)
        if values.size == 0:
            return {"max": None, "p50": None, "p99": None}
        return {"max": float(f"{np.max(values):.3e}"), "p50": float(f"{np.percentile(values, 50):.3e}"),
                "p99": float(f"{np.percentile(values, 99):.3e}")}

    summary = {
        "recording": str(rec.path),
        "policy": str(manifest.path),
        "recorded_policy": recorded_policy(rec) or None,
        "backend": backend,
        "observations": len(rows),
        "compared": len(compared),
        "without_recorded_chunk": len(rows) - len(compared),
        "wrist_translation_m": stats("wrist_translation_m"),
        "wrist_rotation_rad": stats("wrist_rotation_rad"),
        "hand_rad": stats("hand_rad"),
        "tolerance": TOLERANCE,
    }
    worst = [summary[k]["max"] for k in ("wrist_translation_m", "wrist_rotation_rad", "hand_rad")]
    summary["equal_within_tolerance"] = bool(compared) and all(w is not None and w <= TOLERANCE for w in worst)
    return summary


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if not r["missing"]]
    if not rows:
        return
    t0 = rows[0]["stamp_ns"]
    t = np.array([(r["stamp_ns"] - t0) * 1e-9 for r in rows])
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    floor = 1e-12  # identical chunks: drawn at the floor of the log scale
    for key, label in (("wrist_translation_m", "wrist translation [m]"), ("wrist_rotation_rad", "wrist rotation [rad]"),
                       ("hand_rad", "hand joints [rad]")):
        axes[0].semilogy(t, np.maximum([r[key] for r in rows], floor), ".", ms=3, label=label)
    axes[0].axhline(TOLERANCE, color="black", ls="--", lw=1, label=f"tolerance {TOLERANCE:g}")
    axes[0].set_xlabel("observation time [s]")
    axes[0].set_ylabel("largest difference in the chunk")
    axes[0].set_title(f"replayed vs recorded chunks (equal values drawn at {floor:g})")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    mid = rows[len(rows) // 2]
    side = next(iter(mid["recorded"]["wrist"]))
    rec_xyz = mid["recorded"]["wrist"][side][:, :3, 3]
    rep_xyz = mid["replayed"].wrist[side][:, :3, 3]
    steps = np.arange(len(rec_xyz))
    for a, axis in enumerate("xyz"):
        axes[1].plot(steps, rec_xyz[:, a], lw=2.5, alpha=0.5, label=f"{axis} recorded")
        axes[1].plot(steps, rep_xyz[:, a], "k--", lw=1, label=f"{axis} replayed" if a == 0 else None)
    axes[1].set_xlabel("action step k")
    axes[1].set_ylabel(f"{side} wrist position [m]")
    axes[1].set_title(f"one chunk (observation at {(mid['stamp_ns'] - t0) * 1e-9:.2f} s)")
    axes[1].legend(fontsize=8, ncol=2)
    axes[1].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
