"""The ROS side of ``egoscale-ros bench policy``: policy_node measured as a running process.

The bench starts policy_node on a private ROS domain, feeds it synthetic camera frames and joint
states from a plain thread, and reads its rate and latency from its own diagnostics, so the
node's overhead over the bare runtime is measured where it arises. The command runs the core's
bare-runtime bench and hands it :func:`node_measurement`, so the core never imports ROS.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

from egoscale_ros.policy import bench
from egoscale_ros.policy.bench import synthetic_frame as _synthetic_frame

add_arguments = bench.add_arguments


def run(args: argparse.Namespace) -> int:
    """``egoscale-ros bench policy``: the bare runtime, then the node measured here."""
    return bench.run(args, node_measurement)


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
    from egoscale_ros.nodes.wiring.qos import SENSOR_QOS
    from egoscale_ros.process_graph import GraphProcesses
    from egoscale_ros.robot.config import load_robot_config

    config = load_robot_config(robot)
    cameras = [c.name for c in config.cameras][:1] or ["head"]
    spec = NodeSpec("policy_node", "policy_node", {
        "robot": robot, "manifest": manifest_path, "backend": backend, "device": device, "cameras": cameras,
        "rate_hz": rate_hz, "threads": threads, "inference_cpu": inference_cpu})
    plan = GraphPlan(config, "", (spec,))
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
