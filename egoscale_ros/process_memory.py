"""Resident memory of a node's process tree, from ``/proc`` (Linux), for the demo's soak figures.

A node's process tree, not its first pid: the ROS wheels start each Python process once more to
set the library path, so the interpreter that grows is a child.
"""

from __future__ import annotations

from collections.abc import Mapping

from egoscale_ros.process_cpu import PROC, read_all, tree_pids


def rss_kib(pid: int) -> int | None:
    """VmRSS of one process in KiB (None: gone or unreadable)."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return 0  # a zombie or kernel thread has no VmRSS line


def tree_rss_mib(pid: int, stats: Mapping | None = None) -> float | None:
    """Resident MiB of ``pid`` and its live descendants (None: not there, or no /proc).
    ``stats``: one :func:`read_all` scan to reuse for several trees."""
    if not PROC.is_dir():
        return None
    pids = tree_pids(read_all() if stats is None else stats, pid)
    if not pids:
        return None
    return round(sum(rss_kib(p) or 0 for p in pids) / 1024.0, 1)


def memory_by_node(pids: Mapping[str, int]) -> dict[str, float]:
    """Name -> resident MiB of its process tree (names whose process is gone are left out)."""
    if not PROC.is_dir():
        return {}
    stats = read_all()  # one scan of /proc for all of them
    out = {}
    for name, pid in pids.items():
        mib = tree_rss_mib(pid, stats)
        if mib is not None:
            out[name] = mib
    return out


def growth(start: Mapping[str, float], end: Mapping[str, float]) -> dict[str, float]:
    """Percent growth per name present at both ends."""
    return {n: round(100.0 * (end[n] - start[n]) / start[n], 2) for n in start if n in end and start[n] > 0}
