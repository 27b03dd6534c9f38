"""``egoscale-ros bench ik``: the main IK solver against the CasADi/IPOPT reference, side by side.

Targets are forward kinematics of random joint configurations within the limits, so every target
is reachable. Each target is solved twice per solver: warm, from a nearby configuration (the true
one plus uniform noise of ±``--warm-noise`` rad per joint, clipped to the limits: what a control
loop hands the solver from its previous tick), and cold, from the home pose. A solve succeeds
within 1 mm and 1° (position only for arms with fewer than six joints, whose targets are then
position-only). Reported per solver: success rates, p99 errors, median/p99 solve time (warm; cold
separately), limit violations, and the warm speed ratio against CasADi.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np

SOLVER_NAMES = ("dls", "casadi")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", default="g1_dex3", help="robot config name or YAML path")
    parser.add_argument("--urdf", default="", help="body URDF override (e.g. the maker's full-body file)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the targets")
    parser.add_argument("--n", type=int, default=1000, help="targets (split over the arms)")
    parser.add_argument("--solvers", default=",".join(SOLVER_NAMES), help="comma-separated: dls,casadi")
    parser.add_argument("--warm-noise", type=float, default=0.05, help="warm-start distance, rad per joint")
    parser.add_argument("--restarts", type=int, default=16, help="restart budget per solve (both solvers)")
    parser.add_argument("--position-only", action="store_true",
                        help="position-only targets for every arm (default: only arms with < 6 joints)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _percentile(values, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else math.nan


def make_targets(chains: dict, n: int, seed: int, warm_noise: float) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(side, true q, warm seed)`` for ``n`` targets, alternating over the arms."""
    from egoscale_ros.ik.multistart import finite_limits

    rng = np.random.default_rng(seed)
    sides = list(chains)
    out = []
    for i in range(n):
        side = sides[i % len(sides)]
        chain = chains[side]
        lo, hi = finite_limits(chain)
        q_true = rng.uniform(lo, hi)
        warm = chain.clip(q_true + rng.uniform(-warm_noise, warm_noise, chain.n))
        out.append((side, q_true, warm))
    return out


def run_solver(solvers: dict, chains: dict, homes: dict, targets, progress) -> dict:
    """Solve every target warm and cold; returns the raw per-solve figures."""
    raw = {m: {"ok": [], "pos": [], "rot": [], "ms": [], "descents": [], "iterations": [], "violations": 0}
           for m in ("warm", "cold")}
    for side, q_true, warm in targets:
        chain, solver = chains[side], solvers[side]
        pose = chain.fk(q_true)
        for mode, seed in (("warm", warm), ("cold", homes[side])):
            start = time.perf_counter()
            result = solver.solve(pose, seed)
            elapsed = (time.perf_counter() - start) * 1e3
            r = raw[mode]
            r["ok"].append(result.converged)
            r["pos"].append(result.position_error * 1e3)
            r["rot"].append(math.degrees(result.rotation_error))
            r["ms"].append(elapsed)
            r["descents"].append(result.descents)
            r["iterations"].append(result.iterations)
            if not (np.all(result.q >= chain.lower) and np.all(result.q <= chain.upper)) or not np.isfinite(
                result.q
            ).all():
                r["violations"] += 1
        progress.update(1)
    return raw


