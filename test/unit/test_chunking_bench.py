"""The chunking benchmark prints one JSON object with figures for every mode."""

from __future__ import annotations

import argparse
import json

from egoscale_ros.chunking import bench


def test_bench_prints_one_json_object_per_the_cli_contract(capsys):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--seconds", "0.5", "--rate-hz", "50", "--json"])
    assert bench.run(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["modes"]) == {"latest", "temporal_ensemble", "rtc"}
    for figures in report["modes"].values():
        # Every chunk the simulated policy produced in 0.5 s at 30 Hz is accepted (about 15).
        assert 10 <= figures["chunks_accepted"] <= 20
        assert 0 < figures["sample_ms_p50"] <= figures["sample_ms_p99"]
        assert figures["wrist_position_error_mm_rms"] < 50.0


def test_bench_refuses_an_unknown_mode(capsys):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert bench.run(parser.parse_args(["--modes", "fastest"])) == 2
    assert "fastest" in capsys.readouterr().err


def test_the_bench_defaults_are_what_the_smoother_meets_on_the_robot():
    from egoscale_ros.policy.layout import ActionLayout
    from egoscale_ros.robot.config import load_robot_config

    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args([])
    assert args.horizon == ActionLayout.horizon == 30
    assert args.dt == ActionLayout.dt
    assert args.rate_hz == load_robot_config("g1_dex3").control_rate_hz
