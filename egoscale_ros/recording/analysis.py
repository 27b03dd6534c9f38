"""A run's figures, computed from its recording: what the policy predicted, what was executed,
what the robot did, how late, how often, how safely and at what CPU cost.

Pure numpy on decoded messages (:mod:`.reader`); the plots and the summary of
``egoscale-ros report`` are drawn from the :class:`RunData` built here, and its tests compare
these figures with the recording read by an independent reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from egoscale_ros.recording.native import native_topics, read_native
from egoscale_ros.recording.reader import Recording

CHUNKS = "policy/wrist_chunk"
HAND_CHUNKS = "policy/hand_chunk"
WRIST_TARGETS = "command/wrist_targets"
JOINT_STATES = "joint_states"
DIAGNOSTICS = "/diagnostics"
ESTOP = "safety/estop"
SIDES_OF_WRIST = {"left_wrist": "left", "right_wrist": "right"}
PERCENTILES = (50, 90, 99)
NATIVE = "maker's native"  # how a report names the maker's own messages


def stamp_ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


@dataclass
class WristChunks:
    """Every recorded wrist chunk: arrival, observation stamp, action times and positions."""

    log_ns: np.ndarray  # (N,)
    stamp_ns: np.ndarray  # (N,)
    offsets_s: list[np.ndarray]  # per chunk (H,)
    positions: dict[str, list[np.ndarray]]  # side -> per chunk (H, 3)


@dataclass
class Series:
    """Samples of named values over time (NaN where a sample lacks a name)."""

    t_ns: np.ndarray
    names: list[str]
    values: np.ndarray  # (T, len(names))

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]


@dataclass
class DiagnosticSample:
    log_ns: int
    level: int
    message: str
    values: dict[str, str]


@dataclass
class RunData:
    recording: Recording
    chunks: WristChunks
    wrist_targets: dict[str, tuple[np.ndarray, np.ndarray]]  # side -> (t_ns, (T, 3))
    joint_states: Series
    commands: dict[str, Series]  # controller topic -> commanded positions
    diagnostics: dict[str, list[DiagnosticSample]]  # status name -> samples
    estop: tuple[np.ndarray, np.ndarray]  # (t_ns, engaged 0/1)
    log_times: dict[str, np.ndarray] = field(default_factory=dict)  # topic -> arrival times
    #: what the joint tracking compares: the maker's native commands and feedback where the
    #: recording has them (what reached the robot, what it measured), else the ROS commands
    #: against joint_states
    tracked_commands: dict[str, Series] = field(default_factory=dict)
    measured: Series | None = None
    tracking_source: str = "ROS commands vs joint_states"


def _wrist_chunks(rec: Recording) -> WristChunks:
    log, stamps, offsets = [], [], []
    positions: dict[str, list[np.ndarray]] = {}
    for t, msg in rec.decode(CHUNKS):
        sides = [SIDES_OF_WRIST.get(n, n) for n in msg.joint_names]
        if not msg.points:
            continue
        log.append(t)
        stamps.append(stamp_ns(msg.header.stamp))
        offsets.append(np.array([p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points]))
        for i, side in enumerate(sides):
            xyz = np.array([[p.transforms[i].translation.x, p.transforms[i].translation.y,
                             p.transforms[i].translation.z] for p in msg.points])
            positions.setdefault(side, []).append(xyz)
    return WristChunks(np.array(log, np.int64), np.array(stamps, np.int64), offsets, positions)


def _wrist_targets(rec: Recording) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out: dict[str, tuple[list, list]] = {}
    for _t, msg in rec.decode(WRIST_TARGETS):
        if not msg.points:
            continue
        stamp = stamp_ns(msg.header.stamp)
        for i, name in enumerate(msg.joint_names):
            tr = msg.points[0].transforms[i].translation
            times, xyz = out.setdefault(SIDES_OF_WRIST.get(name, name), ([], []))
            times.append(stamp)
            xyz.append((tr.x, tr.y, tr.z))
    return {s: (np.array(t, np.int64), np.array(x, float).reshape(-1, 3)) for s, (t, x) in out.items()}


def _series(samples: list[tuple[int, dict[str, float]]]) -> Series:
    names: list[str] = []
    index: dict[str, int] = {}
    for _, values in samples:
        for n in values:
            if n not in index:
                index[n] = len(names)
                names.append(n)
    arr = np.full((len(samples), len(names)), np.nan)
    for row, (_, values) in enumerate(samples):
        for n, v in values.items():
            arr[row, index[n]] = v
    return Series(np.array([t for t, _ in samples], np.int64), names, arr)


def _joint_states(rec: Recording) -> Series:
    samples = []
    for t, msg in rec.decode(JOINT_STATES):
        if len(msg.name) == len(msg.position):
            stamp = stamp_ns(msg.header.stamp) or t
            samples.append((stamp, dict(zip(msg.name, (float(p) for p in msg.position)))))
    return _series(samples)


def decode_command(msg: Any, joints: tuple[str, ...]) -> dict[str, float]:
    """Joint positions of a controller command (JointState, Float64MultiArray or JointTrajectory)."""
    if hasattr(msg, "data") and hasattr(msg, "layout"):  # Float64MultiArray
        return dict(zip(joints, (float(v) for v in msg.data))) if len(msg.data) == len(joints) else {}
    if hasattr(msg, "position"):  # JointState
        return dict(zip(msg.name, (float(v) for v in msg.position)))
    if hasattr(msg, "points") and msg.points:  # JointTrajectory
        return dict(zip(msg.joint_names, (float(v) for v in msg.points[0].positions)))
    return {}


def command_topic(output) -> str:
    """The ROS topic carrying a controller output's commands: the output's own topic, or for a
    maker's interface (sent natively by robot_interface_node) its internal ``command/joints/<name>``."""
    return getattr(output, "ros_topic", output.topic)


