"""The ``egoscale-ros`` command: demo, bench, check, export-policy, build-engine.

Each subcommand lives next to the code it exercises and exposes ``add_arguments(parser)`` and
``run(args) -> int``; this module only dispatches, importing a subcommand's module lazily so that
``egoscale-ros bench ik`` never imports torch and ``egoscale-ros demo`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("egoscale_ros.demo", "run the whole graph on mock hardware and summarise it"),
    "check": ("egoscale_ros.nodes.check_command", "validate a robot config against its URDFs"),
    "estop": ("egoscale_ros.nodes.estop_command", "press, release or reset the e-stop of a running graph"),
    "export-policy": ("egoscale_ros.policy.export", "export the reference policy to ONNX + manifest"),
    "build-engine": ("egoscale_ros.policy.tensorrt_engine", "build TensorRT engines for a manifest"),
    "train-policy": ("egoscale_ros.policy.training", "train the reference policy on synthetic data"),
    "train-synthetic": ("egoscale_ros.reach.training", "train the reaching policy of a robot on its synthetic task"),
    "eval-synthetic": ("egoscale_ros.nodes.eval_synthetic_command", "run the reaching policy in closed loop on mock hardware"),
    "report": ("egoscale_ros.recording.report", "plots and a summary page of a recorded run"),
    "status": ("egoscale_ros.nodes.status_command", "every node's state from /diagnostics as a table, refreshed"),
    "replay": ("egoscale_ros.recording.replay", "run a policy on a recording's observations and compare chunks"),
    "import-policy": ("egoscale_ros.remote.importer", "write a manifest for a GR00T policy server from checkpoint metadata"),
}
BENCHES: dict[str, tuple[str, str]] = {
    "ik": ("egoscale_ros.ik.bench", "wrist IK: our solver against CasADi/IPOPT"),
    "policy": ("egoscale_ros.nodes.policy_bench_node", "policy runtime latency, rate, parity and node overhead"),
    "retarget": ("egoscale_ros.retarget.bench", "hand retargeting against dex-retargeting"),
    "remote": ("egoscale_ros.remote.bench", "policy-server round trip (GR00T, openpi mocks) against local inference"),
    "chunking": ("egoscale_ros.chunking.bench", "chunk smoother execution modes on a simulated policy stream"),
}


def _add(sub: argparse._SubParsersAction, name: str, module: str, help_text: str) -> None:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(_module=module)
    try:
        importlib.import_module(module).add_arguments(parser)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        parser.set_defaults(_missing=str(exc))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="egoscale-ros", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        _add(sub, name, module, help_text)
    bench = sub.add_parser("bench", help="benchmarks that print JSON figures")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    for name, (module, help_text) in BENCHES.items():
        _add(bench_sub, name, module, help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "_missing", None):
        print(f"egoscale-ros: this command is not available: {args._missing}", file=sys.stderr)
        return 2
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
