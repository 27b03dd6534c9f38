"""``egoscale-ros bench policy``: latency per stage, achievable chunk rate, parity, node overhead.

Two measurements of the same policy:

1. Bare runtime: the pipeline the node runs (preprocess a 640x480 frame, backbone, each
   denoising step, postprocess) back to back on a synthetic observation. Gives per-stage medians,
   end-to-end p50/p99 and the achievable chunk rate; then the chunk is compared with the PyTorch
   reference on identical noise (parity).
2. Inside the node (measured by ``nodes/policy_bench_node``, which runs this bench from the
   command line and hands its measurement in): ``policy_node`` started as its own process on a private ROS domain, fed by a
   synthetic camera (640x480 rgb8 at the target rate) and ``joint_states`` (200 Hz) published from
   this process; its rate and latency are read from its ``/diagnostics``.
   ``node_overhead_ratio`` = node inference latency p50 / bare inference latency p50 at the same
   cadence (the same stages, measured inside the running node); ``node_cycle_overhead_ratio``
   does the same for the node's whole cycle (observation assembly and forward kinematics, the
   inference, building and publishing both chunk messages).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable

import numpy as np

BACKENDS = ("onnxruntime", "torch", "tensorrt")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="tiny", help="reference policy preset (tiny, small, base)")
    parser.add_argument("--backend", choices=BACKENDS, default="onnxruntime")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--manifest", default="", help="bench this manifest instead of the reference policy")
    parser.add_argument("--robot", default="g1_dex3", help="robot config (state layout, node joints)")
    parser.add_argument("--iterations", type=int, default=300, help="timed inferences of the bare runtime")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for ONNX Runtime / PyTorch")
    parser.add_argument("--node-seconds", type=float, default=10.0, help="node measurement length (0: skip)")
    parser.add_argument("--rate-hz", type=float, default=30.0, help="target chunk rate of the node")
    parser.add_argument("--inference-cpu", type=int, default=-2,
                        help="pin the inference thread to this CPU (bare and node alike); -1: no pinning; "
                             "default: the last CPU this process may use")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def synthetic_frame(width: int = 640, height: int = 480, t: float = 0.0) -> np.ndarray:
    from egoscale_ros.policy.synthetic import COLOURS, render_scene

    side = max(width, height)
    cube = np.array([0.5 + 0.3 * np.sin(t), 0.6])
    scene = render_scene(side, cube, COLOURS["red"], np.random.default_rng(int(t * 30) % 1000))
    return np.ascontiguousarray(scene[:height, :width])


def bare_runtime(manifest, backend: str, device: str, threads: int, iterations: int, warmup: int):
    """The runtime and pipeline the node would use, on a synthetic 640x480 observation."""
    from egoscale_ros.policy.pipeline import Observation, PolicyPipeline
    from egoscale_ros.policy.runtime import create_runtime

    options = {"onnxruntime": {"threads": threads}, "torch": {"threads": threads}}
    selection = create_runtime(manifest, backend, device, options=options, strict=True)
    pipeline = PolicyPipeline(manifest, selection.runtime)
    frame = synthetic_frame()
    joints = {name: 0.05 for name in manifest.state.joints}
    wrists = {s: np.eye(4) for s in manifest.layout.sides}
    obs = Observation(0, [frame] * manifest.image.cameras, joints, manifest.default_instruction, wrists,
                      np.eye(4))
    for _ in range(warmup):
        pipeline.predict(obs)
    return selection, pipeline, obs


def time_pipeline(pipeline, obs, iterations: int, pace_hz: float = 0.0, label: str = "") -> dict:
    """Latency of ``iterations`` predictions, back to back (``pace_hz`` 0) or one per period.

    Paced runs matter: between chunks a node's inference thread sleeps, so caches and CPU clocks
    are colder than in a back-to-back loop; the node is compared with the paced figure.
    """
    from tqdm import tqdm

    totals, stages = [], {}
    next_start = time.monotonic()
    t_start = time.perf_counter()
    for _ in tqdm(range(iterations), desc=label, file=sys.stderr, leave=False):
        t0 = time.perf_counter()
        prediction = pipeline.predict(obs)
        totals.append((time.perf_counter() - t0) * 1e3)
        for k, v in prediction.stages_ms.items():
            stages.setdefault(k, []).append(v)
        if pace_hz > 0:
            next_start += 1.0 / pace_hz
            time.sleep(max(0.0, next_start - time.monotonic()))
    wall = time.perf_counter() - t_start
    p50, p99 = _percentiles(totals)
    return {
        "latency_ms_p50": round(p50, 3),
        "latency_ms_p99": round(p99, 3),
        "latency_ms_mean": round(float(np.mean(totals)), 3),
        "chunk_rate_hz": round(iterations / wall, 1),
        "stages_ms": {k: round(float(np.median(v)), 3) for k, v in stages.items()},
        "stages_ms_p99": {k: round(float(np.percentile(v, 99)), 3) for k, v in stages.items()},
    }


def parity(manifest, selection) -> float:
    """Max |backend - PyTorch (CPU, eager)| over a full normalised chunk from identical noise."""
    from egoscale_ros.policy.export import parity_inputs, torch_chunk
    from egoscale_ros.policy.training import load_checkpoint

    feeds, noise = parity_inputs(manifest, seed=11)
    out = selection.runtime.sample(feeds["image"], feeds["tokens"], feeds["state"], feeds["state_mask"], noise,
                                   manifest.denoising_steps)
    policy, _ = load_checkpoint(manifest.file("torch", "checkpoint"), device="cpu")
    reference = torch_chunk(policy, manifest, feeds, noise)
    return float(np.max(np.abs(out - reference)))


def run(args: argparse.Namespace, node_measurement: Callable[..., dict] | None = None) -> int:
    """Measure the bare runtime; with ``--node-seconds`` > 0 also the running node, through
    ``node_measurement`` (the ROS shell supplies it: this core module never imports rclpy)."""
    from egoscale_ros.policy.manifest import load_manifest
    from egoscale_ros.policy.runtime_base import BackendUnavailable

    manifest_path = args.manifest
    if not manifest_path:
        from egoscale_ros.policy.export import ensure_default_policy

        manifest_path = str(ensure_default_policy(preset=args.preset, robot=args.robot))
    manifest = load_manifest(manifest_path)
    from egoscale_ros.policy.scheduler import allowed_cpus

    allowed_cpus_before = allowed_cpus()
    cpu = max(allowed_cpus_before) if args.inference_cpu == -2 else args.inference_cpu
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})  # the bare runtime runs in this thread, pinned like the node's
    try:
        selection, pipeline, obs = bare_runtime(manifest, args.backend, args.device, args.threads, args.iterations,
                                                args.warmup)
    except BackendUnavailable as exc:
        print(f"bench policy: {exc}", file=sys.stderr)
        return 2
    bare = time_pipeline(pipeline, obs, args.iterations, label=f"{args.backend} back to back")
    paced = time_pipeline(pipeline, obs, args.iterations, args.rate_hz, label=f"{args.backend} at {args.rate_hz:g} Hz") \
        if args.rate_hz > 0 else None
    parity_error = parity(manifest, selection)
    result = {"backend": args.backend, "preset": manifest.preset or args.preset, "manifest": str(manifest.path),
              "backend_report": selection.report(), "device": selection.runtime.device, **bare,
              "paced": paced, "parity_max_abs_err": parity_error,
              "parity_reference": "PyTorch eager on CPU, same noise", "iterations": args.iterations,
              "denoising_steps": manifest.denoising_steps, "inference_cpu": cpu, "node_overhead_ratio": None}
    selection.runtime.close()
    if cpu >= 0:
        os.sched_setaffinity(0, allowed_cpus_before)
    if args.node_seconds > 0 and node_measurement is not None:
        node = node_measurement(str(manifest.path), args.robot, args.backend, args.device, args.threads,
                                args.node_seconds, args.rate_hz, inference_cpu=cpu)
        result["node"] = node
        result["node_rate_hz"] = node["rate_hz"]
        reference = (paced or bare)["latency_ms_p50"]
        if node["latency_ms_p50"]:
            # Same stages (preprocess -> postprocess), same cadence: what running inside the node adds.
            result["node_overhead_ratio"] = round(node["latency_ms_p50"] / reference, 3)
        if node["cycle_ms_p50"]:
            # Whole cycle in the node (+ observation assembly, FK, building and publishing the chunks).
            result["node_cycle_overhead_ratio"] = round(node["cycle_ms_p50"] / reference, 3)
    if args.json:
        print(json.dumps(result))
    else:
        _print_summary(result)
    return 0


def _print_summary(r: dict) -> None:
    stages = ", ".join(f"{k} {v:.2f}" for k, v in r["stages_ms"].items())
    print(f"policy {r['preset']} on {r['backend_report']}")
    print(f"  end to end  p50 {r['latency_ms_p50']:.2f} ms, p99 {r['latency_ms_p99']:.2f} ms, "
          f"achievable {r['chunk_rate_hz']:.0f} chunks/s")
    print(f"  stages (ms) {stages}")
    if r.get("paced"):
        print(f"  at {r['paced']['chunk_rate_hz']:.0f} Hz  p50 {r['paced']['latency_ms_p50']:.2f} ms, "
              f"p99 {r['paced']['latency_ms_p99']:.2f} ms (one inference per period, as in the node)")
    print(f"  parity      max |{r['backend']} - PyTorch| = {r['parity_max_abs_err']:.2e}")
    node = r.get("node")
    if node:
        print(f"  in the node {node['rate_hz']} Hz, inference p50 "
              f"{node['latency_ms_p50']} ms / p99 {node['latency_ms_p99']} ms, cycle p50 {node['cycle_ms_p50']} ms, "
              f"overhead ratio {r['node_overhead_ratio']} (whole cycle {r.get('node_cycle_overhead_ratio')})")
