"""``egoscale-ros bench policy``: its JSON contract and the parity it reports (not timings)."""

from __future__ import annotations

import argparse
import json

import pytest

from egoscale_ros.policy import bench
from egoscale_ros.policy.export import PARITY_TOLERANCE

KEYS = {"backend", "preset", "latency_ms_p50", "latency_ms_p99", "chunk_rate_hz", "parity_max_abs_err",
        "stages_ms", "node_overhead_ratio"}


def run_bench(capsys, *argv: str) -> tuple[int, dict | None]:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    code = bench.run(parser.parse_args(list(argv)))
    out = capsys.readouterr().out
    return code, (json.loads(out) if code == 0 else None)


def test_json_reports_every_stage_and_parity_with_pytorch(capsys, exported):
    code, report = run_bench(capsys, "--manifest", str(exported), "--iterations", "5", "--warmup", "1",
                             "--node-seconds", "0", "--rate-hz", "0", "--json", "--inference-cpu", "-1")
    assert code == 0
    assert KEYS <= set(report)
    assert report["backend"] == "onnxruntime" and report["preset"] == "tiny"
    assert list(report["stages_ms"]) == ["preprocess", "backbone", "denoise_0", "denoise_1", "denoise_2",
                                         "denoise_3", "postprocess"]
    assert report["parity_max_abs_err"] <= PARITY_TOLERANCE
    assert report["node_overhead_ratio"] is None  # no node measurement was asked for


def test_an_unavailable_backend_is_an_error_not_a_silent_fallback(capsys, exported):
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here")
    code, _ = run_bench(capsys, "--manifest", str(exported), "--backend", "tensorrt", "--node-seconds", "0",
                        "--json")
    assert code == 2
