"""Specification: a node process (``wiring.main.run``) stops cleanly on SIGINT, the graph's own stop
signal, and on a SIGTERM too; a SIGTERM, which the graph never sends, is named in the node's log,
so a node that stopped on one does not look as if it had ended for no reason."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

# A node of its own that prints once it is built (its signal handlers are then in place).
NODE = ("import sys\n"
        "from rclpy.node import Node\n"
        "from egoscale_ros.nodes.wiring.main import run\n"
        "def build():\n"
        "    node = Node('main_spec')\n"
        "    print('built', flush=True)\n"
        "    return node\n"
        "sys.exit(run(build, []))\n")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_node_stops_cleanly_on_a_signal_and_names_a_sigterm(ros_env, sig):
    proc = subprocess.Popen([sys.executable, "-c", NODE], env=ros_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout.readline().strip() == "built"
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert ("SIGTERM received: stopping" in out) == (sig == signal.SIGTERM), out
