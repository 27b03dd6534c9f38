"""Runs an injection schedule against a running graph and judges the stack's answer.

The process-level faults happen here (SIGSTOP/SIGCONT of the camera or the policy, SIGKILL,
restart of one node, SIGINT to the demo itself); the message-level ones are the
``fault_injector`` node's, which starts with the graph. :func:`prepare_plan` adds that node (and
routes the mock's joint states through it when they are to be dropped or delayed);
:class:`FaultDriver` plays the schedule from the window's start; :func:`fault_report` turns what
the monitor saw into the demo's JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
from typing import Any

import numpy as np

from egoscale_ros.faults import judge
from egoscale_ros.faults.spec import DETECT_WITHIN_S, Fault

RELAYED = ("joint_states_drop", "joint_states_delay")
# The graph's nodes that publish joint_states (the mock, or the interface node's assembled view).
JOINT_STATE_PUBLISHERS = ("mock_hardware_node", "robot_interface_node")
MESSAGE_LEVEL = ("camera_garbage", "joint_states_drop", "joint_states_delay", "joint_states_foreign", "chunk_nan",
                 "chunk_future", "chunk_names_shuffled", "estop_at")


def prepare_plan(plan, faults: list[Fault]):
    """The plan with the fault injector added (nothing changes without message-level faults)."""
    from egoscale_ros.graph import NodeSpec

    if not any(f.name in MESSAGE_LEVEL for f in faults):
        return plan
    relay = any(f.name in RELAYED for f in faults)

    def relayed(spec: dict) -> dict:
        if relay and "joint_state_source" in spec["parameters"]:  # the relay is now the declared source
            return {**spec, "parameters": {**spec["parameters"], "joint_state_source": "fault_injector"}}
        return spec

    nodes = []
    for spec in plan.nodes:
        if relay and spec.executable in JOINT_STATE_PUBLISHERS:
            spec = dataclasses.replace(spec, remappings=(*spec.remappings, ("joint_states", "joint_states_raw")))
        if spec.executable == "command_container":  # its members' parameters travel as JSON
            args = list(spec.arguments)
            i = args.index("--members") + 1
            args[i] = json.dumps([relayed(m) for m in json.loads(args[i])])
            spec = dataclasses.replace(spec, arguments=tuple(args))
        else:
            spec = dataclasses.replace(spec, parameters=relayed({"parameters": spec.parameters})["parameters"])
        nodes.append(spec)
    schedule = [{"name": f.name, "arg": f.arg, "start_s": f.start_s, "duration_s": f.duration_s} for f in faults]
    robot = next((s.parameters["robot"] for s in plan.nodes if "robot" in s.parameters), plan.robot.name)
    nodes.append(NodeSpec("fault_injector", "fault_injector_node",
                          {"robot": robot, "faults": json.dumps(schedule), "relay_joint_states": relay}))
    return dataclasses.replace(plan, nodes=tuple(nodes))


def contained_by(plan) -> dict[str, list[str]]:
    """Container process name -> the names of the nodes it holds."""
    out = {}
    for spec in plan.nodes:
        if spec.executable == "command_container":
            args = list(spec.arguments)
            out[spec.name] = [m["name"] for m in json.loads(args[args.index("--members") + 1])]
    return out


def contained(plan) -> list[str]:
    return [n for members in contained_by(plan).values() for n in members]


class FaultDriver:
    """Plays the process-level faults from ``start()`` on a thread; records when each happened."""

    def __init__(self, faults: list[Fault], graph, stop_request) -> None:
        self.faults = faults
        self.graph = graph
        self.stop_request = stop_request
        self.window_wall: float | None = None
        self.times: dict[str, tuple[float, float]] = {}  # name -> (wall start, wall end)
        self.notes: dict[str, str] = {}
        self._halt = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, window_wall: float) -> None:
        self.window_wall = window_wall
        for f in self.faults:
            t = threading.Thread(target=self._play, args=(f,), name=f"fault {f.name}", daemon=True)
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        self._halt.set()
        for t in self._threads:
            t.join(timeout=5.0)
        for p in self.graph.processes:  # never leave a node stopped
            if p.process.poll() is None:
                _signal_group(p, signal.SIGCONT)

    def _wait_until(self, offset_s: float) -> bool:
        return not self._halt.wait(max(0.0, self.window_wall + offset_s - time.time()))

    def _procs(self, prefix: str):
        return [p for p in self.graph.processes if p.spec.name.startswith(prefix) and p.process.poll() is None]

    def _play(self, f: Fault) -> None:
        if not self._wait_until(f.start_s):
            return
        t0 = time.time()
        if f.name == "camera_stall":
            self._pause(self._procs("camera_"), f.duration_s)
        elif f.name == "policy_slow":
            procs = self._procs("policy_node")
            while time.time() < self.window_wall + f.end_s and not self._halt.is_set():
                self._pause(procs, float(f.arg) / 1e3)
                self._halt.wait(1.0 / 30.0)  # one cycle's worth of running between pauses
        elif f.name == "policy_kill":
            for p in self._procs("policy_node"):
                p.injected = True
                _signal_group(p, signal.SIGKILL)
        elif f.name == "node_restart":
            # A node inside the command container restarts with its process (the container).
            name = str(f.arg)
            host = next((c for c, members in contained_by(self.graph.plan).items() if name in members), name)
            for p in self._procs(host):
                p.injected = True
                _signal_group(p, signal.SIGKILL)
                p.process.wait()
                self.graph.restart(p.spec.name)
                self.notes[f.name] = f"{p.spec.name} killed and started again"
        elif f.name == "sigint_at":
            os.kill(os.getpid(), signal.SIGINT)
        else:  # message-level: the fault_injector node plays it on the same schedule
            self._wait_until(f.end_s)
        self.times[f.name] = (t0, max(time.time(), self.window_wall + f.end_s))

    def _pause(self, procs, seconds: float) -> None:
        for p in procs:
            _signal_group(p, signal.SIGSTOP)
        self._halt.wait(seconds)
        for p in procs:
            _signal_group(p, signal.SIGCONT)


def _signal_group(p, sig: int) -> None:
    """Signal a node's whole process group (each node starts its own session)."""
    try:
        os.killpg(p.process.pid, sig)
    except ProcessLookupError:
        pass


