"""Specification of the reaching policy: trained by the package, exported and run like any policy."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.policy.manifest import load_manifest
from egoscale_ros.reach.training import TrainSettings, ensure_reach_policy

SETTINGS = TrainSettings(samples=24, steps=4, batch_size=8)


@pytest.fixture(scope="module")
def reach_manifest(tmp_path_factory):
    cache = tmp_path_factory.mktemp("reach_cache")
    path, trained = ensure_reach_policy("g1_dex3", "tiny", SETTINGS, cache_dir=cache, progress=False)
    assert trained
    return path


def test_export_goes_through_the_normal_path_and_is_cached(reach_manifest):
    manifest = load_manifest(reach_manifest)  # shapes of both graphs checked against the manifest
    assert manifest.layout.representation == "relative" and manifest.layout.frame == "wrist"
    assert manifest.image.size == 64 and manifest.default_instruction == "pick up the red ball"
    again, trained = ensure_reach_policy("g1_dex3", "tiny", SETTINGS, cache_dir=reach_manifest.parent.parent,
                                         progress=False)
    assert again == reach_manifest and not trained


def test_onnx_runtime_and_torch_give_the_same_chunk(reach_manifest):
    from egoscale_ros.policy.runtime import create_runtime

    manifest = load_manifest(reach_manifest)
    rng = np.random.default_rng(0)
    s, n = manifest.image.size, len(manifest.state.joints)
    feeds = (rng.normal(size=(1, 1, 3, s, s)).astype(np.float32), np.zeros((1, manifest.max_tokens), np.int64),
             rng.normal(size=(1, n)).astype(np.float32), np.ones((1, n), np.float32),
             rng.normal(size=(1, manifest.layout.horizon, manifest.layout.dim)).astype(np.float32), 4)
    chunks = []
    for backend in ("onnxruntime", "torch"):
        selection = create_runtime(manifest, backend, device="cpu", strict=True)
        try:
            chunks.append(np.asarray(selection.runtime.sample(*feeds)))
        finally:
            selection.runtime.close()
    np.testing.assert_allclose(chunks[0], chunks[1], atol=1e-4)


def test_training_is_seeded(tmp_path):
    import torch

    from egoscale_ros.reach.training import train_and_export

    weights = []
    for name in ("a", "b"):
        train_and_export("g1_dex3", "tiny", tmp_path / name, SETTINGS, progress=False)
        weights.append(torch.load(tmp_path / name / "checkpoint.pt", weights_only=True)["state_dict"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_flipped_manifest_reads_the_same_model_in_another_frame(reach_manifest, tmp_path):
    from egoscale_ros.reach.evaluation import flipped_manifest

    flipped = load_manifest(flipped_manifest(reach_manifest, tmp_path))
    original = load_manifest(reach_manifest)
    assert flipped.layout.frame == "camera" != original.layout.frame
    assert flipped.file("onnxruntime", "backbone") == original.file("onnxruntime", "backbone")
    np.testing.assert_array_equal(flipped.action.mean, original.action.mean)
    assert load_manifest(flipped_manifest(reach_manifest, tmp_path / "b", "base")).layout.frame == "base"
    with pytest.raises(ValueError, match="already in the wrist frame"):
        flipped_manifest(reach_manifest, tmp_path / "c", "wrist")


def test_chunks_come_out_in_the_subspace_of_the_training_chunks_whatever_the_noise():
    import torch

    from egoscale_ros.policy.reach_model import ReachPolicy, ReachPolicyConfig

    config = ReachPolicyConfig(image_size=16, width=32, expert_width=32, horizon=5, action_dim=4, code_size=3,
                               embodiments={"e": 2})
    policy = ReachPolicy(config)
    generator = torch.Generator().manual_seed(0)
    codes, directions = torch.randn(50, 3, generator=generator), torch.randn(3, 20, generator=generator)
    assert policy.set_action_basis((codes @ directions).reshape(50, 5, 4)) > 0.999
    basis = policy.chunk_basis
    torch.testing.assert_close(basis @ basis.T, torch.eye(3), atol=1e-5, rtol=0)
    inputs = (torch.rand(4, 1, 3, 16, 16, generator=generator), torch.zeros(4, config.max_tokens, dtype=torch.long),
              torch.randn(4, 2, generator=generator), torch.ones(4, 2))
    with torch.no_grad():
        chunks = policy.sample("e", *inputs, noise=100 * torch.randn(4, 5, 4, generator=generator)).reshape(4, -1)
    off = chunks - policy.chunk_mean - (chunks - policy.chunk_mean) @ basis.T @ basis
    assert off.abs().max() < 1e-3 < chunks.abs().max()
