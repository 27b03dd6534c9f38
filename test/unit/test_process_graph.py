"""Graph processes: how ``GraphProcesses`` starts, restarts and stops the plan's node processes.

The node command is run with a stand-in interpreter (a shell script that only sleeps), so these
specifications look at the process the graph makes, not at ROS.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from egoscale_ros.graph import GraphPlan, NodeSpec
from egoscale_ros.process_graph import GraphProcesses


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
