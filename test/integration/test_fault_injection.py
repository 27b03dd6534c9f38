"""Every fault class, injected into the whole G1 graph on mock hardware (``egoscale-ros demo
--inject``): the robot is held safely — no limit violation, no NaN, no command step beyond the
velocity limit — and each fault is judged in the report (how soon it showed on /diagnostics is a
figure of the demo's JSON, not a test assertion); the stack recovers from a camera stall, a slow policy and a restarted node by itself."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FAULTS = ["camera_stall:1.5", "camera_garbage", "joint_states_drop:0.5", "joint_states_delay:300",
          "joint_states_foreign", "chunk_nan", "chunk_future:10", "chunk_names_shuffled", "policy_slow:300",
          "policy_kill", "node_restart:wrist_ik_node", "estop_at:4",
          "camera_stall:1.5,joint_states_delay:300,policy_slow:300"]


def _demo(inject: str, seconds: float, tmp_path) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "egoscale_ros.cli", "demo", "--robot", "g1_dex3", "--seconds", str(seconds),
         "--inject", inject, "--json", "--log-dir", str(tmp_path / "logs")],
        capture_output=True, text=True, timeout=600,
    )
    assert result.stdout.strip(), f"no report:\n{result.stderr[-4000:]}"
    return result.returncode, json.loads(result.stdout)


def _failures(r: dict) -> str:
    """Every failed node's exit and whole log, as the demo reported them."""
    return "\n\n".join(r.get("failed_nodes", {}).values()) or f"no node failed; commands: {r.get('commands_published')}"


@pytest.mark.parametrize("inject", FAULTS)
def test_an_injected_fault_holds_the_robot_safely_and_is_reported(inject, tmp_path):
    rc, r = _demo(inject, 9, tmp_path)
    assert rc == 0, _failures(r)
    assert r["limit_violations"] == 0, r["limit_violations_by_joint"]
    assert r["nan_count"] == 0
    assert r["max_cmd_step_ratio"] <= 1.05
    # How soon each fault shows on /diagnostics (detect_s, and unreported_faults against the 0.5 s
    # target) is a timing figure of the demo's JSON: measured there, not asserted on a shared machine.
    assert set(r["faults"]) == set(inject.split(",")), r["faults"]
    for label, fault in r["faults"].items():
        if "recover_s" in fault:
            assert fault["recover_s"] is not None, f"{label} did not recover: {fault}"
    if inject == "joint_states_foreign":  # the policy too observes the robot only through the declared source
        assert int(r["diagnostics"]["policy_node"]["joint_state_untrusted"]) > 0, r["diagnostics"]["policy_node"]
    if r["estop_hold_ticks"] is not None:  # once a command node has the e-stop, nothing moves
        assert r["estop_hold_ticks"] <= 1, r["faults"]


def test_sigint_ends_every_node_within_two_seconds(tmp_path):
    rc, r = _demo("sigint_at:2", 9, tmp_path)
    assert r["interrupted"] == "SIGINT"
    for node, exit_s in r["node_exit_s"].items():
        if node.startswith("mock_"):
            continue  # the robot's side: it serves until the interface has handed back
        # robot_interface_node included: it hands the arms back (blend ramp out) inside the 2 s
        assert exit_s <= 2.0, r["node_exit_s"]
    assert r["node_failures"] == 0, _failures(r)
