"""``egoscale-ros demo``: run the whole graph on mock hardware for N seconds and summarise it.

Every node runs as its own process on a private ROS domain (the same plan the launch file uses),
with the embedded defaults: the synthetic camera and the reference policy, exported to ONNX on
first use and cached. An in-process monitor counts what reaches the topics in a measurement
window that starts once commands flow. Exit status 1 when a node died or no command reached a
controller topic.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

from egoscale_ros.fixed_decimals import fixed

STARTUP_TIMEOUT_S = 120.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", default="g1_dex3", help="robot config name or YAML path")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the measurement window")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--policy", default="", help="policy manifest (default: the reference policy)")
    parser.add_argument("--backend", default="", help="force a policy backend (onnxruntime, torch, tensorrt)")
    parser.add_argument("--camera", default="", help="frame source spec for every camera (default: config)")
    parser.add_argument("--urdf", default="", help="override the robot config's URDF")
    parser.add_argument("--startup-timeout", type=float, default=STARTUP_TIMEOUT_S)
    parser.add_argument("--log-dir", default="", help="keep the nodes' logs here")
    parser.add_argument("--record", default="", metavar="RUN.mcap",
                        help="record the whole run into this ROS 2 MCAP file (see `egoscale-ros report`)")
    parser.add_argument("--viz", action="store_true", help="serve the graph live to Foxglove while it runs")
    parser.add_argument("--viz-port", type=int, default=8765, help="port of the live view")
    parser.add_argument("--inject", default="", metavar="FAULT[:ARG],…",
                        help="faults to inject into the window (egoscale_ros.faults.spec lists them)")
    parser.add_argument("--cpu-hogs", type=int, default=0, help="busy processes to run beside the graph")
    parser.add_argument("--container", action=argparse.BooleanOptionalAction, default=True,
                        help="run the command-path stages in one process (command_container; the default, "
                             "off with --inject: faults reroute and restart single nodes)")
    from egoscale_ros.remote import scenario

    scenario.add_arguments(parser)


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, file=sys.stderr, flush=True)


def _to_float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def run(args: argparse.Namespace) -> int:
    from egoscale_ros.cpu_hogs import CpuHogs
    from egoscale_ros.faults.driver import InjectionSession
    from egoscale_ros.faults.spec import FaultSpecError
    from egoscale_ros.graph import plan_graph
    from egoscale_ros.interrupt import StopRequest
    from egoscale_ros.process_cpu import CpuMeter, load_average
    from egoscale_ros.process_graph import GraphProcesses, private_ros_environment

    if args.record and os.path.exists(args.record):
        print(f"egoscale-ros demo: {args.record} exists; record into a new file (recordings are never "
              "overwritten)", file=sys.stderr)
        return 2

    quiet = False
    if not (args.seconds > 0 and math.isfinite(args.seconds)):
        print(f"egoscale-ros demo: --seconds must be a positive number of seconds, got {args.seconds}",
              file=sys.stderr)
        return 2
    manifest = args.policy
    if not manifest:
        from egoscale_ros.policy.export import ensure_default_policy

        _say(quiet, "preparing the reference policy (exported to ONNX once, then cached)…")
        manifest = str(ensure_default_policy(preset="tiny", robot=args.robot))
    server = None
    if getattr(args, "policy_server", ""):  # the reference policy behind a mock GR00T/openpi server
        from egoscale_ros.remote.scenario import ServerScenario

        server = ServerScenario(args, say=lambda text: _say(quiet, text))
        manifest = server.setup(args.robot, manifest)
    env = private_ros_environment()
    # The robot's own DDS side (Unitree) stays on a private domain over loopback, multicast off,
    # with a discovery tag no other run shares.
    from egoscale_ros.interfaces.settings import private_tag

    native_domain = 200 + int(env["ROS_DOMAIN_ID"]) % 30
    plan = plan_graph(robot=args.robot, hardware="mock", policy=manifest, camera=args.camera,
                      backend=args.backend, urdf=args.urdf, record=args.record,
                      native_domain=native_domain, native_loopback=True, native_tag=private_tag(),
                      viz=args.viz, viz_port=args.viz_port,
                      container=args.container and not args.inject)
    try:  # faults to inject (and the soak's memory and missed-tick figures): egoscale_ros.faults
        injection = InjectionSession.create(args.inject, args.seconds, plan)
    except FaultSpecError as exc:
        print(f"egoscale-ros demo: {exc}", file=sys.stderr)
        return 2
    plan = injection.plan
    # The in-process monitor joins the graph with the same discovery and transport settings.
    for key in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_BUILTIN_TRANSPORTS"):
        os.environ[key] = env[key]
    from egoscale_ros.nodes.graph_monitor import BackgroundMonitor

    background = BackgroundMonitor(plan.robot, domain_id=int(env["ROS_DOMAIN_ID"]), name="demo_monitor")
    monitor = background.monitor

    # On a small machine the stand-ins compete with the graph under test: the mock hardware (a
    # robot's controllers run on their own computer) and this process's monitor yield the CPU.
    graph = GraphProcesses(plan, env=env, log_dir=_log_dir(args))  # the plan's priorities
    names = ", ".join(s.name for s in plan.nodes)
    _say(quiet, f"starting {len(plan.nodes)} nodes on ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}: {names}")
    hogs = CpuHogs(args.cpu_hogs)
    stop = StopRequest().install()  # Ctrl-C / SIGTERM: stop the nodes in order, still report
    started = time.monotonic()
    graph.start()
    os.nice(10)
    result: dict[str, Any]
    cpu: dict[str, float] = {}
    try:
        startup_s = _wait_for_commands(monitor, graph, plan, args.startup_timeout, stop)
        if startup_s is not None and not stop.requested:
            hogs.start()
            _say(quiet, f"commands flowing after {startup_s:.1f} s; measuring for {args.seconds:g} s"
                        + (f" beside {args.cpu_hogs} busy process(es)" if args.cpu_hogs else "") + "…")
            meter = CpuMeter({p.spec.name: p.process.pid for p in graph.processes})
            monitor.reset_window()
            injection.window_started(graph, monitor, stop)
            meter.start()
            if server is not None:
                server.begin(monitor)
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline and not graph.dead() and not stop.sleep(0.05):
                if server is not None:
                    server.step()
            if stop.requested:  # the nodes first: an operator's Ctrl-C must not wait for the report
                stopping = time.monotonic()
                failed = graph.stop()
            else:
                cpu = meter.stop()
                injection.window_ended(graph)
                monitor.end_window()
        if stop.requested and not graph.exit_s:
            stopping = time.monotonic()
            failed = graph.stop()
        injection.close()
        snapshot = monitor.snapshot()
        result = _summarise(plan, monitor, snapshot, startup_s, time.monotonic() - started)
        result.update(injection.report(monitor, result["seconds"], snapshot["counts"], result["commands_published"]))
        result.update(_cpu_figures(cpu, args.cpu_hogs, load_average()))
        if server is not None:
            result.update(server.summary(monitor, plan))
    finally:
        hogs.stop()
        if server is not None:
            server.close()
        injection.close()
        if not graph.exit_s:
            stopping = time.monotonic()
            failed = graph.stop()
        background.close()
        stop.restore()
    from egoscale_ros.interfaces.figures import native_reports

    result.update(native_reports(graph.processes))  # the mocks' final word, hand-back included
    result["interrupted"] = stop.signal_name or None
    # From the stop request (or the window's end) until every node process has exited.
    result["stop_s"] = round(time.monotonic() - (stop.at if stop.at is not None else stopping), 2)
    # Per node: seconds from its SIGINT until its process had exited (robot_interface_node first
    # hands the robot back as the maker requires, e.g. Unitree's arm_sdk blend ramped out).
    result["node_exit_s"] = dict(graph.exit_s)
    result["nodes_stopped_within_s"] = max(graph.exit_s.values(), default=None)
    result["node_failures"] = len(failed)
    # Each failed node's exit (status or signal) and its whole log: the failure explains itself.
    result["failed_nodes"] = {p.spec.name: p.failure_report() for p in failed}
    result["log_dir"] = str(graph.log_dir)
    if args.record:
        result["recording"] = os.path.abspath(args.record)
    commands = sum(result["commands_published"].values())
    ok = not failed and (commands > 0 or stop.requested)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(_readable(result))
    if not ok:
        _say(quiet, "demo FAILED: " + ("nodes died: " + ", ".join(result["failed_nodes"]) if failed
                                        else "no command reached a controller topic"))
        for report in result["failed_nodes"].values():
            _say(quiet, report)
    if stop.requested:
        # Every node has exited and the report is out; the interpreter's teardown of native
        # libraries (DDS, ONNX Runtime, Torch) would add seconds to an operator's Ctrl-C.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0 if ok else 1)
    return 0 if ok else 1


def _log_dir(args: argparse.Namespace):
    from pathlib import Path

    return Path(args.log_dir) if args.log_dir else None


# Not on the command path: the policy and the cameras feeding it.
_NOT_COMMAND_PATH = ("policy_node", "camera")


def _cpu_figures(cpu: dict[str, float], hogs: int, load: tuple[float, float, float] | None) -> dict[str, Any]:
    """Per-node CPU (% of one core over the window), its sum, and the command path's share."""
    command_path = [n for n in cpu if not n.startswith(_NOT_COMMAND_PATH)]
    return {
        "cpu_percent_by_node": cpu,
        "cpu_percent_total": round(sum(cpu.values()), 1),
        "cpu_percent_command_path": round(sum(cpu[n] for n in command_path), 1),
        "cpu_hogs": hogs,
        "load_average": [round(v, 2) for v in load] if load else None,
    }


