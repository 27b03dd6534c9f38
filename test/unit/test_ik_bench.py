"""``egoscale-ros bench ik``: its JSON contract, and the accuracy figures it reports (not timings)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from egoscale_ros.ik import bench

VENDOR = Path(__file__).resolve().parents[2].parent / "shared" / "vendor_urdf"
KEYS = {"success_rate_warm", "success_rate_cold", "pos_err_mm_p99", "rot_err_deg_p99", "solve_ms_median",
        "solve_ms_p99", "limit_violations"}


def _run(capsys, **overrides) -> dict:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--json"])
    for k, v in overrides.items():
        setattr(args, k, v)
    assert bench.run(args) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_both_solvers_side_by_side_and_the_speed_ratio(capsys):
    report = _run(capsys, robot="g1_dex3", n=12)
    assert set(report["solvers"]) == {"dls", "casadi"}
    for figures in report["solvers"].values():
        assert KEYS <= set(figures)
        assert figures["limit_violations"] == 0
        assert figures["success_rate_warm"] == 1.0
    # The ratio is the one the figures imply (a swapped or inverted ratio fails).
    solvers = report["solvers"]
    assert report["speedup_vs_casadi"] == pytest.approx(
        solvers["casadi"]["solve_ms_median"] / solvers["dls"]["solve_ms_median"], rel=1e-6)


@pytest.mark.parametrize("robot", ["g1_dex3", "h1_2_inspire", "r1pro_sharpa"])
def test_main_solver_meets_the_accuracy_targets(capsys, robot):
    report = _run(capsys, robot=robot, n=100, solvers="dls")
    dls = report["solvers"]["dls"]
    assert dls["success_rate_warm"] >= 0.99 and dls["success_rate_cold"] >= 0.95
    assert dls["limit_violations"] == 0
    assert report["speedup_vs_casadi"] is None


def test_four_joint_arm_is_benchmarked_on_position_only_targets(capsys):
    report = _run(capsys, robot="h1_inspire", n=60, solvers="dls")
    assert all(arm["position_only"] for arm in report["arms"].values())
    dls = report["solvers"]["dls"]
    assert dls["pos_err_mm_p99"] <= 1.0 and dls["rot_err_deg_p99"] is None


@pytest.mark.parametrize(
    ("robot", "rel"),
    [
        ("g1_dex3", "unitree_g1/g1_29dof_with_hand_rev_1_0.urdf"),
        ("h1_inspire", "unitree_h1/h1_with_hand.urdf"),
        ("r1pro_sharpa", "galaxea_r1_pro/r1_pro.urdf"),
    ],
)
def test_makers_full_body_urdfs(capsys, robot, rel):
    path = VENDOR / rel
    if not path.is_file():
        pytest.skip(f"makers' URDFs not available ({VENDOR} absent)")
    report = _run(capsys, robot=robot, urdf=str(path), n=60, solvers="dls")
    dls = report["solvers"]["dls"]
    assert dls["limit_violations"] == 0
    assert dls["success_rate_warm"] >= 0.99 and dls["success_rate_cold"] >= 0.95
    assert dls["pos_err_mm_p99"] <= 1.0


def test_makers_h1_2_with_seven_joint_arms(capsys):
    path = VENDOR / "unitree_h1_2/h1_2.urdf"
    if not path.is_file():
        pytest.skip(f"makers' URDFs not available ({VENDOR} absent)")
    report = _run(capsys, robot="h1_2_inspire", urdf=str(path), n=60, solvers="dls")
    dls = report["solvers"]["dls"]
    assert not any(arm["position_only"] for arm in report["arms"].values())
    assert dls["limit_violations"] == 0
    assert dls["success_rate_warm"] >= 0.99 and dls["success_rate_cold"] >= 0.9


def test_bad_arguments_are_refused_with_a_message(capsys):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert bench.run(parser.parse_args(["--solvers", "newton"])) == 2
    assert "newton" in capsys.readouterr().err
    assert bench.run(parser.parse_args(["--robot", "no_such_robot"])) == 2
    assert "no_such_robot" in capsys.readouterr().err