def _commands(rec: Recording, controllers) -> dict[str, Series]:
    out = {}
    for ctl in controllers:
        topic = command_topic(ctl)
        samples = [(t, decode_command(msg, tuple(ctl.joints))) for t, msg in rec.decode(topic)]
        if samples:
            out[topic] = _series(samples)
    return out


def _diagnostics(rec: Recording) -> dict[str, list[DiagnosticSample]]:
    out: dict[str, list[DiagnosticSample]] = {}
    for t, msg in rec.decode(DIAGNOSTICS):
        for status in msg.status:
            level = status.level
            level = level[0] if isinstance(level, (bytes, bytearray)) else int(level)
            name = status.name.rsplit("/", 1)[-1] or status.name
            out.setdefault(name, []).append(
                DiagnosticSample(t, level, status.message, {kv.key: kv.value for kv in status.values}))
    return out


def load_run(rec: Recording, config) -> RunData:
    """Decode what the report needs; ``config`` (a RobotConfig) names the controller topics."""
    estop = rec.decode(ESTOP)
    log_times = {}
    for name in (CHUNKS, HAND_CHUNKS, WRIST_TARGETS, JOINT_STATES, *[command_topic(c) for c in config.controllers],
                 *[t.lstrip("/") for t in native_topics(config)]):
        if rec.topic(name):
            log_times[name] = np.array(rec.log_times(name), np.int64)
    run = RunData(
        recording=rec,
        chunks=_wrist_chunks(rec),
        wrist_targets=_wrist_targets(rec),
        joint_states=_joint_states(rec),
        commands=_commands(rec, config.controllers),
        diagnostics=_diagnostics(rec),
        estop=(np.array([t for t, _ in estop], np.int64), np.array([bool(m.data) for _, m in estop], float)),
        log_times=log_times,
    )
    run.tracked_commands, run.measured = run.commands, run.joint_states
    native_commands, native_feedback = read_native(rec, config)
    if any(native_commands.values()) and any(native_feedback.values()):
        run.tracked_commands = {t: _series(s) for t, s in native_commands.items() if s}
        run.measured = _series(sorted((x for s in native_feedback.values() for x in s), key=lambda x: x[0]))
        run.tracking_source = (f"{NATIVE} commands {', '.join(run.tracked_commands)} vs feedback "
                               f"{', '.join(t for t, s in native_feedback.items() if s)}")
    return run


# --- figures -----------------------------------------------------------------------------------

def percentiles(values: np.ndarray) -> dict[str, float | None]:
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {f"p{p}": None for p in PERCENTILES} | {"n": 0}
    return {f"p{p}": round(float(np.percentile(values, p)), 2) for p in PERCENTILES} | {"n": int(values.size)}


