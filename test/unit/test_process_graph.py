"""Graph processes: how ``GraphProcesses`` starts, restarts and stops the plan's node processes.

The node command is run with a stand-in interpreter (a shell script that only sleeps), so these
specifications look at the process the graph makes, not at ROS; a stand-in that runs a few lines
of Python shows what the graph reports of a node that died, crashed or hung.
"""

from __future__ import annotations

import os
import stat
import sys
import textwrap
import time
from pathlib import Path

import pytest

from egoscale_ros.graph import GraphPlan, NodeSpec
from egoscale_ros.process_graph import GraphProcesses, private_ros_environment


def _sleeper(folder: Path) -> str:
    script = folder / "python"
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def _nice(pid: int) -> int:
    # Field 19 of /proc/<pid>/stat; the command name before it may hold spaces, so count from ")".
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads niceness from /proc (Linux)")
def test_a_restarted_node_keeps_the_priority_the_plan_gave_it(tmp_path):
    mock = NodeSpec(name="mock_unitree_node", executable="mock_unitree_node")
    assert mock.niceness > 0  # the stand-in hardware yields the CPU to the graph under test
    plan = GraphPlan(robot=None, namespace="", nodes=(mock,))
    graph = GraphProcesses(plan, env=dict(os.environ), log_dir=tmp_path / "logs", python=_sleeper(tmp_path))
    expected = min(19, os.nice(0) + mock.niceness)  # niceness stops at 19 however nice the runner is
    with graph:
        first = graph.processes[0].process
        assert _nice(first.pid) == expected
        first.kill()
        first.wait()
        again = graph.restart("mock_unitree_node").process
        assert _nice(again.pid) == expected


def _python_node(folder: Path, code: str) -> str:
    """A stand-in interpreter that runs ``code`` with this Python, whatever node it is asked for."""
    (folder / "node.py").write_text(code)
    script = folder / "python"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {folder / 'node.py'}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def _graph(tmp_path: Path, code: str) -> GraphProcesses:
    plan = GraphPlan(robot=None, namespace="", nodes=(NodeSpec(name="robot_interface_node",
                                                               executable="robot_interface_node"),))
    # The graph's own environment: what every node of a demo or test run gets.
    return GraphProcesses(plan, env=private_ros_environment(), log_dir=tmp_path / "logs",
                          python=_python_node(tmp_path, code))


def _wait_dead(graph: GraphProcesses) -> list:
    graph.processes[0].process.wait(timeout=60)
    return graph.dead()


def test_a_node_that_dies_is_reported_with_its_exit_status_and_its_whole_log(tmp_path):
    code = textwrap.dedent("""
        import sys
        for i in range(40):
            print(f"start-up line {i}")
        print("the reason it stops", file=sys.stderr)
        sys.exit(3)
    """)
    with _graph(tmp_path, code) as graph:
        [node] = _wait_dead(graph)
        report = node.failure_report()
    assert "exit status 3 while running (not asked to stop)" in report
    assert "start-up line 0\n" in report and "start-up line 39\n" in report  # not only the last lines
    assert "the reason it stops" in report  # stderr too


def test_a_node_that_crashes_in_native_code_leaves_its_python_stack_in_the_log(tmp_path):
    code = textwrap.dedent("""
        import ctypes
        def read_from_nowhere():
            ctypes.string_at(0)
        read_from_nowhere()
    """)
    with _graph(tmp_path, code) as graph:
        [node] = _wait_dead(graph)
        report = node.failure_report()
    assert "killed by SIGSEGV" in report
    assert "read_from_nowhere" in report  # the fault handler's stack, from the graph's environment


def test_a_node_that_hangs_after_its_sigint_is_aborted_with_its_stacks_dumped(tmp_path):
    code = textwrap.dedent("""
        import signal, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        def stuck_in_close():
            while True:
                time.sleep(0.05)
        print("up", flush=True)
        stuck_in_close()
    """)
    graph = _graph(tmp_path, code).start()
    while "up" not in graph.processes[0].log_text():  # its SIGINT handler is in place
        time.sleep(0.05)
    [node] = graph.stop(timeout_s=0.5)
    report = node.failure_report()
    assert "did not exit within 0.5 s of its SIGINT" in report and "SIGABRT" in report
    assert "stuck_in_close" in report


def test_every_stopped_node_has_an_exit_time_even_one_that_exits_at_once(tmp_path):
    # Python's own SIGINT handler, set explicitly: a child of a job started in the background
    # inherits SIGINT ignored (rclpy's nodes install their own handler either way).
    code = "import signal, time\nsignal.signal(signal.SIGINT, signal.default_int_handler)\nprint('up', flush=True)\ntime.sleep(30)\n"
    graph = _graph(tmp_path, code).start()
    while "up" not in graph.processes[0].log_text():
        time.sleep(0.05)
    assert graph.stop(timeout_s=10.0) == []  # the default SIGINT ends it at once: exit -SIGINT
    assert set(graph.exit_s) == {"robot_interface_node"}
