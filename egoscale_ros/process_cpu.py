"""CPU time of processes, from the operating system, for a per-node CPU budget.

A node's cost is the CPU time (user + system) of its process and every process below it, over a
window, divided by the window's wall time: 100 % is one core busy. Descendants matter because a
process may run its node in a child (the ROS 2 wheels re-execute Python once at start to set the
library path); children already reaped count through the parent's ``cutime``/``cstime``.

Reads ``/proc`` (Linux). Where it is absent, :func:`process_tree_cpu_s` returns None and the
meter reports nothing rather than a wrong figure. No rclpy import.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` this module needs, in seconds."""

    pid: int
    ppid: int
    cpu_s: float  #: utime + stime + cutime + cstime: itself and its reaped children


def parse_stat(text: str, ticks_per_s: float) -> ProcStat:
    """Parse one ``/proc/<pid>/stat`` line. The command name (field 2) may hold spaces and
    parentheses, so the fields are counted from its closing parenthesis."""
    head, _, tail = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    rest = tail.split()
    # rest[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
    ppid = int(rest[1])
    ticks = sum(int(v) for v in rest[11:15])
    return ProcStat(pid, ppid, ticks / ticks_per_s)


def _ticks_per_s() -> float:
    return float(os.sysconf("SC_CLK_TCK"))


def read_all(proc: Path = PROC) -> dict[int, ProcStat]:
    """Every readable process on the machine (those that exit meanwhile are skipped)."""
    ticks = _ticks_per_s()
    out = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            out[int(entry.name)] = parse_stat((entry / "stat").read_text(), ticks)
        except (OSError, ValueError, IndexError):
            continue
    return out


def tree_pids(stats: Mapping[int, ProcStat], root: int) -> list[int]:
    """``root`` and all its live descendants in ``stats`` (empty: root not there)."""
    if root not in stats:
        return []
    children: dict[int, list[int]] = {}
    for s in stats.values():
        children.setdefault(s.ppid, []).append(s.pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def tree_cpu_s(stats: Mapping[int, ProcStat], root: int) -> float | None:
    """CPU seconds of ``root`` and all its live descendants in ``stats`` (None: root not there)."""
    pids = tree_pids(stats, root)
    return sum(stats[pid].cpu_s for pid in pids) if pids else None


def process_tree_cpu_s(pid: int) -> float | None:
    """CPU seconds so far of ``pid`` and its descendants; None where /proc cannot tell."""
    if not PROC.is_dir():
        return None
    return tree_cpu_s(read_all(), pid)


@dataclass
class CpuMeter:
    """CPU per named process tree over a window: ``start()``, let it run, ``stop()``.

    ``pids`` maps a name (a node) to the root pid of its process tree.
    """

    pids: Mapping[str, int]
    _start_cpu: dict[str, float] = field(default_factory=dict)
    _start_wall: float = 0.0
    _percent: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self._start_wall = time.monotonic()
        stats = read_all() if PROC.is_dir() else {}
        self._start_cpu = {n: c for n, pid in self.pids.items() if (c := tree_cpu_s(stats, pid)) is not None}
        self._percent = {}

    def stop(self) -> dict[str, float]:
        """Per name: CPU time / wall time in % of one core since ``start()`` (names whose process
        was gone at either end are left out)."""
        wall = time.monotonic() - self._start_wall
        stats = read_all() if PROC.is_dir() else {}
        out = {}
        for name, pid in self.pids.items():
            end = tree_cpu_s(stats, pid)
            if end is None or name not in self._start_cpu or wall <= 0:
                continue
            out[name] = round(100.0 * (end - self._start_cpu[name]) / wall, 1)
        self._percent = out
        return out

    @property
    def percent(self) -> dict[str, float]:
        return dict(self._percent)


def load_average() -> tuple[float, float, float] | None:
    """The 1, 5 and 15 minute load averages (None where the OS does not tell)."""
    try:
        return os.getloadavg()
    except OSError:
        return None