def _wait_for_commands(monitor, graph, plan, timeout_s: float, stop) -> float | None:
    """Seconds until every controller topic has received a command (None on timeout, death or stop)."""
    start = time.monotonic()
    topics = [c.ros_topic for c in plan.robot.controllers]
    while time.monotonic() - start < timeout_s:
        if graph.dead() or stop.requested:
            return None
        counts = monitor.snapshot()["counts"]
        if all(counts.get(t, 0) > 0 for t in topics) and counts.get("policy/wrist_chunk", 0) > 0:
            return time.monotonic() - start
        stop.sleep(0.2)
    return None


def _summarise(plan, monitor, snap: dict[str, Any], startup_s: float | None, wall_s: float) -> dict[str, Any]:
    elapsed = max(snap["elapsed_s"], 1e-9) if startup_s is not None else 0.0
    counts = snap["counts"]

    def rate(key: str) -> float:
        return round(counts.get(key, 0) / elapsed, 2) if elapsed else 0.0

    robot = plan.robot
    inference_p50 = _to_float(monitor.diagnostic_value("policy_node", "latency_ms_p50", "inference_ms_p50"))
    inference_p99 = _to_float(monitor.diagnostic_value("policy_node", "latency_ms_p99", "inference_ms_p99"))
    smoother_ticks, smoother_rate = monitor.counter_rate("chunk_smoother_node", "ticks")
    ik_failures = _to_float(monitor.diagnostic_value("wrist_ik_node", "ik_failures", "failures"))
    from egoscale_ros.interfaces.figures import command_counts, native_figures

    published, command_rate = command_counts(plan, monitor, counts, elapsed)
    return {
        "robot": robot.name,
        "seconds": round(elapsed, 2),
        "startup_s": round(startup_s, 2) if startup_s is not None else None,
        "chunk_rate_hz": rate("policy/wrist_chunk"),
        "hand_chunk_rate_hz": rate("policy/hand_chunk"),
        "inference_ms_p50": _round(inference_p50),
        "inference_ms_p99": _round(inference_p99),
        "chunk_age_ms_p50": _round(snap["chunk_age_ms_p50"]),
        "chunk_age_ms_p99": _round(snap["chunk_age_ms_p99"]),
        "policy_backend": monitor.diagnostic_value("policy_node", "backend"),
        "smoother_ticks": smoother_ticks,
        "smoother_rate_hz": round(smoother_rate, 2),
        "commands_published": published,
        "command_rate_hz": command_rate,
        # Each controller output against the smoother's ticks: below 1, a stage is missing ticks
        # (an adapter sending at its own configured rate shows that rate's ratio).
        "command_rate_vs_ticks": {t: round(r / smoother_rate, 3) if smoother_rate else None
                                  for t, r in command_rate.items()},
        **native_figures(plan, monitor),
        "ik_failures": int(ik_failures) if ik_failures is not None else None,
        "nan_count": snap["nan_count"],  # in commands
        "nan_in_chunks": snap["nan_in_chunks"],
        "limit_violations": sum(snap["limit_violations"].values()),
        "limit_violations_by_joint": snap["limit_violations"],
        "arm_motion_rad": round(monitor.joint_motion(robot.arm_joints), 4),
        "hand_motion_rad": round(monitor.joint_motion(robot.hand_joints), 4),
        "wall_s": round(wall_s, 2),
        "diagnostics": {n: monitor.node_diagnostics(n) for n in ("policy_node", "chunk_smoother_node",
                                                                  "wrist_ik_node", "hand_retarget_node",
                                                                  "robot_interface_node")},
        # Why the recording stopped before the run ended (size or duration limit, disk full); None if it did not.
        "recording_stopped": monitor.node_diagnostics("recorder_node").get("stopped") or None,
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    return round(float(value), digits) if value is not None else None


_f = fixed  # a figure with fixed decimals (``n/a`` when the run did not produce it)


def _readable(r: dict[str, Any]) -> str:
    lines = [
        f"egoscale_ros demo — {r['robot']} on mock hardware, {_f(r['seconds'])} s measured "
        f"(graph up after {_f(r['startup_s'])} s)",
        f"  policy      {_f(r['chunk_rate_hz'])} chunks/s, inference p50 {_f(r['inference_ms_p50'])} ms / p99 "
        f"{_f(r['inference_ms_p99'])} ms ({r['policy_backend']}), chunk age p50 {_f(r['chunk_age_ms_p50'])} ms",
        f"  smoother    {r['smoother_ticks']} ticks ({_f(r['smoother_rate_hz'])} Hz)",
    ]
    for topic, n in r["commands_published"].items():
        lines.append(f"  controller  {topic}: {n} commands ({_f(r['command_rate_hz'][topic])} Hz)")
    if "native_errors" in r or r.get("feedback_rate_hz"):
        rates = ", ".join(f"{t} {_f(v)} Hz" for t, v in (r.get("feedback_rate_hz") or {}).items())
        lines.append(f"  robot side  native errors {r.get('native_errors')}; feedback {rates or 'n/a'}")
    if r.get("cpu_percent_by_node"):
        per_node = ", ".join(f"{n} {_f(float(v))}" for n, v in r["cpu_percent_by_node"].items())
        load = ", ".join(_f(float(v), 2) for v in r["load_average"]) if r.get("load_average") else "n/a"
        lines.append(f"  cpu %       {per_node}; total {_f(float(r['cpu_percent_total']))}, command path "
                     f"{_f(float(r['cpu_percent_command_path']))} (load average {load}, {r['cpu_hogs']} hogs)")
    lines += [
        f"  motion      arms moved up to {_f(r['arm_motion_rad'], 3)} rad, hands {_f(r['hand_motion_rad'], 3)} rad",
        f"  health      ik failures {r['ik_failures']}, NaN {r['nan_count']}, limit violations "
        f"{r['limit_violations']}, node failures {r['node_failures']}",
        f"  logs        {r['log_dir']}",
    ]
    if r.get("recording"):
        lines.append(f"  recording   {r['recording']} (egoscale-ros report / replay)"
                     + (f"; STOPPED EARLY: {r['recording_stopped']}" if r.get("recording_stopped") else ""))
    return "\n".join(lines)
