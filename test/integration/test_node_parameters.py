"""Nodes take what the graph plan hands them: started without it, a node refuses to run and names
the parameter, rather than falling back on a default of its own (a second source of truth)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("executable", "args", "missing"), [
    ("chunk_smoother_node", (), "rate_hz"),
    ("chunk_smoother_node", ("-p", "rate_hz:=50.0"), "base_frame"),
    ("hand_retarget_node", ("-p", "robot:=g1_dex3"), "source"),  # the policy's hand, never assumed
])
def test_a_node_started_without_the_plans_values_refuses_naming_the_parameter(probe, executable, args, missing):
    proc = probe.start_node(executable, *args)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert f"parameter {missing} is not set" in out