def capture_to_chunk_ms(run: RunData) -> np.ndarray:
    """Per chunk: its arrival at the recorder minus its observation (image capture) stamp."""
    return (run.chunks.log_ns - run.chunks.stamp_ns) * 1e-6


def chunk_to_command_ms(run: RunData, topic: str) -> np.ndarray:
    """Per chunk: the first command on ``topic`` that arrived after it, minus its arrival."""
    commands = np.sort(run.log_times.get(topic, np.zeros(0, np.int64)))
    chunks = run.chunks.log_ns
    if commands.size == 0 or chunks.size == 0:
        return np.zeros(0)
    idx = np.searchsorted(commands, chunks, side="left")
    ok = idx < commands.size
    return (commands[idx[ok]] - chunks[ok]) * 1e-6


def tracking(run: RunData, joints: list[str], lower: np.ndarray, upper: np.ndarray) -> dict[str, Any]:
    """Command vs measured position of ``joints``: RMS and max error, commands beyond the limits."""
    js = run.measured if run.measured is not None else run.joint_states
    errors, beyond, count = [], 0, 0
    for series in (run.tracked_commands or run.commands).values():
        for j, name in enumerate(joints):
            if name not in series.names or name not in js.names:
                continue
            cmd = series.column(name)
            ok = np.isfinite(cmd)
            column = js.column(name)
            seen = np.isfinite(column)  # feedback merged from several sources: each row has some joints
            if not ok.any() or seen.sum() < 2:
                continue
            measured = np.interp(series.t_ns[ok], js.t_ns[seen], column[seen])
            errors.append(cmd[ok] - measured)
            beyond += int(np.sum((cmd[ok] < lower[j] - 1e-9) | (cmd[ok] > upper[j] + 1e-9)))
            count += int(ok.sum())
    if not errors:
        return {"commands": 0, "rms_error_rad": None, "max_error_rad": None, "beyond_limits": 0}
    err = np.concatenate(errors)
    return {"commands": count, "rms_error_rad": round(float(np.sqrt(np.mean(err**2))), 4),
            "max_error_rad": round(float(np.max(np.abs(err))), 4), "beyond_limits": beyond}


def safety_events(run: RunData) -> dict[str, Any]:
    """Per command node: diagnostics samples holding, with the e-stop engaged; e-stop presses."""
    nodes = {}
    for name, samples in run.diagnostics.items():
        if not samples or "holding" not in samples[-1].values:
            continue
        holding = [s for s in samples if s.values.get("holding", "no") != "no"]
        estop = [s for s in samples if s.values.get("estop", "False") == "True"]
        reasons = sorted({r for s in holding for r in s.values["holding"].split(",") if r})
        nodes[name] = {"samples": len(samples), "holding": len(holding), "estop": len(estop), "reasons": reasons}
    presses = int(np.sum(np.diff(np.concatenate([[0.0], run.estop[1]])) > 0)) if run.estop[1].size else 0
    return {"by_node": nodes, "estop_presses": presses}


def problems(run: RunData) -> list[dict[str, Any]]:
    """Every distinct non-OK diagnostic (node, level, message): how often and when first seen."""
    found: dict[tuple[str, int, str], dict[str, Any]] = {}
    for name, samples in run.diagnostics.items():
        for s in samples:
            if s.level == 0:
                continue
            entry = found.setdefault((name, s.level, s.message), {
                "node": name, "level": {1: "WARN", 2: "ERROR", 3: "STALE"}.get(s.level, str(s.level)),
                "message": s.message, "count": 0,
                "first_s": round((s.log_ns - run.recording.start_ns) * 1e-9, 2)})
            entry["count"] += 1
    return sorted(found.values(), key=lambda e: (e["first_s"], e["node"]))


def cpu_by_node(run: RunData) -> dict[str, float]:
    """Mean of each node's reported ``cpu_percent`` (% of one core), where nodes report it."""
    out = {}
    for name, samples in run.diagnostics.items():
        values = [float(s.values["cpu_percent"]) for s in samples if "cpu_percent" in s.values]
        if len(values) > 1:
            out[name] = round(float(np.mean(values[1:])), 1)  # the first covers start-up
    return out


def rate_hz(run: RunData, name: str) -> float | None:
    times = run.log_times.get(name)
    if times is None or times.size < 2:
        return None
    return round((times.size - 1) / ((times[-1] - times[0]) * 1e-9), 2)
