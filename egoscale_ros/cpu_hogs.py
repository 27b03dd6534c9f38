"""Busy processes beside a graph under test: how the graph holds up when the machine is loaded.

Each hog is a separate process spinning on arithmetic at normal priority, so it competes with
the nodes for a core as another program on a robot's computer would. No rclpy import.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass, field

# A tight loop that never allocates, sleeps or prints; it exits on SIGTERM/SIGINT, and on its own
# when the process that started it is gone (a killed demo or test must not leave hogs spinning).
_SPIN = ("import os\nparent = os.getppid()\nx = 0\nn = 0\nwhile True:\n"
         "    x = (x * 1103515245 + 12345) & 0xFFFFFFFF\n    n += 1\n"
         "    if n % 200000 == 0 and os.getppid() != parent:\n        break\n")


@dataclass
class CpuHogs:
    """``count`` busy processes; use as a context manager (they stop on exit)."""

    count: int
    python: str = sys.executable
    processes: list[subprocess.Popen] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"cpu hogs: count must be >= 0 (got {self.count})")

    def start(self) -> CpuHogs:
        for _ in range(self.count):
            self.processes.append(subprocess.Popen([self.python, "-c", _SPIN], stdin=subprocess.DEVNULL,
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return self

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.processes.clear()

    def __enter__(self) -> CpuHogs:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
