"""``egoscale-ros bench remote``: what a policy server's protocol adds to each inference.

Runs the reference policy three ways in one process and one run, interleaved request by
request so machine load hits all alike: locally (the ONNX pipeline), and as a client of the
mock GR00T and openpi servers (separate processes serving the same policy over loopback).
Prints JSON: per way the latency p50/p99 and the chunk rate one request in flight allows, and
the remote/local ratios - the figures that transfer to another machine.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", default="g1_dex3")
    parser.add_argument("--n", type=int, default=100, help="requests per way")
    parser.add_argument("--protocols", default="gr00t,openpi")


def _figures(ms: list[float]) -> dict:
    a = np.asarray(ms)
    p50 = float(np.percentile(a, 50))
    return {"ms_p50": round(p50, 2), "ms_p99": round(float(np.percentile(a, 99)), 2),
            "rate_hz_one_in_flight": round(1e3 / p50, 1)}


def run(args: argparse.Namespace) -> int:
    from egoscale_ros.policy.export import ensure_default_policy
    from egoscale_ros.policy.manifest import load_manifest
    from egoscale_ros.policy.pipeline import Observation, PolicyPipeline
    from egoscale_ros.policy.runtime import create_runtime
    from egoscale_ros.remote.client import RemotePolicy
    from egoscale_ros.remote.scenario import ServerProcess, free_port, remote_manifest
    from egoscale_ros.robot.config import load_robot_config
    from egoscale_ros.robot.kinematics import RobotKinematics

    config = load_robot_config(args.robot)
    policy = str(ensure_default_policy(preset="tiny", robot=args.robot))
    local = PolicyPipeline(load_manifest(policy), create_runtime(load_manifest(policy), "onnxruntime", "cpu",
                                                                 options={"onnxruntime": {"threads": 1}}).runtime)
    kin = RobotKinematics(config)
    q = {j: 0.05 for j in config.movable_joints()}
    cam = config.cameras[0]
    image = np.random.default_rng(0).integers(0, 255, (cam.height, cam.width, 3), dtype=np.uint8)
    obs = Observation(1, [image], q, "pick up the cube", {s: kin.wrist_pose(s, q) for s in config.arms})
    folder = Path(tempfile.mkdtemp(prefix="egoscale_ros_bench_remote_"))
    servers, clients = [], {}
    try:
        for protocol in [p for p in args.protocols.split(",") if p]:
            port = free_port()
            manifest = remote_manifest(args.robot, protocol, folder, port, timeout_s=5.0)
            server = ServerProcess(protocol, manifest, policy, port, folder / f"{protocol}.log")
            server.start()
            servers.append(server)
            if not server.wait_ready(180.0):
                raise RuntimeError(f"mock {protocol} server did not start (log {server.log})")
            m = load_manifest(manifest)
            backend = m.backend_order[0]
            clients[protocol] = RemotePolicy(m.remote, backend, m.backends[backend], list(m.remote.video.values()))
        times: dict[str, list[float]] = {"local": [], **{p: [] for p in clients}}
        for i in range(args.n + 5):
            for way in times:
                t0 = time.perf_counter()
                if way == "local":
                    local.predict(obs)
                else:
                    clients[way].predict(obs)
                if i >= 5:  # warm-up
                    times[way].append((time.perf_counter() - t0) * 1e3)
        load = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
        result = {"robot": args.robot, "n": args.n, "load_average": load}
        for way, ms in times.items():
            result[way] = _figures(ms)
        for p in clients:
            result[f"{p}_over_local_p50"] = round(result[p]["ms_p50"] / result["local"]["ms_p50"], 2)
        print(json.dumps(result, indent=2))
    finally:
        for c in clients.values():
            c.close()
        for s in servers:
            s.stop()
    return 0
