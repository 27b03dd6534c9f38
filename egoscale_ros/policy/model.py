"""Reference EgoScale-shaped flow-matching VLA in PyTorch.

Shape of the model (the split production VLA deployments use, so that export and runtimes are
exercised exactly as they would be with a real checkpoint):

- Backbone, once per observation: a patch encoder turns each camera image into tokens, the
  instruction's byte tokens are embedded, an embodiment-specific MLP turns the proprioceptive
  state into one token (a learnable token replaces it when the state is missing), and a
  transformer mixes them all into *context* tokens.
- Action expert, once per denoising step: a DiT over the ``H`` noisy action tokens that
  self-attends, cross-attends to the context tokens and is conditioned on the flow time through
  adaLN-Zero. Embodiment-specific MLPs encode the noisy actions and decode the velocity.
- Flow matching: ``x_t = (1 - t) * noise + t * action``, the network predicts the velocity
  ``action - noise``; sampling integrates it with ``K`` Euler steps from seeded noise.

Attention is written out with matmul/softmax (no fused kernels) so the exported ONNX graphs are
plain and every backend can run them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn

from egoscale_ros.policy.tokenizer import PAD_ID, VOCAB_SIZE


@dataclass(frozen=True)
class PolicyConfig:
    """Architecture hyper-parameters; presets below differ only in size."""

    image_size: int = 96
    patch_size: int = 16
    num_cameras: int = 1
    width: int = 128
    depth: int = 2
    heads: int = 4
    expert_width: int = 128
    expert_depth: int = 2
    expert_heads: int = 4
    mlp_ratio: float = 4.0
    max_tokens: int = 24
    vocab_size: int = VOCAB_SIZE
    horizon: int = 30
    action_dim: int = 62
    # embodiment id -> proprioceptive state size (0 = no proprioception, e.g. human video)
    embodiments: dict[str, int] = field(default_factory=lambda: {"g1_dex3": 28})

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def context_tokens(self) -> int:
        """Backbone output length: image patches of every camera, instruction tokens, state token."""
        return self.num_cameras * self.num_patches + self.max_tokens + 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PolicyConfig:
        return cls(**data)


PRESETS: dict[str, PolicyConfig] = {
    # Holds 30 Hz on two CPU cores with room to spare; the default for demo and tests.
    "tiny": PolicyConfig(),
    # Realistic widths: small ~ a compact VLA head, base ~ GR00T-class action expert width.
    "small": PolicyConfig(image_size=160, width=384, depth=6, heads=6, expert_width=384, expert_depth=6,
                          expert_heads=6, max_tokens=48),
    "base": PolicyConfig(image_size=224, patch_size=14, width=768, depth=12, heads=12, expert_width=1024,
                         expert_depth=16, expert_heads=16, max_tokens=64),
}


def preset_config(preset: str, **overrides) -> PolicyConfig:
    """The named preset with fields overridden (action_dim, horizon, embodiments...)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown policy preset {preset!r}; choose one of {sorted(PRESETS)}")
    return replace(PRESETS[preset], **overrides)


# --------------------------------------------------------------------------------------------- blocks


class Attention(nn.Module):
    """Multi-head attention (self or cross) written with plain ops for clean export."""

    def __init__(self, width: int, heads: int, context_width: int | None = None):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by heads {heads}")
        self.heads = heads
        self.head_dim = width // heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(context_width or width, 2 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                bias: torch.Tensor | None = None) -> torch.Tensor:
        b, n, w = x.shape
        ctx = x if context is None else context
        m = ctx.shape[1]
        q = self.q(x).reshape(b, n, self.heads, self.head_dim).transpose(1, 2)
        k, v = self.kv(ctx).reshape(b, m, 2, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        if bias is not None:
            scores = scores + bias
        attn = torch.softmax(scores, dim=-1)
        return self.out(torch.matmul(attn, v).transpose(1, 2).reshape(b, n, w))


def mlp(width_in: int, hidden: int, width_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width_in, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width_out))


class EncoderBlock(nn.Module):
    """Pre-LayerNorm transformer block of the backbone."""

    def __init__(self, width: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = mlp(width, int(width * mlp_ratio), width)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), bias=bias)
        return x + self.mlp(self.norm2(x))


class DiTBlock(nn.Module):
    """Action-expert block: self-attention, cross-attention to context, MLP; each modulated by the
    flow time through adaLN-Zero (shift, scale, gate), gates initialised to zero so that a fresh
    block is the identity."""

    def __init__(self, width: int, heads: int, context_width: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False)
        self.self_attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False)
        self.cross_attn = Attention(width, heads, context_width)
        self.norm3 = nn.LayerNorm(width, elementwise_affine=False)
        self.mlp = mlp(width, int(width * mlp_ratio), width)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 9 * width))
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        mods = self.modulation(cond).unsqueeze(1).chunk(9, dim=-1)
        s1, c1, g1, s2, c2, g2, s3, c3, g3 = mods
        x = x + g1 * self.self_attn(self.norm1(x) * (1 + c1) + s1)
        x = x + g2 * self.cross_attn(self.norm2(x) * (1 + c2) + s2, context)
        return x + g3 * self.mlp(self.norm3(x) * (1 + c3) + s3)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of flow time ``t`` in [0, 1] (scaled by 1000 like diffusion steps)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = (t.float() * 1000.0).unsqueeze(-1) * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


