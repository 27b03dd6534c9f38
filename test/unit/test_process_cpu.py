"""CPU per process tree from /proc: parsing, tree sums, and a real busy child counted to its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from egoscale_ros.cpu_hogs import CpuHogs
from egoscale_ros.process_cpu import CpuMeter, ProcStat, parse_stat, read_all, tree_cpu_s

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="no /proc on this system")


def _stat_line(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int, cstime: int) -> str:
    fields = ["S", str(ppid)] + ["0"] * 9 + [str(utime), str(stime), str(cutime), str(cstime)] + ["20", "0"]
    return f"{pid} ({comm}) " + " ".join(fields)


def test_stat_fields_are_counted_from_the_last_parenthesis_of_the_command_name():
    line = _stat_line(42, "py (x) y)", 7, 100, 50, 20, 10)
    assert parse_stat(line, ticks_per_s=100.0) == ProcStat(42, 7, 1.8)


def test_a_tree_sums_the_root_and_every_live_descendant_but_no_other_process():
    stats = {
        1: ProcStat(1, 0, 100.0),
        10: ProcStat(10, 1, 1.0),
        11: ProcStat(11, 10, 2.0),
        12: ProcStat(12, 11, 0.5),
        20: ProcStat(20, 1, 7.0),
    }
    assert tree_cpu_s(stats, 10) == pytest.approx(3.5)
    assert tree_cpu_s(stats, 12) == pytest.approx(0.5)
    assert tree_cpu_s(stats, 99) is None


@needs_proc
def test_the_stat_of_this_process_parses():
    me = read_all()[os.getpid()]
    assert me.ppid == os.getppid() and me.cpu_s > 0


@needs_proc
def test_a_busy_grandchild_is_counted_to_the_process_that_started_it():
    # The parent only waits; all CPU in its tree comes from the spinning child it started.
    parent = subprocess.Popen([sys.executable, "-c",
                               "import subprocess, sys; from egoscale_ros.cpu_hogs import _SPIN; "
                               "subprocess.run([sys.executable, '-c', _SPIN])"], start_new_session=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        time.sleep(1.0)  # both past their start-up
        meter = CpuMeter({"busy": parent.pid, "idle": sleeper.pid})
        meter.start()
        time.sleep(1.0)
        percent = meter.stop()
    finally:
        for p in (parent, sleeper):
            os.killpg(p.pid, signal.SIGKILL)  # the spinning grandchild too
            p.wait()
    # Even on a loaded machine the spinning child gets a share; the sleeper gets none.
    assert percent["busy"] > 2.0
    assert percent["idle"] < 1.0
    assert percent["busy"] > 10 * percent["idle"]


@needs_proc
def test_hogs_run_until_stopped_and_refuse_a_negative_count():
    with pytest.raises(ValueError, match="count"):
        CpuHogs(-1)
    with CpuHogs(1) as hogs:
        assert len(hogs.pids) == 1 and hogs.processes[0].poll() is None
        process = hogs.processes[0]
    assert process.poll() is not None and not hogs.processes


def test_a_hog_whose_parent_dies_stops_by_itself():
    from egoscale_ros.cpu_hogs import _SPIN

    parent = subprocess.Popen([sys.executable, "-c",
                               "import subprocess, sys, time; "
                               f"p = subprocess.Popen([sys.executable, '-c', {_SPIN!r}]); print(p.pid, flush=True); "
                               "time.sleep(0.5)"], stdout=subprocess.PIPE, text=True)
    hog = int(parent.stdout.readline())
    parent.wait()
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        try:
            os.kill(hog, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(hog, signal.SIGKILL)
        raise AssertionError("the orphaned hog kept spinning")