def fault_report(faults: list[Fault], driver: FaultDriver | None, monitor, plan) -> dict[str, Any]:
    """The demo JSON's fault section and its safety figures."""
    events = [judge.DiagEvent(t, name, level, msg) for t, name, level, msg in list(monitor.diag_events)]
    window = driver.window_wall if driver and driver.window_wall is not None else 0.0
    per_fault: dict[str, Any] = {}
    unreported = 0
    for f in faults:
        t0, t1 = (driver.times.get(f.name) if driver else None) or (window + f.start_s, window + f.end_s)
        detect_s, by = judge.detection(f, t0, events)
        entry: dict[str, Any] = {"injected_at_s": round(t0 - window, 3), "duration_s": round(t1 - t0, 3)}
        if f.name in judge.SIGNALS:
            entry["detect_s"] = None if detect_s is None else round(detect_s, 3)
            entry["reported_by"] = by or None
            if detect_s is None or detect_s > DETECT_WITHIN_S:
                unreported += 1
        entry["held"] = judge.held_during(t0, max(t1, t0 + 1.0), events)  # a one-off event: its aftermath
        if judge.must_recover(f):
            rec = judge.recovery(f, t1, events)
            entry["recover_s"] = None if rec is None else round(rec, 3)
        if f.name == "estop_at":
            entry["estop_hold_ticks_from_publish"] = max(
                (judge.hold_ticks(t0, [(t, q) for t, _, q in cmds]) for cmds in monitor.commands.values()), default=0)
        if driver and f.name in driver.notes:
            entry["note"] = driver.notes[f.name]
        per_fault[f.label] = entry
    holds = [e["estop_hold_ticks_from_publish"] for e in per_fault.values() if "estop_hold_ticks_from_publish" in e]
    latched = [monitor.diagnostic_value(n, "estop_moving_ticks") for n in ("wrist_ik_node", "hand_retarget_node")]
    latched = [int(float(v)) for v in latched if v is not None]
    return {
        "faults": per_fault,
        "unreported_faults": unreported,
        # Commands that still moved once a command node had the e-stop (0 = frozen at once) ...
        "estop_hold_ticks": max(latched) if holds and latched else None,
        # ... and counted here from the moment the e-stop was published (adds its delivery time).
        "estop_hold_ticks_from_publish": max(holds) if holds else None,
    }


def step_ratios(monitor, plan) -> dict[str, float | None]:
    """``max_cmd_step_ratio``: the largest |Δq| / (velocity limit in force × real time between the
    two commands), as the command nodes measured what they sent (on diagnostics), and
    ``max_cmd_step_received_ratio`` as measured here on what arrived: by the commands' own stamps
    where they carry one (JointState), else against the longest tick one command may cover
    (``max_dt``: receive times carry the transport's bursts). It catches a jump across a restarted
    node too; a command lost on the way only lowers it."""
    from egoscale_ros.robot.limits import joint_limits
    from egoscale_ros.safety.gate import DEFAULT_MAX_DT_S

    sent = []
    for node in ("wrist_ik_node", "hand_retarget_node"):
        value = monitor.diagnostic_value(node, "max_step_ratio")
        if value is not None:
            sent.append(float(value))
    received = 0.0
    stamped = getattr(monitor, "stamped_topics", set())
    for topic, cmds in list(monitor.commands.items()):
        if len(cmds) < 2:
            continue
        names = cmds[-1][1]
        velocity = joint_limits(plan.robot, list(names)).velocity
        for (ta, na, qa), (tb, nb, qb) in zip(cmds, cmds[1:]):
            if na != nb or na != names:
                continue
            span = (tb - ta) if topic in stamped else DEFAULT_MAX_DT_S
            if span > 0:
                received = max(received, float(np.max(np.abs(qb - qa) / (velocity * span))))
    return {"max_cmd_step_ratio": round(max(sent), 4) if sent else None,
            "max_cmd_step_received_ratio": round(received, 4)}


