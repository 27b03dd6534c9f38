"""Figures of a recorded run (latencies, tracking, safety, CPU) and how replays compare chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from egoscale_ros.kinematics import se3
from egoscale_ros.recording import analysis as an
from egoscale_ros.recording.reader import Recording, RecordingError, open_recording
from egoscale_ros.recording.replay import rotation_angle
from egoscale_ros.recording.report import markdown

MS = 1_000_000


def run_data(**kwargs) -> an.RunData:
    rec = Recording(Path("run.mcap"), {}, {}, 0, 10_000 * MS)
    empty = an.Series(np.zeros(0, np.int64), [], np.zeros((0, 0)))
    fields = dict(recording=rec, chunks=an.WristChunks(np.zeros(0, np.int64), np.zeros(0, np.int64), [], {}),
                  wrist_targets={}, joint_states=empty, commands={}, diagnostics={},
                  estop=(np.zeros(0, np.int64), np.zeros(0)))
    fields.update(kwargs)
    return an.RunData(**fields)


def test_capture_to_chunk_is_arrival_minus_observation_stamp():
    chunks = an.WristChunks(np.array([110, 250]) * MS, np.array([100, 200]) * MS, [], {})
    assert an.capture_to_chunk_ms(run_data(chunks=chunks)).tolist() == [10.0, 50.0]


def test_chunk_to_command_takes_the_first_command_after_each_chunk():
    chunks = an.WristChunks(np.array([100, 200, 900]) * MS, np.zeros(3, np.int64), [], {})
    run = run_data(chunks=chunks, log_times={"arm/cmd": np.array([90, 104, 120, 230]) * MS})
    assert an.chunk_to_command_ms(run, "arm/cmd").tolist() == [4.0, 30.0]  # none after the last chunk


def test_percentiles_have_fixed_decimals_and_ignore_non_finite():
    p = an.percentiles(np.array([1.0, 2.0, 3.0, np.nan, 4.0]))
    assert p == {"p50": 2.5, "p90": 3.7, "p99": 3.97, "n": 4}
    assert an.percentiles(np.zeros(0)) == {"p50": None, "p90": None, "p99": None, "n": 0}


def test_tracking_compares_commands_with_the_measured_position_at_the_same_time():
    js = an.Series(np.array([0, 100]) * MS, ["j"], np.array([[0.0], [1.0]]))
    commands = {"cmd": an.Series(np.array([50, 100]) * MS, ["j"], np.array([[0.6], [1.5]]))}
    t = an.tracking(run_data(joint_states=js, commands=commands), ["j"], np.array([-1.0]), np.array([1.2]))
    assert t["commands"] == 2 and t["beyond_limits"] == 1
    assert t["max_error_rad"] == pytest.approx(0.5) and t["rms_error_rad"] == pytest.approx(0.3606, abs=1e-4)


def test_safety_counts_holds_estops_and_presses():
    sample = lambda holding, estop: an.DiagnosticSample(0, 0, "", {"holding": holding, "estop": estop})  # noqa: E731
    diags = {"wrist_ik_node": [sample("no", "False"), sample("estop", "True"), sample("no_target,stale", "False")],
             "policy_node": [an.DiagnosticSample(0, 0, "", {"rate_hz": "30"})]}
    events = an.safety_events(run_data(diagnostics=diags, estop=(np.arange(4), np.array([0.0, 1.0, 0.0, 1.0]))))
    assert events["estop_presses"] == 2
    assert events["by_node"] == {"wrist_ik_node": {"samples": 3, "holding": 2, "estop": 1,
                                                   "reasons": ["estop", "no_target", "stale"]}}


def test_cpu_skips_the_start_up_sample():
    diags = {"policy_node": [an.DiagnosticSample(0, 0, "", {"cpu_percent": v}) for v in ("300", "40", "50")]}
    assert an.cpu_by_node(run_data(diagnostics=diags)) == {"policy_node": 45.0}


def test_rotation_angle_between_rotations():
    a = se3.quat_to_matrix(np.array([0.0, 0.0, np.sin(0.15), np.cos(0.15)]))
    assert rotation_angle(a, np.eye(3)) == pytest.approx(0.3)
    assert rotation_angle(a, a) == pytest.approx(0.0, abs=1e-7)


def test_summary_page_prints_fixed_decimals():
    report = {"recording": "run.mcap", "robot": "g1_dex3", "duration_s": 30.123456, "messages": 10, "bytes": 2_500_000,
              "rates_hz": {"policy/wrist_chunk": 29.876543}, "message_counts": {"/joint_states": 10},
              "latency_ms": {"capture_to_chunk": {"p50": 124.37665462493896, "p90": 130.0, "p99": None, "n": 3},
                             "chunk_to_command": {"p50": 4.0, "p90": 5.0, "p99": 6.0, "n": 3},
                             "chunk_to_command_topic": "arm/cmd"},
              "tracking": {"arms": {"commands": 5, "rms_error_rad": 0.001234567, "max_error_rad": 0.01,
                                    "beyond_limits": 0}},
              "safety": {"estop_presses": 0, "by_node": {}}, "cpu_percent_by_node": {"policy_node": 41.26},
              "files": ["chunk_fan.png"]}
    page = markdown(report)
    assert "30.12 s, 10 messages, 2.5 MB" in page
    assert "| policy/wrist_chunk | 29.88 |" in page
    assert "| capture → chunk | 124.38 | 130.00 | – | 3 |" in page
    assert "| arms | 5 | 0.0012 | 0.0100 | 0 |" in page
    assert "| policy_node | 41.3 |" in page and "![chunk_fan.png](chunk_fan.png)" in page


def test_a_missing_or_foreign_file_is_named(tmp_path):
    with pytest.raises(RecordingError, match="no recording at"):
        open_recording(tmp_path / "absent.mcap")
    bad = tmp_path / "notes.mcap"
    bad.write_text("not an mcap file")
    with pytest.raises(RecordingError, match="not a readable MCAP recording"):
        open_recording(bad)


def test_problems_list_each_distinct_warning_once_with_when_it_first_appeared():
    diags = {"policy_node": [an.DiagnosticSample(t * 1_000_000_000, level, message, {})
                             for t, level, message in ((1, 0, "ok"), (2, 1, "slow"), (3, 1, "slow"), (4, 2, "stopped"))]}
    assert an.problems(run_data(diagnostics=diags)) == [
        {"node": "policy_node", "level": "WARN", "message": "slow", "count": 2, "first_s": 2.0},
        {"node": "policy_node", "level": "ERROR", "message": "stopped", "count": 1, "first_s": 4.0}]
