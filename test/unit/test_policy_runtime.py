"""Specification of the policy runtimes: one interface, parity between backends, honest selection."""

import importlib.util
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from egoscale_ros.policy.export import PARITY_TOLERANCE, parity_inputs
from egoscale_ros.policy.manifest import load_manifest
from egoscale_ros.policy.runtime import create_runtime
from egoscale_ros.policy.runtime_base import BackendUnavailable
from egoscale_ros.policy.tensorrt_engine import engine_cache_key, optimisation_profiles

HAVE_TENSORRT = importlib.util.find_spec("tensorrt") is not None
NO_TENSORRT = "TensorRT cannot be installed on this machine (no NVIDIA GPU; the PyPI packages are stubs)"


@pytest.fixture(scope="module")
def manifest(exported):
    return load_manifest(exported)


def chunk(runtime, manifest, seed=0):
    feeds, noise = parity_inputs(manifest, seed)
    timings = {}
    out = runtime.sample(feeds["image"], feeds["tokens"], feeds["state"], feeds["state_mask"], noise,
                         manifest.denoising_steps, timings)
    return out, timings


def test_onnx_runtime_and_pytorch_backends_agree_on_a_full_chunk(manifest):
    ort = create_runtime(manifest, "onnxruntime", device="cpu", strict=True).runtime
    torch_rt = create_runtime(manifest, "torch", device="cpu", strict=True, options={"torch": {"threads": 1}}).runtime
    a, timings = chunk(ort, manifest, seed=5)
    b, _ = chunk(torch_rt, manifest, seed=5)
    assert a.shape == (1, 30, 62)
    assert np.max(np.abs(a - b)) <= PARITY_TOLERANCE
    assert list(timings) == ["backbone", "denoise_0", "denoise_1", "denoise_2", "denoise_3"]


def test_auto_selection_reports_what_it_fell_back_from(manifest):
    selection = create_runtime(manifest, "auto", device="cpu")
    if HAVE_TENSORRT:
        pytest.skip("TensorRT is installed here: no fallback to report")
    assert selection.backend == "onnxruntime"
    assert selection.fell_back
    report = selection.report()
    assert report.startswith("onnxruntime [CPUExecutionProvider]")
    assert "tensorrt (TensorRT is not installed" in report


def test_a_requested_backend_falls_back_unless_strict(manifest, tmp_path):
    if HAVE_TENSORRT:
        pytest.skip("TensorRT is installed here")
    with pytest.raises(BackendUnavailable, match="tensorrt: TensorRT is not installed"):
        create_runtime(manifest, "tensorrt", strict=True)
    selection = create_runtime(manifest, "tensorrt", device="cpu")
    assert selection.backend == "onnxruntime" and selection.fallbacks[0][0] == "tensorrt"


def test_unknown_backend_is_refused(manifest):
    with pytest.raises(ValueError, match="unknown policy backend 'openvino'"):
        create_runtime(manifest, "openvino")


def test_ort_node_path_never_imports_torch(exported):
    """A node on ONNX Runtime must start and infer without torch (start-up time, footprint)."""
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import egoscale_ros.nodes.policy_node  # the node module and everything it imports
        from egoscale_ros.policy.export import ensure_default_policy
        from egoscale_ros.policy.manifest import load_manifest
        from egoscale_ros.policy.pipeline import Observation, PolicyPipeline
        from egoscale_ros.policy.runtime import create_runtime
        path = ensure_default_policy(robot="g1_dex3", cache_dir={str(exported.parent.parent)!r}, train_steps=20)
        assert str(path) == {str(exported)!r}, path
        manifest = load_manifest(path)
        selection = create_runtime(manifest, "auto", device="cpu")
        assert selection.backend in ("onnxruntime", "tensorrt"), selection.report()
        pipeline = PolicyPipeline(manifest, selection.runtime)
        obs = Observation(1, [np.zeros((48, 64, 3), np.uint8)], {{}}, "pick", {{"left": np.eye(4), "right": np.eye(4)}})
        assert pipeline.predict(obs).chunk is not None
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        assert not loaded, loaded
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


# --- TensorRT -----------------------------------------------------------------------------------

def test_engine_profiles_vary_only_the_batch(manifest):
    profiles = optimisation_profiles(manifest, ["batch", 61, 128], max_batch=4)
    lo, opt, hi = profiles["backbone"]["image"]
    assert lo == (1, 1, 3, 96, 96) and opt == lo and hi == (4, 1, 3, 96, 96)
    assert profiles["action_expert"]["context"][2] == (4, 61, 128)
    assert "velocity" not in profiles["action_expert"]


def test_engine_cache_key_follows_onnx_bytes_tensorrt_version_and_gpu(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"graph-1")
    profile = {"x": ((1, 2), (1, 2), (4, 2))}
    key = engine_cache_key(model, "10.9", "NVIDIA H100", "fp16", profile)
    assert key == engine_cache_key(model, "10.9", "NVIDIA H100", "fp16", profile)
    assert key != engine_cache_key(model, "10.10", "NVIDIA H100", "fp16", profile)
    assert key != engine_cache_key(model, "10.9", "Orin", "fp16", profile)
    assert key != engine_cache_key(model, "10.9", "NVIDIA H100", "bf16", profile)
    model.write_bytes(b"graph-2")
    assert key != engine_cache_key(model, "10.9", "NVIDIA H100", "fp16", profile)


@pytest.mark.skipif(not HAVE_TENSORRT, reason=NO_TENSORRT)
def test_tensorrt_engines_reproduce_onnx_runtime(manifest, tmp_path):  # pragma: no cover - needs a GPU
    from egoscale_ros.policy.runtime_tensorrt import TensorRTPolicy

    trt = TensorRTPolicy(manifest, cache_dir=tmp_path, precision="fp32", progress=False)
    ort = create_runtime(manifest, "onnxruntime", device="cpu", strict=True).runtime
    a, timings = chunk(trt, manifest, seed=2)
    b, _ = chunk(ort, manifest, seed=2)
    assert np.max(np.abs(a - b)) <= 1e-3 and "denoise_3" in timings
    engines = sorted(p.name for p in tmp_path.glob("*.engine"))
    assert len(engines) == 2
    TensorRTPolicy(manifest, cache_dir=tmp_path, precision="fp32", progress=False)  # cached: no new build
    assert sorted(p.name for p in tmp_path.glob("*.engine")) == engines
