"""Specs of ``egoscale-ros bench retarget`` (figures, not timings: no test asserts a duration)."""

from __future__ import annotations

import argparse
import json

import pytest

from egoscale_ros.retarget import bench

KEYS = ("fingertip_err_mm_mean", "fingertip_err_mm_p99", "ms_per_frame_median", "ms_per_frame_p99")


def _run(capsys, *argv: str) -> dict:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert bench.run(parser.parse_args([*argv, "--json", "--compile", "never"])) == 0
    return json.loads(capsys.readouterr().out)


def test_sharpa_to_sharpa_reports_exact_recovery_and_the_peer(capsys):
    out = _run(capsys, "--target", "sharpa_wave", "--source", "sharpa_wave", "--n", "60", "--segment", "0.5")
    for key in KEYS:
        assert key in out and key in out["peer"] and key in out["peer_rate_limited"]
    assert out["peer_rate_limited"]["max_step_over_velocity_limit"] <= 1.0 + 1e-9
    assert out["fingertip_err_mm_mean"] < 0.5
    assert out["joint_err_rad_mean"] < 0.03
    assert out["max_step_over_velocity_limit"] <= 1.0 + 1e-9
    assert out["speedup_vs_peer"] > 0 and out["peer"]["fingertip_err_mm_mean"] > 0
    assert out["n"] == 60 and out["iterations_mean"] >= 1


@pytest.mark.parametrize("target", ["dex3", "inspire"])
def test_keypoints_onto_other_hands_without_the_peer(capsys, target):
    out = _run(capsys, "--target", target, "--source", "keypoints", "--n", "20", "--no-peer", "--side", "right")
    assert "peer" not in out and "joint_err_rad_mean" not in out
    assert out["target"] == f"{target}_right" and out["source"] == "keypoints"
    assert 0 < out["fingertip_err_mm_mean"] < 100
    assert out["max_step_over_velocity_limit"] <= 1.0 + 1e-9


def test_the_command_line_knows_the_bench():
    from egoscale_ros import cli

    args = cli.build_parser().parse_args(["bench", "retarget", "--target", "dex3", "--source", "keypoints",
                                          "--seed", "3", "--n", "10", "--json"])
    assert args.target == "dex3" and args.n == 10 and args.seed == 3
