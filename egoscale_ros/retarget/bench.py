"""``egoscale-ros bench retarget``: accuracy and speed of hand retargeting, against dex-retargeting.

Inputs: random joint configurations of the source hand (the policy's Sharpa Wave) joined into a
smooth sequence (minimum-jerk segments at ``--rate``), fed either as joint angles
(``--source sharpa_wave``: the source hand's kinematics turn them into keypoints) or as the 21
keypoints those angles put in the wrist frame (``--source keypoints``). When the target is the
source hand an exact answer exists, so the joint error is reported too. The optimiser always runs
(no pass-through), warm-started frame to frame; the first (cold) frame is reported apart.

The peer is the pip package dex-retargeting: its vector optimiser on the same target URDF (the
config's keypoints added as fixed links) with the same target vectors, its default smoothing
(``normal_delta``), no low-pass. Its tip error is measured with the same kinematics as ours.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

TARGETS = ("sharpa_wave", "dex3", "inspire")
SOURCES = ("keypoints", "sharpa_wave")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", choices=TARGETS, default="sharpa_wave", help="robot hand to retarget onto")
    parser.add_argument("--source", choices=SOURCES, default="sharpa_wave",
                        help="input: the policy hand's joint angles, or the 21 keypoints they give")
    parser.add_argument("--side", choices=("left", "right"), default="left")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=1000, help="frames")
    parser.add_argument("--urdf", default=None, help="target URDF (e.g. the maker's) instead of the config's")
    parser.add_argument("--source-urdf", default=None, help="source hand URDF instead of its config's")
    parser.add_argument("--rate", type=float, default=100.0, help="frames per second (velocity limits per tick)")
    parser.add_argument("--segment", type=float, default=1.0, help="seconds between random poses")
    parser.add_argument("--solver", choices=("newton", "ipopt"), default=None, help="default: the hand config's")
    parser.add_argument("--compile", choices=("auto", "always", "never"), default="auto",
                        help="compile the kinematics to C (auto: when a compiler exists)")
    parser.add_argument("--noise-mm", type=float, default=0.0,
                        help="with --source keypoints: Gaussian noise (std, mm) on every keypoint, as from a "
                             "hand tracker; errors are still measured against the noise-free targets")
    parser.add_argument("--regularization", type=float, default=None,
                        help="weight of the pull toward the previous solution (default: the hand config's)")
    parser.add_argument("--lowpass", type=float, default=None, help="output low-pass alpha (1 = off; default: config)")
    parser.add_argument("--no-peer", action="store_true", help="skip dex-retargeting")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def smooth_sequence(lower: np.ndarray, upper: np.ndarray, n: int, frames_per_segment: int,
                    rng: np.random.Generator) -> np.ndarray:
    """``n`` poses: random poses within the limits joined by minimum-jerk segments."""
    segments = n // frames_per_segment + 2
    keys = rng.uniform(lower, upper, size=(segments, lower.size))
    t = np.arange(frames_per_segment) / frames_per_segment
    s = (10 * t**3 - 15 * t**4 + 6 * t**5)[:, None]
    out = np.concatenate([a + (b - a) * s for a, b in zip(keys[:-1], keys[1:])])
    return out[:n]


def _stats(values: list[float] | np.ndarray) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    return float(np.mean(arr)), float(np.percentile(arr, 99))


# --- the peer ----------------------------------------------------------------------------------

def peer_urdf(retargeter, folder: Path) -> tuple[Path, dict[str, str]]:
    """The target URDF with one fixed link per keypoint (dex-retargeting needs links, not
    frame + offset). Returns the file and keypoint -> link name."""
    model = retargeter.model
    tree = ET.parse(model.urdf_path)
    root = tree.getroot()
    joints = {j.get("name"): j for j in root.findall("joint")}
    links = {link.get("name") for link in root.findall("link")}
    names: dict[str, str] = {}
    for kp, fp in retargeter.config.keypoints.items():
        parent = fp.frame if fp.frame in links else joints[fp.frame].find("child").get("link")
        if fp.frame in links and not any(fp.offset):
            names[kp] = fp.frame
            continue
        link = f"bench_keypoint_{kp}"
        ET.SubElement(root, "link", name=link)
        joint = ET.SubElement(root, "joint", name=f"{link}_joint", type="fixed")
        ET.SubElement(joint, "parent", link=parent)
        ET.SubElement(joint, "child", link=link)
        ET.SubElement(joint, "origin", xyz=" ".join(f"{v:.9g}" for v in fp.offset), rpy="0 0 0")
        names[kp] = link
    path = folder / f"{retargeter.config.name}_bench.urdf"
    tree.write(path)
    return path, names


class Peer:
    """dex-retargeting's vector optimiser set up on the same robot, vectors and joints."""

    def __init__(self, retargeter, folder: Path):
        # Assembled as its RetargetingConfig.build() does, minus the yourdfpy round trip (which
        # needs `six`, not a dependency of the pinned environment).
        from dex_retargeting.kinematics_adaptor import MimicJointKinematicAdaptor
        from dex_retargeting.optimizer import VectorOptimizer
        from dex_retargeting.robot_wrapper import RobotWrapper
        from dex_retargeting.seq_retarget import SeqRetargeting

        urdf, link_of = peer_urdf(retargeter, folder)
        terms = retargeter.config.vectors
        robot = RobotWrapper(str(urdf))
        joints = list(retargeter.joint_names)
        optimizer = VectorOptimizer(
            robot,
            joints,
            target_origin_link_names=[link_of[t.origin] for t in terms],
            target_task_link_names=[link_of[t.task] for t in terms],
            target_link_human_indices=np.zeros((2, len(terms)), dtype=int),  # we pass vectors
            huber_delta=retargeter.config.huber_delta,
            scaling=1.0,
        )
        mimics = retargeter.model.mimics
        if mimics:
            optimizer.set_kinematic_adaptor(MimicJointKinematicAdaptor(
                robot, target_joint_names=joints, source_joint_names=[m.source for m in mimics],
                mimic_joint_names=[m.joint for m in mimics], multipliers=[m.multiplier for m in mimics],
                offsets=[m.offset for m in mimics],
            ))
        self.seq = SeqRetargeting(optimizer, has_joint_limits=True, lp_filter=None)  # no low-pass, as ours
        names = self.seq.joint_names
        self.index = np.array([names.index(j) for j in joints])

    def retarget(self, vectors_root: np.ndarray) -> np.ndarray:
        return np.asarray(self.seq.retarget(vectors_root), dtype=float)[self.index]


