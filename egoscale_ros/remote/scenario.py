"""``egoscale-ros demo --policy-server gr00t|openpi``: the graph as a client of a mock policy server.

:class:`ServerScenario` prepares the remote manifest (GR00T: checkpoint metadata written and
imported exactly as ``import-policy`` does; openpi: the reference openpi mapping), runs the mock
server as its own process (:mod:`egoscale_ros.remote.mock_server`), applies the fault timeline
(latency, kill at T, restart after S) and reads the figures off the monitor's traces:

- ``policy_round_trip_ms_p50/p99`` from the policy node's diagnostics;
- ``wrist_second_diff_rms_mm``: RMS of the second difference of the per-tick wrist targets (the
  smoother's output) over the times they were sampled at, in millimetres per nominal tick: the
  smoothness of the path once set off (after the window's first second, :data:`SETTLE_S`),
  compared across injected latencies. ``wrist_second_diff_per_tick_rms_mm``
  is the same taken tick by tick as if every tick came on time: it adds the timer's lateness (a
  tick 5 ms late samples the path 5 ms further on), which follows the computer's load, not the path;
- ``hold_after_kill_s``: from the kill until the arm commands last changed (they are constant or
  absent afterwards), ``reported_after_kill_s``: until the policy node's diagnostics said the
  server is not answering; ``resumed_after_restart_s`` and the largest per-command joint step
  after the restart beside the largest before the kill (``arm_step_rad_*``): no jump on resume.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

STILL_RAD = 1e-4  # a command that moves no joint by more than this counts as holding
#: The smoothness figures leave out the window's first second: the arm sets off from rest as the
#: first chunks come and the client's in-flight window opens, a start the same at any latency and
#: larger than the steady path's roughness that latency could change.
SETTLE_S = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy-server", choices=("gr00t", "openpi"), default="",
                        help="run the policy behind a mock GR00T or openpi server (the reference policy)")
    parser.add_argument("--server-latency-ms", type=float, default=0.0, help="latency the mock server adds to each reply (a network's: other connections are not held up)")
    parser.add_argument("--kill-server-at", type=float, default=0.0, metavar="T",
                        help="kill the server T s into the measurement window (0 = never)")
    parser.add_argument("--restart-server-after", type=float, default=0.0, metavar="S",
                        help="start it again S s after the kill (0 = never)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def remote_manifest(robot: str, protocol: str, folder: Path, port: int, timeout_s: float = 0.5) -> Path:
    """Write the remote manifest for the reference policy behind a ``protocol`` server."""
    import json

    from egoscale_ros.remote import importer, reference
    from egoscale_ros.robot.config import load_robot_config

    config = load_robot_config(robot)
    if protocol == "gr00t":
        checkpoint = folder / "gr00t_checkpoint"
        checkpoint.mkdir(parents=True, exist_ok=True)
        for name, content in reference.gr00t_checkpoint_files(config).items():
            (checkpoint / name).write_text(json.dumps(content))
        tag, configs, stats, _ = importer.read_checkpoint(checkpoint)
        spec = importer.spec_from_gr00t(configs, config, stats, tag)
    else:
        spec = reference.openpi_spec(config)
    data = importer.manifest_data(spec, config, f"reference@{protocol}", "127.0.0.1", port, timeout_s)
    return importer.write_manifest(data, folder / f"{protocol}_manifest.yaml")


class ServerProcess:
    """The mock server as a child process that can be killed (SIGKILL, a crash) and restarted."""

    def __init__(self, protocol: str, manifest: Path, policy: str, port: int, log: Path, extra: list[str] = ()):
        self.protocol, self.port, self.log = protocol, port, log
        self.command = [sys.executable, "-m", "egoscale_ros.remote.mock_server", "--protocol", protocol,
                        "--manifest", str(manifest), "--policy", policy, "--port", str(port), *extra]
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "a") as out:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def ready(self) -> bool:
        try:
            if self.protocol == "openpi":
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1.0)
                conn.request("GET", "/healthz")
                return conn.getresponse().status == 200
            from egoscale_ros.remote.codec import gr00t_packb, gr00t_unpackb
            from egoscale_ros.remote.transport import TransportError, ZmqTransport

            transport = ZmqTransport("127.0.0.1", self.port, 1.0)
            try:
                # Any reply means it is up (one that wants a token answers the ping with an error).
                return isinstance(gr00t_unpackb(transport.request(gr00t_packb({"endpoint": "ping"}))), dict)
            except TransportError:
                return False
            finally:
                transport.close()
        except OSError:
            return False

    def wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            if self.ready():
                return True
            time.sleep(0.2)
        return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


# ------------------------------------------------------------------------------ figures


def second_difference_rms(trace: list[tuple[float, np.ndarray]], by_time: bool = True) -> float | None:
    """RMS (mm) of the second difference of consecutive wrist targets ``(time, positions)``.

    ``by_time``: the second derivative over the samples' own times, scaled by the median spacing
    squared, so evenly spaced samples give exactly ``x[k+1] - 2 x[k] + x[k-1]`` and unevenly spaced
    samples of a smooth path stay small. Otherwise that plain difference, tick by tick.
    """
    shapes = {x.shape for _, x in trace}
    if len(trace) < 3 or len(shapes) != 1:
        return None
    x = np.stack([x for _, x in trace])
    d2 = x[2:] - 2 * x[1:-1] + x[:-2]
    if by_time:
        t = np.array([t for t, _ in trace], dtype=float)
        gaps = np.diff(t)
        if np.any(gaps <= 0):
            return None  # not a time series: two samples of one instant, or out of order
        shape = (-1,) + (1,) * (x.ndim - 1)
        slopes = np.diff(x, axis=0) / gaps.reshape(shape)
        accel = 2.0 * np.diff(slopes, axis=0) / (t[2:] - t[:-2]).reshape(shape)
        d2 = accel * float(np.median(gaps)) ** 2
    return float(np.sqrt(np.mean(np.sum(d2.reshape(len(d2), -1) ** 2, axis=-1))) * 1e3)


def _steps(trace: list[tuple[float, np.ndarray]]) -> list[tuple[float, float]]:
    return [(t1, float(np.max(np.abs(q1 - q0)))) for (_, q0), (t1, q1) in zip(trace, trace[1:]) if q0.shape == q1.shape]


def hold_after(trace, since: float, until: float) -> float | None:
    """Seconds from ``since`` until the commands last moved before ``until`` (0: never moved again)."""
    moves = [t for t, step in _steps(trace) if since <= t < until and step > STILL_RAD]
    return round(max(moves) - since, 3) if moves else 0.0


def resumed_after(trace, since: float) -> float | None:
    moves = [t for t, step in _steps(trace) if t >= since and step > STILL_RAD]
    return round(min(moves) - since, 3) if moves else None


def max_step(trace, start: float, end: float) -> float | None:
    steps = [step for t, step in _steps(trace) if start <= t < end]
    return round(max(steps), 5) if steps else None


def reported_after(history: list[tuple[float, dict[str, str]]], since: float) -> float | None:
    for t, values in history:
        if t >= since and str(values.get("server_answering", "")).lower() in ("false", "0"):
            return round(t - since, 3)
    return None


class ServerScenario:
    """Set up by the demo before the graph starts; ``step`` is called through the window."""

    def __init__(self, args: argparse.Namespace, say=print):
        self.args = args
        self.say = say
        self.protocol = args.policy_server
        self.folder = Path(tempfile.mkdtemp(prefix=f"egoscale_ros_{self.protocol}_"))
        self.port = free_port()
        self.server: ServerProcess | None = None
        self.window_start: float | None = None
        self.killed_at: float | None = None
        self.restarted_at: float | None = None

    def setup(self, robot: str, policy: str) -> str:
        """Start the server for the reference ``policy``; returns the remote manifest for the graph."""
        manifest = remote_manifest(robot, self.protocol, self.folder, self.port)
        extra = ["--latency-ms", str(self.args.server_latency_ms)] if self.args.server_latency_ms else []
        self.server = ServerProcess(self.protocol, manifest, policy, self.port, self.folder / "server.log", extra)
        self.server.start()
        if not self.server.wait_ready(120.0):
            self.server.stop()
            raise RuntimeError(f"the mock {self.protocol} server did not come up (log: {self.server.log})")
        self.say(f"mock {self.protocol} policy server on port {self.port} "
                 f"(latency {self.args.server_latency_ms:g} ms; log {self.server.log})")
        return str(manifest)

    def begin(self, monitor) -> None:
        self.window_start = time.monotonic()
        monitor.start_tracing()  # smoothness and hold figures come from the traces

    def step(self) -> None:
        now = time.monotonic()
        if self.window_start is None or self.server is None:
            return
        if self.args.kill_server_at > 0 and self.killed_at is None and now - self.window_start >= self.args.kill_server_at:
            self.server.kill()
            self.killed_at = time.monotonic()
            self.say(f"killed the policy server at {now - self.window_start:.1f} s")
        if (self.killed_at is not None and self.restarted_at is None and self.args.restart_server_after > 0
                and now - self.killed_at >= self.args.restart_server_after):
            self.server.start()
            self.restarted_at = time.monotonic()
            self.say(f"restarted the policy server at {now - self.window_start:.1f} s")

    def summary(self, monitor, plan) -> dict[str, Any]:
        def num(key: str):
            value = monitor.diagnostic_value("policy_node", key)
            try:
                return round(float(value), 2) if value is not None else None
            except ValueError:
                return None

        commands, wrists = monitor.traces()
        arm_joints = set(plan.robot.arm_joints)
        arm_topics = [c.ros_topic for c in plan.robot.controllers if arm_joints & set(c.joints)]
        arm = commands.get(arm_topics[0], []) if arm_topics else []
        out: dict[str, Any] = {
            "policy_server": self.protocol,
            "server_latency_ms": self.args.server_latency_ms,
            "policy_round_trip_ms_p50": num("round_trip_ms_p50"),
            "policy_round_trip_ms_p99": num("round_trip_ms_p99"),
            "server_timeouts": num("server_timeout"),
            "server_reconnects": num("server_reconnects"),
            "server_window": num("server_window"),  # requests in flight allowed at the end
            "server_window_shrinks": num("server_window_shrinks"),
            "server_replies_superseded": num("server_replies_superseded"),
            "wrist_second_diff_rms_mm": None,
            "wrist_second_diff_per_tick_rms_mm": None,
        }
        end = self.killed_at or float("inf")
        settled = (self.window_start or 0.0) + SETTLE_S
        sampled = [(stamp, x) for arrival, x, stamp in wrists if settled <= arrival < end]
        out["wrist_second_diff_rms_mm"] = _round(second_difference_rms(sampled), 4)
        out["wrist_second_diff_per_tick_rms_mm"] = _round(second_difference_rms(sampled, by_time=False), 4)
        if self.killed_at is not None:
            until = self.restarted_at or float("inf")
            history = monitor.diagnostic_history("policy_node")
            out.update({
                "hold_after_kill_s": hold_after(arm, self.killed_at, until),
                "reported_after_kill_s": reported_after(history, self.killed_at),
                "arm_step_rad_before_kill": max_step(arm, self.window_start or 0.0, self.killed_at),
            })
        if self.restarted_at is not None:
            resumed = resumed_after(arm, self.restarted_at)
            out["resumed_after_restart_s"] = resumed
            if resumed is not None:
                t0 = self.restarted_at + resumed
                out["arm_step_rad_after_restart"] = max_step(arm, t0 - 0.05, t0 + 1.0)
        return out

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def _round(value: float | None, digits: int = 3) -> float | None:
    return round(value, digits) if value is not None else None
