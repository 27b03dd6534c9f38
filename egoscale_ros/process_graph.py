"""Start a :class:`~egoscale_ros.graph.GraphPlan` as separate OS processes and stop it cleanly.

Used by ``egoscale-ros demo``, the integration tests and the benchmarks, where the ROS 2 launch
framework may be absent. Every node gets the same environment: a private ``ROS_DOMAIN_ID``,
localhost-only discovery and Fast DDS's large-data transport for images.

A node that fails explains itself: its whole log (stdout and stderr) and how it ended (exit status,
or the signal that ended it) make its :meth:`NodeProcess.failure_report`; Python's fault handler is
on in every node, so a crash in native code leaves the Python stacks in the log, and a node that
does not exit after its SIGINT gets a SIGABRT (its stacks dumped) before the SIGKILL.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from egoscale_ros.graph import GraphPlan, NodeSpec


def private_ros_environment(domain_id: int | None = None) -> dict[str, str]:
    """Environment for a graph isolated from every other ROS graph on the network."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(domain_id if domain_id is not None else random.randint(100, 199))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"  # Jazzy and later
    env.pop("ROS_LOCALHOST_ONLY", None)  # deprecated since Jazzy; the range above replaces it
    env["FASTDDS_BUILTIN_TRANSPORTS"] = "LARGE_DATA"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # a fatal signal (or our SIGABRT to a hung node) dumps every thread's stack
    env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    return env


def _niceness(increment: int):
    if not increment:
        return None
    return lambda: os.nice(increment)


# A failure report keeps a node's whole log up to this size (then its end, marked as cut).
REPORT_LOG_CHARS = 100_000
# After the stop's timeout: SIGABRT (the fault handler dumps the stacks), then this long before SIGKILL.
ABORT_GRACE_S = 2.0


@dataclass
class NodeProcess:
    spec: NodeSpec
    process: subprocess.Popen
    log_path: Path
    stopped_by_us: bool = False
    injected: bool = False  # killed on purpose by fault injection: its exit is not a failure
    #: seconds it was given after its SIGINT when it did not exit in them (then aborted, killed)
    hung_after_s: float | None = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_text(self, max_chars: int = REPORT_LOG_CHARS) -> str:
        """The whole log (stdout and stderr), or its last ``max_chars`` marked as cut."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(log unreadable: {exc})"
        if len(text) > max_chars:
            return f"(first {len(text) - max_chars} characters left out; whole log in {self.log_path})\n" \
                   + text[-max_chars:]
        return text

    def exit_description(self) -> str:
        """How the process ended: exit status or signal, and whether it had been asked to stop."""
        rc = self.process.poll()
        if rc is None:
            return "still running"
        how = f"killed by {_signal_name(-rc)}" if rc < 0 else f"exit status {rc}"
        if self.hung_after_s is not None:
            return f"did not exit within {self.hung_after_s:g} s of its SIGINT: SIGABRT (stacks dumped), {how}"
        return f"{how} after its SIGINT" if self.stopped_by_us else f"{how} while running (not asked to stop)"

    def failure_report(self) -> str:
        """How it ended, then its whole log: what a failed run shows of a node that died."""
        log = self.log_text().rstrip("\n")
        return f"{self.spec.name} (pid {self.process.pid}): {self.exit_description()}\n" \
               f"--- log {self.log_path} ---\n{log or '(empty)'}"


def _signal_name(number: int) -> str:
    try:
        return f"{signal.Signals(number).name} ({number})"
    except ValueError:
        return f"signal {number}"


@dataclass
class GraphProcesses:
    """The running processes of one plan; use as a context manager."""

    plan: GraphPlan
    env: dict[str, str] = field(default_factory=private_ros_environment)
    log_dir: Path | None = None
    python: str = sys.executable
    #: executable -> nice increment, over the plan's (``NodeSpec.niceness``)
    niceness: dict[str, int] = field(default_factory=dict)
    processes: list[NodeProcess] = field(default_factory=list)
    #: node name -> seconds from the SIGINT of :meth:`stop` until its process had exited
    exit_s: dict[str, float] = field(default_factory=dict)

    def start(self) -> GraphProcesses:
        if self.log_dir is None:
            self.log_dir = Path(tempfile.mkdtemp(prefix="egoscale_ros_logs_"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.plan.nodes:
            log_path = self.log_dir / f"{spec.name}.log"
            self.processes.append(NodeProcess(spec, self._spawn(spec, log_path, "w"), log_path))
        return self

    def restart(self, name: str) -> NodeProcess:
        """Start node ``name`` again (its old process must have exited); the rest keeps running."""
        old = next(p for p in reversed(self.processes) if p.spec.name == name)
        if old.process.poll() is None:
            raise RuntimeError(f"{name} is still running")
        proc = self._spawn(old.spec, old.log_path, "a")  # same command, environment and priority
        new = NodeProcess(old.spec, proc, old.log_path)
        self.processes.append(new)
        return new

    def _spawn(self, spec: NodeSpec, log_path: Path, mode: str) -> subprocess.Popen:
        with open(log_path, mode) as log:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(
                spec.command(self.plan.namespace, self.python),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the terminal reaches us; we stop them in order
                preexec_fn=_niceness(self.niceness.get(spec.executable, spec.niceness)),
            )

    def dead(self) -> list[NodeProcess]:
        """Processes that exited without being asked to."""
        return [p for p in self.processes
                if p.process.poll() is not None and not p.stopped_by_us and not p.injected]

    def stop(self, timeout_s: float = 10.0) -> list[NodeProcess]:
        """SIGINT every node (rclpy shuts down cleanly on it), escalate after ``timeout_s``.

        Returns the processes that failed: died before the stop, or did not exit cleanly.
        """
        failed = self.dead()
        start = time.monotonic()
        running = []  # every one signalled, even one that exits before the first poll
        for p in self.processes:
            if p.process.poll() is None:
                p.stopped_by_us = True
                p.process.send_signal(signal.SIGINT)
                running.append(p)
        deadline = start + timeout_s
        # Poll them together, so each one's exit time is known (seconds after the SIGINT).
        while running and time.monotonic() < deadline:
            time.sleep(0.02)
            for p in [p for p in running if p.process.poll() is not None]:
                self.exit_s.setdefault(p.spec.name, round(time.monotonic() - start, 3))
                running.remove(p)
        for p in running:  # hung: let the fault handler write where, then end it
            p.hung_after_s = timeout_s
            p.process.send_signal(signal.SIGABRT)
        abort_deadline = time.monotonic() + ABORT_GRACE_S
        for p in running:
            try:
                p.process.wait(timeout=max(0.01, abort_deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.process.kill()
                p.process.wait()
            self.exit_s[p.spec.name] = round(time.monotonic() - start, 3)
            if p not in failed:
                failed.append(p)
        for p in self.processes:
            if (p.stopped_by_us and not p.injected and p.process.returncode not in (0, -signal.SIGINT)
                    and p not in failed):
                failed.append(p)
        return failed

    def __enter__(self) -> GraphProcesses:
        return self.start()

    def __exit__(self, *exc) -> None:
        if any(p.process.poll() is None for p in self.processes):
            self.stop()