# --- the run -----------------------------------------------------------------------------------

def _measure(step, frames, metrics, progress, label: str) -> dict:
    """Run ``step(i) -> (q, iterations, converged)`` over the frames; collect figures."""
    ms, iters, tip_err, joint_err, step_ratio, converged, outputs = [], [], [], [], [], 0, []
    cold_ms = math.nan
    previous = None
    for i in range(frames):
        t0 = time.perf_counter()
        q, it, ok = step(i)
        elapsed = (time.perf_counter() - t0) * 1e3
        if i == 0:
            cold_ms = elapsed
        else:
            ms.append(elapsed)
            iters.append(it)
            converged += bool(ok)
        errs, jerr, ratio = metrics(i, q, previous)
        tip_err.extend(errs)
        if jerr is not None:
            joint_err.append(jerr)
        if ratio is not None:
            step_ratio.append(ratio)
        previous = q
        outputs.append(q)
        progress.update(1)
    tip_mean, tip_p99 = _stats(np.array(tip_err) * 1e3)
    out = {
        "fingertip_err_mm_mean": tip_mean,
        "fingertip_err_mm_p99": tip_p99,
        "ms_per_frame_median": float(np.median(ms)),
        "ms_per_frame_p99": float(np.percentile(ms, 99)),
        "ms_cold_start": cold_ms,
        "iterations_mean": float(np.mean(iters)) if iters and iters[0] is not None else None,
        "iterations_max": int(np.max(iters)) if iters and iters[0] is not None else None,
        "max_step_over_velocity_limit": float(np.max(step_ratio)) if step_ratio else None,
        # Jerkiness of the output: mean |second difference| of the joint angles per frame.
        "jitter_rad": float(np.mean(np.abs(np.diff(np.asarray(outputs), n=2, axis=0)))),
    }
    if iters and iters[0] is not None:
        out["converged_fraction"] = converged / len(iters)
    if joint_err:
        out["joint_err_rad_mean"], out["joint_err_rad_p99"] = _stats(joint_err)
        out["joint_err_rad_max"] = float(np.max(joint_err))
    return out


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from egoscale_ros.retarget.config import load_hand_config
    from egoscale_ros.retarget.keypoints import KEYPOINT_INDEX
    from egoscale_ros.retarget.retargeter import Retargeter
    from egoscale_ros.retarget.sources import HandJointSource

    if args.n < 2:
        print("bench retarget: --n must be at least 2", file=sys.stderr)
        return 2
    if args.noise_mm and args.source != "keypoints":
        print("bench retarget: --noise-mm needs --source keypoints", file=sys.stderr)
        return 2
    source_cfg = load_hand_config("sharpa_wave", args.side, args.source_urdf)
    policy_hand = HandJointSource(source_cfg, compile=args.compile)
    source = "keypoints" if args.source == "keypoints" else source_cfg
    target_cfg = load_hand_config(args.target, args.side, args.urdf)
    if args.regularization is not None:
        target_cfg = dataclasses.replace(target_cfg, regularization=args.regularization)
    ours = Retargeter.from_config(target_cfg, source=source, solver=args.solver,
                                  passthrough=False, rate_hz=args.rate, compile=args.compile)
    if args.lowpass is not None:
        ours.lowpass_alpha = args.lowpass
    rng = np.random.default_rng(args.seed)
    frames_per_segment = max(2, int(round(args.segment * args.rate)))
    poses = smooth_sequence(policy_hand.model.lower, policy_hand.model.upper, args.n, frames_per_segment, rng)
    keypoints = np.stack([policy_hand.keypoints_from_joints(q) for q in poses])
    observed = keypoints + rng.normal(scale=args.noise_mm * 1e-3, size=keypoints.shape) * (args.noise_mm > 0)
    observed[:, 0] = keypoints[:, 0]  # the wrist is the frame's origin
    same_hand = ours.config.hand == source_cfg.hand
    tips = list(ours.config.fingertips)
    tip_rows = np.array([KEYPOINT_INDEX[t] for t in tips])
    tip_points = np.array([ours.model.point_names.index(t) for t in tips])
    dt = 1.0 / args.rate
    vmax = ours.velocity_limits

    def metrics(i, q, previous):
        achieved = ours.objective.wrist.to_wrist(ours.model.point_positions(q)[tip_points])
        wanted = ours.scale * keypoints[i][tip_rows]
        errs = np.linalg.norm(achieved - wanted, axis=1).tolist()
        jerr = float(np.max(np.abs(q - poses[i]))) if same_hand else None
        ratio = None if previous is None else float(np.max(np.abs(q - previous) / (vmax * dt)))
        return errs, jerr, ratio

    def our_step(i):
        q = ours.retarget(observed[i] if args.source == "keypoints" else poses[i])
        st = ours.last_solve_stats
        return q, st.iterations, st.converged

    total = args.n * (1 if args.no_peer else 3)
    with tqdm(total=total, desc=f"retarget {args.source}->{args.target}", file=sys.stderr, disable=None) as bar:
        result = {
            "target": ours.config.name,
            "source": args.source,
            "n": args.n,
            "seed": args.seed,
            "rate_hz": args.rate,
            "segment_s": args.segment,
            "urdf": str(ours.config.urdf),
            "solver": ours.solver_name,
            "hessian": ours.config.solver.hessian if ours.solver_name == "newton" else "exact",
            "compiled": bool(ours.residual.compiled),
            "regularization": ours.config.regularization,
            "lowpass_alpha": ours.lowpass_alpha,
            "noise_mm": args.noise_mm,
            **_measure(our_step, args.n, metrics, bar, "ours"),
        }
        if not args.no_peer:
            with tempfile.TemporaryDirectory() as tmp:
                peer = Peer(ours, Path(tmp))

                def peer_vectors(i):
                    # The same target vectors ours starts from (before its pinch prior), root frame.
                    k = observed[i]
                    obj = ours.objective
                    return obj.wrist.vectors_to_root(ours.scale * (k[obj.source_task] - k[obj.source_origin]))

                def peer_step(i):
                    return peer.retarget(peer_vectors(i)), None, True

                result["peer"] = {"name": "dex-retargeting VectorOptimizer",
                                  **_measure(peer_step, args.n, metrics, bar, "peer")}
                # The peer knows no velocity limits; on a robot its output would go through a
                # rate limiter. The same figures with its steps clamped to v·dt per tick:
                limited: list[np.ndarray] = []

                def limited_step(i):
                    q = peer.retarget(peer_vectors(i))
                    if limited:
                        q = np.clip(q, limited[-1] - vmax * dt, limited[-1] + vmax * dt)
                    limited.append(q)
                    return q, None, True

                peer.seq.reset()
                result["peer_rate_limited"] = _measure(limited_step, args.n, metrics, bar, "peer limited")
            p = result["peer"]
            result["speedup_vs_peer"] = p["ms_per_frame_median"] / result["ms_per_frame_median"]
            result["fingertip_err_ratio_vs_peer"] = result["fingertip_err_mm_mean"] / max(p["fingertip_err_mm_mean"], 1e-12)
            result["fingertip_err_ratio_vs_peer_rate_limited"] = result["fingertip_err_mm_mean"] / max(
                result["peer_rate_limited"]["fingertip_err_mm_mean"], 1e-12)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_summary(result)
    return 0


