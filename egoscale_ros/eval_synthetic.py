"""``egoscale-ros eval-synthetic``: the reaching policy in closed loop on the real graph, mock hardware.

The robot's whole graph runs as separate processes (the plan the launch file uses, with the
robot's native mock) with the camera drawing the reaching scene and the policy trained by
``train-synthetic`` (trained and cached on first use). One graph serves every episode, and
nothing but the camera is touched between them: an episode moves the ball (``sim/ball``) and
watches the joint states for up to :data:`~egoscale_ros.reach.task.EPISODE_S` seconds. Each reach
starts from where the previous ended (the next ball at least :data:`MIN_BALL_SEPARATION_M` away),
so no reset has to get past the mock's own safety checks; an unscored warm-up reach first lets the
robot's side take over the arms (the G1's arm_sdk blend weight ramps in over 2 s).

Two deliberate faults show that the evaluation catches what it exists to catch:
``--blank-image`` (the camera shows a uniform grey frame) and ``--flip-frame`` (the policy's
relative wrist steps decoded in the wrong frame: a copy of the manifest naming another frame).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STARTUP_TIMEOUT_S = 180.0
MIN_BALL_SEPARATION_M = 0.08
# The wrong frame --flip-frame reads relative steps in: for a wrist- or base-frame policy the camera
# frame (a robot's head camera looks down and sideways: its axes are 130-170 degrees from the
# wrist's and the base's), for a camera-frame policy the wrist frame. A smaller error, such as wrist
# read as base (about 80 degrees on these robots), still converges in closed loop, only slower:
# --flip-to picks it explicitly.
FLIPPED_FRAME = {"wrist": "camera", "base": "camera", "camera": "wrist"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", default="g1_dex3", help="robot config name or YAML path")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--policy", default="", help="policy manifest (default: the cached train-synthetic policy)")
    parser.add_argument("--preset", default="tiny", help="train-synthetic preset when no --policy is given")
    parser.add_argument("--seed", type=int, default=1000, help="seed of the ball positions (training uses others)")
    parser.add_argument("--blank-image", action="store_true", help="the camera shows a uniform grey frame")
    parser.add_argument("--flip-frame", action="store_true",
                        help="decode the relative wrist steps in the wrong frame (wrist/base <-> camera)")
    parser.add_argument("--flip-to", choices=("wrist", "base", "camera"), default=None,
                        help="with --flip-frame: the wrong frame to read the steps in")
    parser.add_argument("--warmup", type=float, default=4.0,
                        help="seconds of an unscored first reach while the robot's side takes over")
    parser.add_argument("--startup-timeout", type=float, default=STARTUP_TIMEOUT_S)
    parser.add_argument("--log-dir", default="", help="keep the nodes' logs here")


def flipped_manifest(manifest_path: str | os.PathLike, out_dir: str | os.PathLike, frame: str | None = None) -> Path:
    """A copy of the manifest whose relative wrist steps are read in the wrong frame.

    Model files are referenced by absolute path, so the copy can live anywhere.
    """
    from egoscale_ros.policy.layout import ActionLayout
    from egoscale_ros.policy.manifest import ActionSpec, load_manifest

    manifest = load_manifest(manifest_path)
    layout = manifest.layout
    if layout.representation != "relative":
        raise ValueError(f"{manifest.path}: --flip-frame needs relative wrist actions, not {layout.representation}")
    frame = frame or FLIPPED_FRAME[layout.frame]
    if frame == layout.frame:
        raise ValueError(f"{manifest.path}: the policy's steps are already in the {frame} frame; flip to another")
    flipped = ActionLayout(horizon=layout.horizon, dt=layout.dt, rotation=layout.rotation,
                           representation=layout.representation, frame=frame,
                           hand_joints=layout.hand_joints)
    manifest.action = ActionSpec(flipped, manifest.action.mean, manifest.action.std)
    manifest.backends = {name: {k: (str(manifest.folder / v) if isinstance(v, str) and v.endswith((".onnx", ".pt"))
                                    else v) for k, v in entry.items()}
                         for name, entry in manifest.backends.items()}
    manifest.name = f"{manifest.name} (frame flipped: {layout.frame} read as {flipped.frame})"
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    manifest.path = Path(out_dir) / "manifest.yaml"
    return manifest.save()


def run(args: argparse.Namespace) -> int:
    from egoscale_ros.graph import plan_graph
    from egoscale_ros.process_graph import GraphProcesses, private_ros_environment
    from egoscale_ros.reach.task import INSTRUCTION, ReachTask

    if args.episodes < 1:
        raise SystemExit("eval-synthetic: --episodes must be >= 1")
    manifest = args.policy
    if not manifest:
        from egoscale_ros.reach.training import ensure_reach_policy

        print("preparing the reaching policy (trained once, then cached)...", file=sys.stderr, flush=True)
        manifest = str(ensure_reach_policy(args.robot, args.preset)[0])
    tmp = tempfile.TemporaryDirectory(prefix="egoscale_reach_")
    if args.flip_frame:
        manifest = str(flipped_manifest(manifest, tmp.name, args.flip_to))
    camera = "reach:blank" if args.blank_image else "reach"
    env = private_ros_environment()
    # The robot's own DDS side (Unitree) on a private domain over loopback, multicast off, as in the demo.
    plan = plan_graph(robot=args.robot, hardware="mock", policy=manifest, camera=camera, instruction=INSTRUCTION,
                      native_domain=200 + int(env["ROS_DOMAIN_ID"]) % 30, native_loopback=True)
    task = ReachTask(plan.robot)
    warmup_ball, *balls = episode_balls(task, args.episodes + 1, np.random.default_rng(args.seed))

    for key in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_BUILTIN_TRANSPORTS"):
        os.environ[key] = env[key]
    from egoscale_ros.nodes.reach_driver import BackgroundDriver

    background = BackgroundDriver(plan.robot, domain_id=int(env["ROS_DOMAIN_ID"]))
    driver = background.driver
    graph = GraphProcesses(plan, env=env, log_dir=Path(args.log_dir) if args.log_dir else None,
                           niceness={"mock_hardware_node": 5, "mock_unitree_node": 5, "mock_ros_robot_node": 5})
    started = time.monotonic()
    graph.start()
    result: dict = {"robot": plan.robot.name, "policy": manifest, "camera": camera,
                    "flip_frame": (args.flip_to or "default") if args.flip_frame else False, "blank_image": bool(args.blank_image)}
    try:
        startup = _wait_for_graph(driver, graph, args.startup_timeout)
        result["startup_s"] = None if startup is None else round(startup, 1)
        if startup is None:
            raise RuntimeError("the graph did not come up (no chunks or joint states)")
        driver.set_ball(warmup_ball)
        time.sleep(max(0.0, args.warmup))
        result["warmup_s"] = args.warmup
        episodes = [_episode(i, ball, task, driver, graph) for i, ball in enumerate(balls)]
        from egoscale_ros.reach.scoring import summarise

        result.update(summarise(episodes))
        result["episode_results"] = [e.to_dict() for e in episodes]
    except RuntimeError as exc:
        result["error"] = str(exc)
    finally:
        failed = graph.stop()
        background.close()
        tmp.cleanup()
    result["wall_s"] = round(time.monotonic() - started, 1)
    result["node_failures"] = {p.spec.name: p.log_tail(15) for p in failed}
    result["log_dir"] = str(graph.log_dir)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(_readable(result))
    return 0 if "error" not in result and not failed else 1


def episode_balls(task, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` ball positions, each at least :data:`MIN_BALL_SEPARATION_M` from the one before
    (where the wrist waits), the first that far from the wrist's home."""
    pool = task.sample_balls(8 * n, rng)
    previous = task.home_wrist[task.side][:3, 3]
    out = []
    for ball in pool:
        if np.linalg.norm(ball - previous) >= MIN_BALL_SEPARATION_M:
            out.append(ball)
            previous = ball
        if len(out) == n:
            return np.array(out)
    raise RuntimeError(f"could not draw {n} balls {MIN_BALL_SEPARATION_M} m apart in turn")