# --------------------------------------------------------------------------------------------- adapters


class EmbodimentAdapter(nn.Module):
    """Embodiment-specific MLPs: proprioceptive state -> one token, noisy actions -> expert tokens,
    expert tokens -> action velocity. Everything else is shared across embodiments."""

    def __init__(self, state_dim: int, action_dim: int, width: int, expert_width: int):
        super().__init__()
        self.state_dim = state_dim
        # Input: the normalised state with missing joints zeroed, concatenated with the mask, so the
        # network can tell "0 rad" from "unknown".
        self.state_encoder = mlp(2 * state_dim, width, width) if state_dim else None
        self.action_encoder = mlp(action_dim, expert_width, expert_width)
        self.action_decoder = nn.Sequential(nn.LayerNorm(expert_width), nn.Linear(expert_width, action_dim))


# --------------------------------------------------------------------------------------------- model


class EulerSampling:
    """``sample``: K Euler steps of the flow from ``noise`` (t = 0) to actions (t = 1), for a model
    with ``encode(embodiment, image, tokens, state, state_mask)`` and
    ``velocity(embodiment, noisy_actions, timestep, context)`` (every policy of the package)."""

    def sample(self, embodiment: str, image, tokens, state, state_mask, noise: torch.Tensor,
               steps: int = 4) -> torch.Tensor:
        context = self.encode(embodiment, image, tokens, state, state_mask)
        x = noise
        for k in range(steps):
            t = torch.full((x.shape[0],), k / steps, dtype=x.dtype, device=x.device)
            x = x + self.velocity(embodiment, x, t, context) / steps
        return x


