"""``egoscale-ros bench chunking``: the execution modes on a simulated policy stream.

A known smooth trajectory (both wrists moving and turning, 22 hand joints) is "predicted" by a
simulated policy: chunks of the reference policy's horizon and step (30 steps of 1/30 s) at
``--chunk-hz`` from observations stamped at their capture time, each arriving after
``--latency-ms`` ± ``--jitter-ms``, each off the truth by a per-chunk bias and per-step noise, as
real predictions are. The smoother runs at ``--rate-hz`` (default: the G1's control rate) in
simulated time. Per mode it reports the cost of one ``sample()`` (wall time), the
tracking error against the truth, and smoothness (per-tick steps and second differences of the
wrist position).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from egoscale_ros.chunking.chunk import ns_from_seconds
from egoscale_ros.chunking.smoother import MODES, ChunkSmoother
from egoscale_ros.kinematics import se3

HAND_DOF = 22
# What the smoother meets on the robot (a test holds these to their sources, which sit in layers
# above this one): the reference policy's chunks, 30 steps of 1/30 s, and the G1's 50 Hz control
# rate (config/robots/g1_dex3.yaml).
HORIZON = 30
DT = 1.0 / 30.0
CONTROL_RATE_HZ = 50.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated execution modes")
    parser.add_argument("--seconds", type=float, default=10.0, help="simulated duration")
    parser.add_argument("--rate-hz", type=float, default=CONTROL_RATE_HZ,
                        help="control (sampling) rate (default: the G1's, as the smoother runs there)")
    parser.add_argument("--chunk-hz", type=float, default=30.0, help="policy chunk rate")
    parser.add_argument("--horizon", type=int, default=HORIZON, help="steps per chunk (default: the reference policy's)")
    parser.add_argument("--dt", type=float, default=DT, help="seconds between chunk steps")
    parser.add_argument("--latency-ms", type=float, default=40.0, help="mean inference latency")
    parser.add_argument("--jitter-ms", type=float, default=10.0, help="uniform ± latency jitter")
    parser.add_argument("--noise-mm", type=float, default=3.0, help="prediction noise (position, per chunk)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def truth(t: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Ground-truth wrist poses and hand joints at time ``t``."""
    wrist = {}
    for sign, side in ((1.0, "left"), (-1.0, "right")):
        pos = np.array([0.35 + 0.08 * np.sin(1.3 * t), sign * (0.2 + 0.05 * np.cos(0.9 * t)), 0.9 + 0.05 * np.sin(2.1 * t)])
        rot = se3.so3_exp(np.array([0.3 * np.sin(0.7 * t), 0.2 * np.cos(1.1 * t), sign * 0.4 * np.sin(0.5 * t)]))
        wrist[side] = se3.make_transform(rot, pos)
    phase = np.linspace(0, np.pi, HAND_DOF)
    hand = {side: 0.6 + 0.5 * np.sin(1.7 * t + phase) for side in ("left", "right")}
    return wrist, hand


