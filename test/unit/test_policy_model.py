"""Specification of the reference EgoScale-shaped policy (PyTorch)."""

import numpy as np
import pytest
import torch

from egoscale_ros.policy.layout import ActionLayout
from egoscale_ros.policy.model import PRESETS, EgoScalePolicy, count_parameters, preset_config
from egoscale_ros.policy.synthetic import make_batch
from egoscale_ros.policy.tokenizer import PAD_ID
from egoscale_ros.policy.training import batch_tensors, load_checkpoint, new_policy, save_checkpoint, train

STATE = [f"joint_{i}" for i in range(6)]


@pytest.fixture(scope="module")
def small_policy():
    torch.manual_seed(0)
    config = preset_config("tiny", depth=1, expert_depth=1, horizon=4, action_dim=10, embodiments={"a": 6, "b": 3})
    policy = EgoScalePolicy(config).eval()
    # adaLN-Zero starts as the identity: perturb so every input path reaches the output.
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return policy


def inputs(config, batch=2, state_dim=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(batch, config.num_cameras, 3, config.image_size, config.image_size, generator=g)
    tokens = torch.zeros(batch, config.max_tokens, dtype=torch.int64)
    tokens[:, :3] = torch.tensor([1, 70, 2])
    state = torch.randn(batch, state_dim, generator=g)
    return image, tokens, state, torch.ones(batch, state_dim)


def test_presets_share_the_architecture_and_grow():
    sizes = {name: count_parameters(EgoScalePolicy(cfg)) for name, cfg in PRESETS.items() if name != "base"}
    assert sizes["tiny"] < sizes["small"]
    base = PRESETS["base"]
    assert base.expert_width >= 1024 and base.depth >= 12  # realistic width for the larger preset
    with pytest.raises(ValueError, match="unknown policy preset"):
        preset_config("huge")


def test_context_and_velocity_shapes(small_policy):
    c = small_policy.config
    image, tokens, state, mask = inputs(c)
    context = small_policy.encode("a", image, tokens, state, mask)
    assert context.shape == (2, c.context_tokens, c.expert_width)
    v = small_policy.velocity("a", torch.randn(2, 4, 10), torch.tensor([0.0, 0.5]), context)
    assert v.shape == (2, 4, 10)


def test_missing_state_is_replaced_by_the_learned_token(small_policy):
    image, tokens, state, mask = inputs(small_policy.config, batch=1)
    none = torch.zeros_like(mask)
    a = small_policy.encode("a", image, tokens, state, none)
    b = small_policy.encode("a", image, tokens, state * 5 + 3, none)
    torch.testing.assert_close(a, b)
    measured = small_policy.encode("a", image, tokens, state, mask)
    assert not torch.allclose(a, measured)


def test_masked_joints_do_not_influence_the_output(small_policy):
    image, tokens, state, mask = inputs(small_policy.config, batch=1)
    mask[0, 2] = 0
    changed = state.clone()
    changed[0, 2] += 10.0
    torch.testing.assert_close(small_policy.encode("a", image, tokens, state, mask),
                               small_policy.encode("a", image, tokens, changed, mask))


def test_padding_tokens_are_ignored(small_policy):
    """Whatever the padding embeds to, no real token, image patch or state token sees it (fails
    if the key padding bias is dropped: every position would attend to the padding)."""
    config = small_policy.config
    image, tokens, state, mask = inputs(config, batch=1)
    patches = config.num_cameras * config.num_patches
    is_pad = torch.cat([torch.zeros(patches, dtype=torch.bool), tokens[0] == PAD_ID, torch.zeros(1, dtype=torch.bool)])
    assert is_pad.any() and not is_pad.all()
    embedding = small_policy.token_embed.weight
    with torch.no_grad():
        before = small_policy.encode("a", image, tokens, state, mask)
        saved = embedding[PAD_ID].clone()
        embedding[PAD_ID] += 3.0 * torch.randn_like(saved)
        try:
            after = small_policy.encode("a", image, tokens, state, mask)
        finally:
            embedding[PAD_ID] = saved
    assert not torch.allclose(before[:, is_pad], after[:, is_pad])  # the change did reach the padding
    torch.testing.assert_close(before[:, ~is_pad], after[:, ~is_pad])


def test_embodiments_have_their_own_adapters(small_policy):
    image, tokens, _, _ = inputs(small_policy.config, batch=1)
    ctx_b = small_policy.encode("b", image, tokens, torch.zeros(1, 3), torch.ones(1, 3))
    assert ctx_b.shape[1] == small_policy.config.context_tokens
    with pytest.raises(KeyError, match="no adapter"):
        small_policy.encode("robot_x", image, tokens, torch.zeros(1, 3), torch.ones(1, 3))


def test_sampling_is_a_deterministic_function_of_the_noise(small_policy):
    obs = inputs(small_policy.config, batch=1)
    noise = torch.randn(1, 4, 10)
    with torch.no_grad():
        a = small_policy.sample("a", *obs, noise, steps=4)
        b = small_policy.sample("a", *obs, noise, steps=4)
        c = small_policy.sample("a", *obs, torch.randn(1, 4, 10), steps=4)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_training_on_synthetic_data_reduces_the_flow_matching_loss():
    policy, manifest = new_policy("tiny", "g1_like", STATE, ActionLayout(horizon=8))
    losses = train(policy, manifest, steps=40, batch_size=8, lr=2e-3, progress=False, threads=1)
    assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:8])


def test_checkpoint_round_trip_gives_the_same_model(tmp_path):
    policy, manifest = new_policy("tiny", "g1_like", STATE, ActionLayout(horizon=8))
    path = save_checkpoint(tmp_path / "p.pt", policy, manifest)
    loaded, fields = load_checkpoint(path)
    assert fields.state.joints == tuple(STATE) and fields.layout.horizon == 8
    batch = make_batch(1, manifest.layout, len(STATE), manifest.image.size, np.random.default_rng(0))
    t = batch_tensors(batch, manifest)
    noise = torch.randn(1, 8, manifest.layout.dim)
    with torch.no_grad():
        args = (t["image"], t["tokens"], t["state"], t["state_mask"], noise)
        torch.testing.assert_close(policy.eval().sample("g1_like", *args), loaded.sample("g1_like", *args))