def summarise(raw: dict, position_only: bool) -> dict:
    warm, cold = raw["warm"], raw["cold"]
    both_pos, both_rot = warm["pos"] + cold["pos"], warm["rot"] + cold["rot"]
    out = {
        "success_rate_warm": float(np.mean(warm["ok"])),
        "success_rate_cold": float(np.mean(cold["ok"])),
        "pos_err_mm_p99": _percentile(both_pos, 99),
        "rot_err_deg_p99": None if position_only else _percentile(both_rot, 99),
        "solve_ms_median": _percentile(warm["ms"], 50),
        "solve_ms_p99": _percentile(warm["ms"], 99),
        "limit_violations": warm["violations"] + cold["violations"],
        "warm": {
            "pos_err_mm_p99": _percentile(warm["pos"], 99),
            "rot_err_deg_p99": None if position_only else _percentile(warm["rot"], 99),
            # Iterations tell the algorithm's cost apart from scheduling noise in the timings.
            "iterations_median": _percentile(warm["iterations"], 50),
            "iterations_p99": _percentile(warm["iterations"], 99),
            "descents_max": int(max(warm["descents"])),
        },
        "cold": {
            "pos_err_mm_p99": _percentile(cold["pos"], 99),
            "rot_err_deg_p99": None if position_only else _percentile(cold["rot"], 99),
            "solve_ms_median": _percentile(cold["ms"], 50),
            "solve_ms_p99": _percentile(cold["ms"], 99),
            "descents_mean": float(np.mean(cold["descents"])),
            "iterations_median": _percentile(cold["iterations"], 50),
        },
    }
    return out


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from egoscale_ros.ik.problem import IkTask
    from egoscale_ros.ik.wrist_ik import make_solver
    from egoscale_ros.robot.config import load_robot_config
    from egoscale_ros.robot.kinematics import RobotKinematics
    from egoscale_ros.schema import ConfigError

    names = [s.strip() for s in args.solvers.split(",") if s.strip()]
    unknown = [s for s in names if s not in SOLVER_NAMES]
    if unknown or not names:
        print(f"bench ik: --solvers {args.solvers!r}: use any of {', '.join(SOLVER_NAMES)}", file=sys.stderr)
        return 2
    if args.n < 1 or args.warm_noise < 0 or args.restarts < 0:
        print("bench ik: --n must be >= 1, --warm-noise and --restarts >= 0", file=sys.stderr)
        return 2
    try:
        config = load_robot_config(args.robot, urdf_override=args.urdf or None)
        kin = RobotKinematics(config)
    except (ConfigError, ValueError) as exc:
        print(f"bench ik: {exc}", file=sys.stderr)
        return 2
    chains = {side: kin.arm_chain(side) for side in config.arms}
    homes = {side: chain.clip(np.array([config.home_position(j) for j in chain.joint_names]))
             for side, chain in chains.items()}
    position_only = {side: args.position_only or chain.n < 6 for side, chain in chains.items()}
    tasks = {
        side: IkTask.from_arm_config(config.arms[side], **({"orientation_weight": 0.0} if position_only[side] else {}))
        for side in chains
    }
    targets = make_targets(chains, args.n, args.seed, args.warm_noise)
    results = {}
    for name in names:
        solvers = {side: make_solver(name, chains[side], tasks[side], restarts=args.restarts, seed=args.seed)
                   for side in chains}
        with tqdm(total=len(targets), desc=f"ik {name}", unit="target", file=sys.stderr,
                  disable=not sys.stderr.isatty()) as progress:
            raw = run_solver(solvers, chains, homes, targets, progress)
        results[name] = summarise(raw, all(position_only.values()))

    report = {
        "robot": config.name,
        "urdf": str(config.urdf.name),
        "n": args.n,
        "seed": args.seed,
        "warm_noise_rad": args.warm_noise,
        "restarts": args.restarts,
        "arms": {side: {"joints": chain.n, "position_only": position_only[side]} for side, chain in chains.items()},
        "success_criterion": "position <= 1 mm and rotation <= 1 deg (position only where noted)",
        "solvers": results,
        "speedup_vs_casadi": (
            results["casadi"]["solve_ms_median"] / results["dls"]["solve_ms_median"]
            if "casadi" in results and "dls" in results else None
        ),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(_readable(report))
    return 0


def _fmt(v, spec: str = ".3f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _readable(report: dict) -> str:
    lines = [
        f"IK bench: {report['robot']} ({report['urdf']}), {report['n']} targets, seed {report['seed']}, "
        f"warm noise ±{report['warm_noise_rad']} rad, restarts {report['restarts']}",
        f"{'solver':8} {'warm ok':>8} {'cold ok':>8} {'pos p99 mm':>11} {'rot p99 °':>10} "
        f"{'warm ms p50':>12} {'warm ms p99':>12} {'cold ms p50':>12} {'violations':>10}",
    ]
    for name, r in report["solvers"].items():
        lines.append(
            f"{name:8} {r['success_rate_warm']:>8.2%} {r['success_rate_cold']:>8.2%} "
            f"{_fmt(r['pos_err_mm_p99'], '.4f'):>11} {_fmt(r['rot_err_deg_p99'], '.4f'):>10} "
            f"{_fmt(r['solve_ms_median']):>12} {_fmt(r['solve_ms_p99']):>12} "
            f"{_fmt(r['cold']['solve_ms_median']):>12} {r['limit_violations']:>10}"
        )
    if report["speedup_vs_casadi"] is not None:
        lines.append(f"warm speed-up of dls over casadi: {report['speedup_vs_casadi']:.1f}x")
    return "\n".join(lines)
