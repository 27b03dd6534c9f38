"""``egoscale-ros bench policy``: latency per stage, achievable chunk rate, parity, node overhead.

Two measurements of the same policy:

1. Bare runtime: the pipeline the node runs (preprocess a 640x480 frame, backbone, each
   denoising step, postprocess) back to back on a synthetic observation. Gives per-stage medians,
   end-to-end p50/p99 and the achievable chunk rate; then the chunk is compared with the PyTorch
   reference on identical noise (parity).
2. Inside the node: ``policy_node`` started as its own process on a private ROS domain, fed by a
   synthetic camera (640x480 rgb8 at the target rate) and ``joint_states`` (200 Hz) published from
   this process; its rate and latency are read from its ``/diagnostics``.
   ``node_overhead_ratio`` = node inference latency p50 / bare inference latency p50 (the same
   stages, measured inside the running node); the whole node cycle (observation built ->
   chunks published) is reported beside it as ``node_cycle_ms_p50``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

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
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def _synthetic_frame(width: int = 640, height: int = 480, t: float = 0.0) -> np.ndarray:
    from egoscale_ros.policy.synthetic import COLOURS, render_scene

    side = max(width, height)
    cube = np.array([0.5 + 0.3 * np.sin(t), 0.6])
    scene = render_scene(side, cube, COLOURS["red"], np.random.default_rng(int(t * 30) % 1000))
    return np.ascontiguousarray(scene[:height, :width])


def bare_runtime(manifest, backend: str, device: str, threads: int, iterations: int, warmup: int) -> dict:
    """Time the pipeline back to back; returns figures and the runtime's last normalised chunk."""
    from tqdm import tqdm

    from egoscale_ros.policy.pipeline import Observation, PolicyPipeline
    from egoscale_ros.policy.runtime import create_runtime

    options = {"onnxruntime": {"threads": threads}, "torch": {"threads": threads}}
    selection = create_runtime(manifest, backend, device, options=options, strict=True)
    pipeline = PolicyPipeline(manifest, selection.runtime)
    frame = _synthetic_frame()
    joints = {name: 0.05 for name in manifest.state.joints}
    wrists = {s: np.eye(4) for s in manifest.layout.sides}
    obs = Observation(0, [frame] * manifest.image.cameras, joints, manifest.default_instruction, wrists,
                      np.eye(4))
    for _ in range(warmup):
        pipeline.predict(obs)
    totals, stages = [], {}
    t_start = time.perf_counter()
    for _ in tqdm(range(iterations), desc=f"bench {backend}", file=sys.stderr, leave=False):
        t0 = time.perf_counter()
        prediction = pipeline.predict(obs)
        totals.append((time.perf_counter() - t0) * 1e3)
        for k, v in prediction.stages_ms.items():
            stages.setdefault(k, []).append(v)
    wall = time.perf_counter() - t_start
    p50, p99 = _percentiles(totals)
    result = {
        "backend_report": selection.report(),
        "device": selection.runtime.device,
        "latency_ms_p50": round(p50, 3),
        "latency_ms_p99": round(p99, 3),
        "latency_ms_mean": round(float(np.mean(totals)), 3),
        "chunk_rate_hz": round(iterations / wall, 1),
        "stages_ms": {k: round(float(np.median(v)), 3) for k, v in stages.items()},
        "stages_ms_p99": {k: round(float(np.percentile(v, 99)), 3) for k, v in stages.items()},
    }
    return result, selection


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