class EgoScalePolicy(EulerSampling, nn.Module):
    """Backbone + DiT action expert with per-embodiment adapters."""

    def __init__(self, config: PolicyConfig):
        super().__init__()
        c = self.config = config
        if c.image_size % c.patch_size:
            raise ValueError(f"image_size {c.image_size} is not a multiple of patch_size {c.patch_size}")
        # Backbone.
        self.patch_embed = nn.Conv2d(3, c.width, c.patch_size, stride=c.patch_size)
        self.patch_pos = nn.Parameter(torch.randn(1, c.num_patches, c.width) * 0.02)
        self.camera_embed = nn.Parameter(torch.randn(1, c.num_cameras, 1, c.width) * 0.02)
        self.token_embed = nn.Embedding(c.vocab_size, c.width)
        self.token_pos = nn.Parameter(torch.randn(1, c.max_tokens, c.width) * 0.02)
        self.missing_state_token = nn.Parameter(torch.randn(1, 1, c.width) * 0.02)
        self.state_type = nn.Parameter(torch.randn(1, 1, c.width) * 0.02)
        self.blocks = nn.ModuleList(EncoderBlock(c.width, c.heads, c.mlp_ratio) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.width)
        self.context_proj = nn.Linear(c.width, c.expert_width)
        # Action expert.
        self.action_pos = nn.Parameter(torch.randn(1, c.horizon, c.expert_width) * 0.02)
        self.time_mlp = mlp(c.expert_width, c.expert_width, c.expert_width)
        self.expert_blocks = nn.ModuleList(
            DiTBlock(c.expert_width, c.expert_heads, c.expert_width, c.mlp_ratio) for _ in range(c.expert_depth)
        )
        self.final_norm = nn.LayerNorm(c.expert_width, elementwise_affine=False)
        self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(c.expert_width, 2 * c.expert_width))
        nn.init.zeros_(self.final_modulation[1].weight)
        nn.init.zeros_(self.final_modulation[1].bias)
        self.adapters = nn.ModuleDict(
            {name: EmbodimentAdapter(dim, c.action_dim, c.width, c.expert_width) for name, dim in c.embodiments.items()}
        )

    def adapter(self, embodiment: str) -> EmbodimentAdapter:
        if embodiment not in self.adapters:
            raise KeyError(f"embodiment {embodiment!r} has no adapter; this model knows {sorted(self.adapters)}")
        return self.adapters[embodiment]

    # -- backbone ------------------------------------------------------------------------------

    def encode(self, embodiment: str, image: torch.Tensor, tokens: torch.Tensor, state: torch.Tensor,
               state_mask: torch.Tensor) -> torch.Tensor:
        """Observation -> context tokens ``(B, context_tokens, expert_width)``.

        image: ``(B, cameras, 3, S, S)`` normalised float; tokens: ``(B, max_tokens)`` int64;
        state, state_mask: ``(B, state_dim)`` float (mask 1 = joint measured).
        """
        c = self.config
        b = image.shape[0]
        patches = self.patch_embed(image.reshape(b * c.num_cameras, 3, c.image_size, c.image_size))
        patches = patches.flatten(2).transpose(1, 2).reshape(b, c.num_cameras, c.num_patches, c.width)
        patches = (patches + self.patch_pos.unsqueeze(1) + self.camera_embed).reshape(b, -1, c.width)
        text = self.token_embed(tokens) + self.token_pos
        state_token = self._state_token(embodiment, state, state_mask)
        x = torch.cat([patches, text, state_token], dim=1)
        # Padding tokens are never attended to.
        pad = (tokens == PAD_ID).to(x.dtype)
        key_bias = torch.cat([torch.zeros_like(x[:, : patches.shape[1], 0]), pad * -1e9,
                              torch.zeros_like(x[:, :1, 0])], dim=1)
        bias = key_bias[:, None, None, :]
        for block in self.blocks:
            x = block(x, bias)
        return self.context_proj(self.norm(x))

    def _state_token(self, embodiment: str, state: torch.Tensor, state_mask: torch.Tensor) -> torch.Tensor:
        adapter = self.adapter(embodiment)
        b = state.shape[0]
        missing = self.missing_state_token.expand(b, 1, -1)
        if adapter.state_encoder is None:
            return missing + self.state_type
        measured = adapter.state_encoder(torch.cat([state * state_mask, state_mask], dim=-1)).unsqueeze(1)
        # A learnable token stands in when no joint at all is measured (human data, lost feedback).
        any_measured = (state_mask.sum(dim=-1, keepdim=True) > 0).to(state.dtype).unsqueeze(-1)
        return any_measured * measured + (1 - any_measured) * missing + self.state_type

    # -- action expert ---------------------------------------------------------------------------

    def velocity(self, embodiment: str, noisy_actions: torch.Tensor, timestep: torch.Tensor,
                 context: torch.Tensor) -> torch.Tensor:
        """One denoising evaluation: ``(B, H, action_dim)`` at flow time ``timestep (B,)`` -> velocity."""
        adapter = self.adapter(embodiment)
        x = adapter.action_encoder(noisy_actions) + self.action_pos
        cond = self.time_mlp(timestep_embedding(timestep, self.config.expert_width))
        for block in self.expert_blocks:
            x = block(x, cond, context)
        shift, scale = self.final_modulation(cond).unsqueeze(1).chunk(2, dim=-1)
        return adapter.action_decoder(self.final_norm(x) * (1 + scale) + shift)

    # -- flow matching ---------------------------------------------------------------------------

    def flow_matching_loss(self, embodiment: str, image, tokens, state, state_mask, actions: torch.Tensor,
                           action_mask: torch.Tensor | None = None,
                           generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean squared error between predicted and true velocity at a random flow time.

        Flow time is drawn from a Beta(1.5, 1) mapped so that noisy (small ``t``) inputs, which the
        first Euler steps see, are sampled more often (as in pi0).
        """
        b = actions.shape[0]
        noise = torch.randn(actions.shape, generator=generator, device=actions.device, dtype=actions.dtype)
        u = torch.distributions.Beta(1.5, 1.0).sample((b,)).to(actions.device, actions.dtype)
        t = (1.0 - u) * 0.999
        tt = t[:, None, None]
        x_t = (1 - tt) * noise + tt * actions
        target = actions - noise
        context = self.encode(embodiment, image, tokens, state, state_mask)
        err = (self.velocity(embodiment, x_t, t, context) - target) ** 2
        if action_mask is not None:
            err = err * action_mask
            return err.sum() / action_mask.expand_as(err).sum().clamp_min(1.0)
        return err.mean()


class BackboneGraph(nn.Module):
    """Export wrapper: one embodiment's backbone as a graph with named tensor inputs."""

    def __init__(self, policy: EgoScalePolicy, embodiment: str):
        super().__init__()
        self.policy, self.embodiment = policy, embodiment

    def forward(self, image, tokens, state, state_mask):
        return self.policy.encode(self.embodiment, image, tokens, state, state_mask)


class ActionExpertGraph(nn.Module):
    """Export wrapper: one denoising step of one embodiment's action expert."""

    def __init__(self, policy: EgoScalePolicy, embodiment: str):
        super().__init__()
        self.policy, self.embodiment = policy, embodiment

    def forward(self, noisy_actions, timestep, context):
        return self.policy.velocity(self.embodiment, noisy_actions, timestep, context)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