def _wait_for_graph(driver, graph, timeout_s: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if graph.dead():
            return None
        if driver.chunk_count() > 0 and driver.joint_positions() is not None:
            return time.monotonic() - start
        time.sleep(0.2)
    return None


def _episode(index: int, ball: np.ndarray, task, driver, graph):
    from egoscale_ros.reach.scoring import EpisodeScorer

    driver.set_ball(ball)
    scorer = EpisodeScorer(task, ball)
    start, chunks = time.monotonic(), driver.chunk_count()
    while not graph.dead():
        q = driver.joint_positions()
        if q is not None and scorer.observe(time.monotonic() - start, q):
            break
        time.sleep(0.05)
    if graph.dead():
        raise RuntimeError(f"nodes died during episode {index}: {', '.join(p.spec.name for p in graph.dead())}")
    return scorer.result(index, driver.chunk_count() - chunks)


def _readable(r: dict) -> str:
    if "error" in r:
        return f"eval-synthetic {r['robot']}: FAILED: {r['error']} (logs: {r['log_dir']})"
    return (f"eval-synthetic {r['robot']} ({r['camera']}{', frame flipped' if r['flip_frame'] else ''}): "
            f"success {r['successes']}/{r['episodes']} ({r['success_rate']:.0%}), time to success median "
            f"{r['time_to_success_s_median']} s, chunks {r['chunk_rate_hz']} Hz; load {r['load_average']}")
