"""``egoscale-ros bench policy``: latency per stage, achievable chunk rate, parity, node overhead.

Two measurements of the same policy:

1. Bare runtime: the pipeline the node runs (preprocess a 640x480 frame, backbone, each
   denoising step, postprocess) back to back on a synthetic observation. Gives per-stage medians,
   end-to-end p50/p99 and the achievable chunk rate; then the chunk is compared with the PyTorch
   reference on identical noise (parity).
2. Inside the node: ``policy_node`` started as its own process on a private ROS domain, fed by a
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
import threading
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
    parser.add_argument("--inference-cpu", type=int, default=-2,
                        help="pin the inference thread to this CPU (bare and node alike); -1: no pinning; "
                             "default: the last CPU this process may use")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def _synthetic_frame(width: int = 640, height: int = 480, t: float = 0.0) -> np.ndarray:
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
    frame = _synthetic_frame()
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


def node_measurement(manifest_path: str, robot: str, backend: str, device: str, threads: int, seconds: float,
                     rate_hz: float, joint_rate_hz: float = 200.0, inference_cpu: int = -1) -> dict:
    """Run policy_node as a process fed by synthetic camera + joint states; read its diagnostics."""
    from egoscale_ros.process_graph import private_ros_environment

    env = private_ros_environment()
    # The feeder's participant must use the node's transports; the caller's environment comes back after.
    keys = ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_BUILTIN_TRANSPORTS", "ROS_LOCALHOST_ONLY")
    saved = {key: os.environ.get(key) for key in keys}
    for key in keys[:3]:
        os.environ[key] = env[key]
    os.environ.pop("ROS_LOCALHOST_ONLY", None)
    try:
        return _node_measurement(env, manifest_path, robot, backend, device, threads, seconds, rate_hz,
                                 joint_rate_hz, inference_cpu)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _node_measurement(env: dict, manifest_path: str, robot: str, backend: str, device: str, threads: int,
                      seconds: float, rate_hz: float, joint_rate_hz: float, inference_cpu: int) -> dict:

    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image, JointState

    from egoscale_ros.graph import GraphPlan, NodeSpec
    from egoscale_ros.nodes.common import SENSOR_QOS
    from egoscale_ros.process_graph import GraphProcesses
    from egoscale_ros.robot.config import load_robot_config

    config = load_robot_config(robot)
    cameras = [c.name for c in config.cameras][:1] or ["head"]
    spec = NodeSpec("policy_node", "policy_node", {
        "robot": robot, "manifest": manifest_path, "backend": backend, "device": device, "cameras": cameras,
        "rate_hz": rate_hz, "threads": threads, "inference_cpu": inference_cpu})
    plan = GraphPlan(config, "mock", "", (spec,))
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(env["ROS_DOMAIN_ID"]))
    node = rclpy.create_node("policy_bench_feeder", context=context)
    # Like a local camera_node should: reliable, newest frame only (see policy_node's image QoS).
    image_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE)
    pub_image = node.create_publisher(Image, f"camera/{cameras[0]}/image_raw", image_qos)
    pub_joints = node.create_publisher(JointState, "joint_states", SENSOR_QOS)
    joints = config.movable_joints()
    home = [config.home_position(j) for j in joints]
    frames = [_synthetic_frame(t=i / 30.0).tobytes() for i in range(30)]
    state: dict = {"diag": {}, "frames_sent": 0}

    def feed(stop: threading.Event) -> None:
        """Camera frames at ``rate_hz`` and joint states at 200 Hz from a plain thread (an executor
        callback per message would cost the feeder more than the node under test)."""
        period, image_period = 1.0 / joint_rate_hz, 1.0 / rate_hz
        next_t = time.monotonic()
        next_image = next_t
        joint_msg = JointState()
        joint_msg.name, joint_msg.position = joints, home
        image_msg = Image()
        image_msg.header.frame_id = "camera"
        image_msg.height, image_msg.width, image_msg.encoding, image_msg.step = 480, 640, "rgb8", 640 * 3
        while not stop.is_set():
            now = node.get_clock().now().to_msg()
            joint_msg.header.stamp = now
            pub_joints.publish(joint_msg)
            if time.monotonic() >= next_image:
                image_msg.header.stamp = now
                image_msg.data = frames[state["frames_sent"] % len(frames)]
                pub_image.publish(image_msg)
                state["frames_sent"] += 1
                next_image += image_period
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                stop.wait(delay)
            elif delay < -0.1:
                next_t = time.monotonic()

    def on_diag(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.endswith("policy_node"):
                state["diag"] = {kv.key: kv.value for kv in status.values}

    def chunks() -> int:
        try:
            return int(state["diag"].get("chunks", 0))
        except ValueError:
            return 0

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 20)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    graph = GraphProcesses(plan, env=env)
    stop = threading.Event()
    feeder = threading.Thread(target=feed, args=(stop,), daemon=True)
    graph.start()
    feeder.start()
    try:
        deadline = time.monotonic() + 120.0
        while chunks() == 0 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
            if graph.dead():
                raise RuntimeError("policy_node died: " + graph.processes[0].log_tail(10))
        if chunks() == 0:
            raise RuntimeError("policy_node published no chunk within 120 s: " + graph.processes[0].log_tail(10))
        # Skip the warm-up, then measure over the node's statistics window (its rate covers 5 s).
        warm_end = time.monotonic() + 2.0
        while time.monotonic() < warm_end:
            executor.spin_once(timeout_sec=0.1)
        first = dict(state["diag"])
        sent_before = state["frames_sent"]
        t0 = time.monotonic()
        while time.monotonic() < t0 + seconds:
            executor.spin_once(timeout_sec=0.1)
        window = time.monotonic() - t0
        received_rate = (chunks() - int(first.get("chunks", 0))) / window
        sent_rate = (state["frames_sent"] - sent_before) / window
        diag = state["diag"]
    finally:
        stop.set()
        feeder.join(2.0)
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
        "chunk_rate_hz_over_window": round(received_rate, 2),
        "frames_sent_hz": round(sent_rate, 2),
        "latency_ms_p50": num("latency_ms_p50"),
        "latency_ms_p99": num("latency_ms_p99"),
        "cycle_ms_p50": num("cycle_ms_p50"),
        "cycle_ms_p99": num("cycle_ms_p99"),
        "publish_ms_p50": num("stage_ms_publish"),
        "chunk_age_ms": num("chunk_age_ms"),
        "dropped_frames": int(num("dropped_frames") or 0) - int(float(first.get("dropped_frames", 0) or 0)),
        "nan_chunks": num("nan_chunks"),
        "backend": diag.get("backend"),
        "frames_received": num("frames_received"),
        "stage_ms": {k[len("stage_ms_"):]: float(v) for k, v in diag.items() if k.startswith("stage_ms_")},
    }


def run(args: argparse.Namespace) -> int:
    from egoscale_ros.policy.manifest import load_manifest
    from egoscale_ros.policy.runtime import BackendUnavailable

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
    if args.node_seconds > 0:
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