def _print_summary(r: dict) -> None:
    def line(name: str, d: dict) -> str:
        text = (f"{name:>16}: tip error {d['fingertip_err_mm_mean']:.3f} mm mean, {d['fingertip_err_mm_p99']:.3f} p99; "
                f"{d['ms_per_frame_median']:.3f} ms/frame median, {d['ms_per_frame_p99']:.3f} p99")
        if d.get("iterations_mean") is not None:
            text += f"; {d['iterations_mean']:.2f} iterations mean"
        if "joint_err_rad_mean" in d:
            text += f"; joint error {d['joint_err_rad_mean']:.4f} rad mean"
        return text

    print(f"retarget {r['source']} -> {r['target']} ({r['n']} frames at {r['rate_hz']:g} Hz, solver {r['solver']}"
          f"/{r['hessian']}, compiled {r['compiled']})")
    print(line("egoscale_ros", r))
    if "peer" in r:
        print(line("dex-retargeting", r["peer"]))
        print(line("  rate-limited", r["peer_rate_limited"]))
        print(f"{'speedup':>16}: {r['speedup_vs_peer']:.2f}x, tip error ratio {r['fingertip_err_ratio_vs_peer']:.2f}")
    if r.get("max_step_over_velocity_limit") is not None:
        print(f"{'largest step':>16}: {r['max_step_over_velocity_limit']:.3f} of the velocity limit per tick")
