"""The demo's readable summary prints figures with fixed decimals."""

from __future__ import annotations

from egoscale_ros.demo import _readable


def test_summary_figures_have_fixed_decimals():
    result = {"robot": "g1_dex3", "seconds": 8.0123, "startup_s": 6.1, "chunk_rate_hz": 20.59,
              "inference_ms_p50": 11.4937, "inference_ms_p99": None, "policy_backend": "onnxruntime",
              "chunk_age_ms_p50": 124.37665462493896, "smoother_ticks": 375, "smoother_rate_hz": 46.87,
              "commands_published": {"arm/cmd": 400}, "command_rate_hz": {"arm/cmd": 49.99},
              "arm_motion_rad": 0.1221, "hand_motion_rad": 0.4365, "ik_failures": 0, "nan_count": 0,
              "limit_violations": 0, "node_failures": 0, "log_dir": "logs", "recording": "run.mcap"}
    text = _readable(result)
    assert "chunk age p50 124.4 ms" in text
    assert "8.0 s measured (graph up after 6.1 s)" in text
    assert "inference p50 11.5 ms / p99 n/a ms" in text
    assert "arm/cmd: 400 commands (50.0 Hz)" in text
    assert "arms moved up to 0.122 rad, hands 0.436 rad" in text
    assert "recording   run.mcap" in text
    assert "STOPPED EARLY" not in text


def test_a_recording_that_stopped_early_says_why():
    result = {"robot": "g1_dex3", "seconds": 8.0, "startup_s": 6.1, "chunk_rate_hz": 20.0, "inference_ms_p50": 11.0,
              "inference_ms_p99": 12.0, "policy_backend": "onnxruntime", "chunk_age_ms_p50": 50.0,
              "smoother_ticks": 375, "smoother_rate_hz": 46.87, "commands_published": {},
              "command_rate_hz": {}, "arm_motion_rad": 0.1, "hand_motion_rad": 0.4, "ik_failures": 0,
              "nan_count": 0, "limit_violations": 0, "node_failures": 0, "log_dir": "logs", "recording": "run.mcap",
              "recording_stopped": "disk full writing run.mcap after 812 messages (3.1 MB)"}
    assert "run.mcap (egoscale-ros report / replay); STOPPED EARLY: disk full writing run.mcap" in _readable(result)
