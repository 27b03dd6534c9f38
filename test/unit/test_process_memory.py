"""Specification of the soak's memory figures: resident memory of a process tree from /proc."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from egoscale_ros.process_memory import growth, memory_by_node, tree_rss_mib

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux /proc")


def test_a_tree_counts_its_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(64 << 20); time.sleep(30)"])
    try:
        for _ in range(100):  # until the child has touched its 64 MiB
            own = tree_rss_mib(os.getpid())
            mine_alone = memory_by_node({"me": child.pid})["me"]
            if mine_alone > 60:
                break
            subprocess.run(["sleep", "0.05"])
        assert mine_alone > 60
        assert own >= mine_alone  # this process's tree includes the child
    finally:
        child.kill()
        child.wait()


def test_a_gone_process_is_left_out():
    p = subprocess.Popen(["true"])
    p.wait()
    assert tree_rss_mib(p.pid) is None
    assert memory_by_node({"gone": p.pid}) == {}


def test_growth_in_percent_for_names_at_both_ends():
    assert growth({"a": 100.0, "b": 50.0, "c": 10.0}, {"a": 103.0, "b": 50.0}) == {"a": 3.0, "b": 0.0}