def simulate(mode: str, args: argparse.Namespace, progress) -> dict:
    rng = np.random.default_rng(args.seed)
    smoother = ChunkSmoother(mode)
    period = 1.0 / args.rate_hz
    chunk_period = 1.0 / args.chunk_hz
    ticks = int(round(args.seconds * args.rate_hz))
    pending: list[tuple[float, tuple]] = []  # (arrival, chunk arrays)
    next_obs = 0.0
    cost, pos_err, rot_err, hand_err, positions = [], [], [], [], []
    for i in range(ticks):
        t = i * period
        while next_obs <= t:  # observations captured; their chunks arrive later
            arrival = next_obs + (args.latency_ms + rng.uniform(-1, 1) * args.jitter_ms) / 1000.0
            bias = rng.normal(0, args.noise_mm / 1000.0, 3)
            steps = [truth(next_obs + k * args.dt) for k in range(args.horizon)]
            wrist = {
                s: np.stack([se3.make_transform(w[s][:3, :3] @ se3.so3_exp(rng.normal(0, 0.01, 3)),
                                                w[s][:3, 3] + bias + rng.normal(0, 0.001, 3)) for w, _ in steps])
                for s in ("left", "right")
            }
            hand = {s: np.stack([h[s] for _, h in steps]) + rng.normal(0, 0.01, (args.horizon, HAND_DOF))
                    for s in ("left", "right")}
            pending.append((arrival, (ns_from_seconds(next_obs), args.dt, wrist, hand)))
            next_obs += chunk_period
        pending.sort(key=lambda p: p[0])
        while pending and pending[0][0] <= t:
            arrival, chunk = pending.pop(0)
            smoother.offer(*chunk, now=arrival)
        t0 = time.perf_counter()
        sample = smoother.sample(t)
        cost.append(time.perf_counter() - t0)
        progress.update(1)
        if sample.targets is None:
            continue
        wrist_true, hand_true = truth(t)
        got = sample.targets.wrist["left"]
        positions.append(got[:3, 3])
        err = se3.pose_error(got, wrist_true["left"])
        pos_err.append(err[0])
        rot_err.append(err[1])
        hand_err.append(float(np.sqrt(np.mean((sample.targets.hand["left"] - hand_true["left"]) ** 2))))
    steps = np.linalg.norm(np.diff(np.array(positions), axis=0), axis=1)
    second = np.linalg.norm(np.diff(np.array(positions), n=2, axis=0), axis=1)
    cost_ms = np.array(cost) * 1e3
    return {
        "sample_ms_p50": round(float(np.percentile(cost_ms, 50)), 4),
        "sample_ms_p99": round(float(np.percentile(cost_ms, 99)), 4),
        "wrist_position_error_mm_rms": round(float(np.sqrt(np.mean(np.square(pos_err)))) * 1e3, 3),
        "wrist_rotation_error_deg_rms": round(float(np.degrees(np.sqrt(np.mean(np.square(rot_err))))), 3),
        "hand_error_rad_rms": round(float(np.mean(hand_err)), 4),
        "wrist_step_mm_max": round(float(steps.max()) * 1e3, 3),
        "wrist_step_mm_p99": round(float(np.percentile(steps, 99)) * 1e3, 3),
        "wrist_second_difference_mm_rms": round(float(np.sqrt(np.mean(second**2))) * 1e3, 4),
        **smoother.counters.as_dict(),
    }


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        print(f"bench chunking: unknown mode(s) {unknown} (known: {', '.join(MODES)})", file=sys.stderr)
        return 2
    settings = {k: getattr(args, k) for k in ("seconds", "rate_hz", "chunk_hz", "horizon", "dt", "latency_ms",
                                              "jitter_ms", "noise_mm", "seed")}
    total = int(round(args.seconds * args.rate_hz)) * len(modes)
    with tqdm(total=total, desc="chunking", unit="tick", file=sys.stderr, disable=None) as progress:
        results = {mode: simulate(mode, args, progress) for mode in modes}
    if args.json:
        print(json.dumps({"settings": settings, "modes": results}))
        return 0
    print(f"chunk smoother, {args.seconds:g} s simulated at {args.rate_hz:g} Hz; chunks at {args.chunk_hz:g} Hz, "
          f"H={args.horizon}, latency {args.latency_ms:g}±{args.jitter_ms:g} ms")
    for mode, r in results.items():
        print(f"  {mode:18s} sample {r['sample_ms_p50']:.3f} ms (p99 {r['sample_ms_p99']:.3f}); "
              f"error {r['wrist_position_error_mm_rms']:.2f} mm / {r['wrist_rotation_error_deg_rms']:.2f}° / "
              f"hand {r['hand_error_rad_rms']:.3f} rad; max step {r['wrist_step_mm_max']:.2f} mm, "
              f"2nd diff {r['wrist_second_difference_mm_rms']:.3f} mm; starved {r['starved_ticks']}")
    return 0