def node_measurement(manifest_path: str, robot: str, backend: str, device: str, threads: int, seconds: float,
                     rate_hz: float) -> dict:
    """Run policy_node as a process fed by synthetic camera + joint states; read its diagnostics."""
    from egoscale_ros.process_graph import private_ros_environment

    env = private_ros_environment()
    for key in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_BUILTIN_TRANSPORTS"):
        os.environ[key] = env[key]
    os.environ.pop("ROS_LOCALHOST_ONLY", None)

    import rclpy
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image, JointState
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    from egoscale_ros.graph import GraphPlan, NodeSpec
    from egoscale_ros.nodes.common import SENSOR_QOS
    from egoscale_ros.process_graph import GraphProcesses
    from egoscale_ros.robot.config import load_robot_config

    config = load_robot_config(robot)
    cameras = [c.name for c in config.cameras][:1] or ["head"]
    spec = NodeSpec("policy_node", "policy_node", {
        "robot": robot, "manifest": manifest_path, "backend": backend, "device": device, "cameras": cameras,
        "rate_hz": rate_hz, "threads": threads})
    plan = GraphPlan(config, "mock", "", (spec,))
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(env["ROS_DOMAIN_ID"]))
    node = rclpy.create_node("policy_bench_feeder", context=context)
    pub_image = node.create_publisher(Image, f"camera/{cameras[0]}/image_raw", SENSOR_QOS)
    pub_joints = node.create_publisher(JointState, "joint_states", SENSOR_QOS)
    joints = config.movable_joints()
    home = [config.home_position(j) for j in joints]
    frames = [_synthetic_frame(t=i / 30.0).tobytes() for i in range(30)]
    state = {"chunks": 0, "diag": {}, "frame": 0}

    def stamp() -> Time:
        return node.get_clock().now().to_msg()

    def send_image() -> None:
        msg = Image()
        msg.header.stamp = stamp()
        msg.header.frame_id = "camera"
        msg.height, msg.width, msg.encoding, msg.step = 480, 640, "rgb8", 640 * 3
        msg.data = frames[state["frame"] % len(frames)]
        state["frame"] += 1
        pub_image.publish(msg)

    def send_joints() -> None:
        msg = JointState()
        msg.header.stamp = stamp()
        msg.name, msg.position = joints, home
        pub_joints.publish(msg)

    def on_diag(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.endswith("policy_node"):
                state["diag"] = {kv.key: kv.value for kv in status.values}

    node.create_timer(1.0 / rate_hz, send_image)
    node.create_timer(1.0 / 200.0, send_joints)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 20)
    node.create_subscription(MultiDOFJointTrajectory, "policy/wrist_chunk",
                             lambda _m: state.__setitem__("chunks", state["chunks"] + 1), 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    graph = GraphProcesses(plan, env=env)
    graph.start()
    try:
        deadline = time.monotonic() + 120.0
        while state["chunks"] == 0 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
            if graph.dead():
                raise RuntimeError("policy_node died: " + graph.processes[0].log_tail(10))
        if state["chunks"] == 0:
            raise RuntimeError("policy_node published no chunk within 120 s: " + graph.processes[0].log_tail(10))
        # Skip the warm-up, then measure over a fresh statistics window of the node.
        warm_end = time.monotonic() + 2.0
        while time.monotonic() < warm_end:
            executor.spin_once(timeout_sec=0.05)
        first = dict(state["diag"])
        chunks_before = state["chunks"]
        t0 = time.monotonic()
        end = t0 + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        received_rate = (state["chunks"] - chunks_before) / (time.monotonic() - t0)
        # One more diagnostics message so that the figures cover the measured window.
        last_seen = state["diag"]
        wait_end = time.monotonic() + 2.5
        while state["diag"] is last_seen and time.monotonic() < wait_end:
            executor.spin_once(timeout_sec=0.05)
        diag = state["diag"]
    finally:
        graph.stop()
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)

    def num(key: str) -> float | None:
        try:
            return float(diag[key])
        except (KeyError, ValueError):
            return None

    return {
        "rate_hz": num("rate_hz"),
        "received_chunk_rate_hz": round(received_rate, 2),
        "latency_ms_p50": num("latency_ms_p50"),
        "latency_ms_p99": num("latency_ms_p99"),
        "cycle_ms_p50": num("cycle_ms_p50"),
        "cycle_ms_p99": num("cycle_ms_p99"),
        "publish_ms_p50": num("stage_ms_publish"),
        "chunk_age_ms": num("chunk_age_ms"),
        "dropped_frames": int(num("dropped_frames") or 0) - int(float(first.get("dropped_frames", 0) or 0)),
        "nan_chunks": num("nan_chunks"),
        "backend": diag.get("backend"),
    }


def run(args: argparse.Namespace) -> int:
    from egoscale_ros.policy.manifest import load_manifest
    from egoscale_ros.policy.runtime import BackendUnavailable

    manifest_path = args.manifest
    if not manifest_path:
        from egoscale_ros.policy.export import ensure_default_policy

        manifest_path = str(ensure_default_policy(preset=args.preset, robot=args.robot))
    manifest = load_manifest(manifest_path)
    try:
        bare, selection = bare_runtime(manifest, args.backend, args.device, args.threads, args.iterations,
                                       args.warmup)
    except BackendUnavailable as exc:
        print(f"bench policy: {exc}", file=sys.stderr)
        return 2
    parity_error = parity(manifest, selection)
    selection.runtime.close()
    result = {"backend": args.backend, "preset": manifest.preset or args.preset, "manifest": str(manifest.path),
              **bare, "parity_max_abs_err": parity_error, "parity_reference": "PyTorch eager on CPU, same noise",
              "iterations": args.iterations, "denoising_steps": manifest.denoising_steps}
    result["node_overhead_ratio"] = None
    if args.node_seconds > 0:
        node = node_measurement(str(manifest.path), args.robot, args.backend, args.device, args.threads,
                                args.node_seconds, args.rate_hz)
        result["node"] = node
        result["node_rate_hz"] = node["rate_hz"]
        if node["latency_ms_p50"]:
            result["node_overhead_ratio"] = round(node["latency_ms_p50"] / bare["latency_ms_p50"], 3)
            result["node_cycle_ms_p50"] = node["cycle_ms_p50"]
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
    print(f"  parity      max |{r['backend']} - PyTorch| = {r['parity_max_abs_err']:.2e}")
    node = r.get("node")
    if node:
        print(f"  in the node {node['rate_hz']} Hz, inference p50 "
              f"{node['latency_ms_p50']} ms / p99 {node['latency_ms_p99']} ms, cycle p50 {node['cycle_ms_p50']} ms, "
              f"overhead ratio {r['node_overhead_ratio']}")
