"""``egoscale-ros eval-synthetic``: the reaching policy in closed loop on the real graph, mock hardware.

The robot's whole graph runs as separate processes (the plan the launch file uses, with the
robot's native mock) with the camera drawing the reaching scene and the policy trained by
``train-synthetic`` (trained and cached on first use). One graph serves every episode, and
nothing but the camera is touched between them: an episode moves the ball (``sim/ball``) and
watches the joint states for up to :data:`~egoscale_ros.reach.task.EPISODE_S` seconds. Each reach
starts from where the previous ended (the next ball at least
:data:`~egoscale_ros.reach.evaluation.MIN_BALL_SEPARATION_M` away),
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

from egoscale_ros.reach.evaluation import episode_balls, flipped_manifest

STARTUP_TIMEOUT_S = 180.0


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
    result["node_failures"] = {p.spec.name: p.failure_report() for p in failed}
    result["log_dir"] = str(graph.log_dir)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(_readable(result))
    return 0 if "error" not in result and not failed else 1


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
