"""The node half of ``egoscale-ros bench policy``: policy_node as a process, fed and read over DDS."""

from __future__ import annotations

from egoscale_ros.nodes.policy_bench_node import node_measurement
from egoscale_ros.policy.export import ensure_default_policy


def test_node_measurement_reads_rate_and_latency_from_the_node_diagnostics():
    manifest = ensure_default_policy(preset="tiny", robot="g1_dex3", progress=False)
    node = node_measurement(str(manifest), "g1_dex3", "onnxruntime", "cpu", threads=1, seconds=3.0, rate_hz=30.0)
    assert node["rate_hz"] > 0 and node["frames_received"] > 0
    assert node["latency_ms_p50"] > 0 and node["cycle_ms_p50"] >= node["latency_ms_p50"]
    assert node["nan_chunks"] == 0
    assert node["backend"].startswith("onnxruntime")
    assert {"preprocess", "backbone", "denoise_3", "publish"} <= set(node["stage_ms"])