class InjectionSession:
    """What ``egoscale-ros demo`` does for faults, memory and missed ticks, in four calls."""

    def __init__(self, faults: list[Fault], plan) -> None:
        self.faults = faults
        self.plan = prepare_plan(plan, faults)
        self.driver: FaultDriver | None = None
        self.memory_start: dict[str, float] = {}
        self.memory_end: dict[str, float] = {}
        self.window_wall: tuple[float, float] | None = None  # wall time of the window's start and end

    @classmethod
    def create(cls, text: str, window_s: float, plan) -> InjectionSession:
        """Raises :class:`~egoscale_ros.faults.spec.FaultSpecError` for a bad ``--inject``."""
        from egoscale_ros.faults.spec import parse_faults

        return cls(parse_faults(text, window_s, [*(s.name for s in plan.nodes), *contained(plan)]), plan)

    def window_started(self, graph, monitor, stop_request) -> None:
        self.memory_start = _memory(graph)
        wall = time.time()
        self.window_wall = (wall, wall)
        if self.faults:
            monitor.announce_window_start(wall)
            self.driver = FaultDriver(self.faults, graph, stop_request)
            self.driver.start(wall)

    def window_ended(self, graph) -> None:
        if self.window_wall is not None:
            self.window_wall = (self.window_wall[0], time.time())
        self.memory_end = _memory(graph)

    def close(self) -> None:
        if self.driver is not None:
            self.driver.close()

    def report(self, monitor, window_s: float, counts: dict[str, int], published: dict[str, int]) -> dict[str, Any]:
        from egoscale_ros.process_memory import growth

        out: dict[str, Any] = {}
        if self.faults:
            out.update(fault_report(self.faults, self.driver, monitor, self.plan))
        out.update(step_ratios(monitor, self.plan))
        out["rss_mib_start"] = self.memory_start
        out["rss_mib_end"] = self.memory_end
        out["rss_growth_percent"] = growth(self.memory_start, self.memory_end)
        out.update(missed_ticks(self.plan, monitor, self.window_wall, window_s, counts, published))
        return out


COMMAND_NODES = ("wrist_ik_node", "hand_retarget_node")


def missed_ticks(plan, monitor, window_wall: tuple[float, float] | None, window_s: float,
                 counts: dict[str, int], published: dict[str, int]) -> dict[str, Any]:
    """Per command output, the share of its ticks that never went out, and the share that went
    out but did not reach this process.

    ``missed_ticks_percent`` is counted where the commands are made: the command node's count of
    what it published on each ``command/joints/*`` topic (one per control tick), and the interface
    node's count of what it sent on each maker's topic (at the output's rate), both between two of
    their own diagnostics reports and over the time their own stamps say lies between them.
    ``missed_ticks_received_percent`` counts what this process received over its window: it adds
    the transport's losses and the monitor's own (a busy computer starves it first).
    """
    robot = plan.robot
    missed: dict[str, float | None] = {}
    received: dict[str, float | None] = {}

    def share(n: int, expected: float) -> float | None:
        return round(100.0 * max(0.0, expected - n) / expected, 3) if expected > 0 else None

    for c in robot.controllers:
        outputs = {c.ros_topic: (COMMAND_NODES, f"published {c.ros_topic}", robot.control_rate_hz)}
        if c.topic != c.ros_topic:
            outputs[c.topic] = (("robot_interface_node",), f"sent {c.topic}",
                                getattr(c, "rate_hz", None) or robot.control_rate_hz)
        for topic, (nodes, key, rate) in outputs.items():
            best = (0, 0.0)
            if window_wall is not None:
                for node in nodes:
                    n, span = monitor.counter_between(node, key, *window_wall)
                    if span > best[1]:
                        best = (n, span)
            missed[topic] = share(best[0], best[1] * rate) if best[1] > 0 else None
            received[topic] = share(counts.get(topic, published.get(topic, 0)), window_s * rate)
    return {"missed_ticks_percent": missed, "missed_ticks_received_percent": received}


def _memory(graph) -> dict[str, float]:
    from egoscale_ros.process_memory import memory_by_node

    live = {p.spec.name: p.process.pid for p in graph.processes if p.process.poll() is None}
    return memory_by_node(live)
