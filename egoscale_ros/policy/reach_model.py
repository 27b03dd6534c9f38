"""A small flow-matching policy for the reaching task (:mod:`egoscale_ros.reach`), exported as two graphs.

The task needs little: where the ball is in the image and where the arm is. So:

- Backbone: image keypoints from a per-channel *spatial soft-argmax* (the expected pixel
  coordinates of a feature map) over two kinds of maps: fixed colour-opponent saliency (each of R,
  G, B against the mean of the other two; with its peak value, which says whether anything of that
  colour is in view) and two small learned convolutions. A red ball's position is then a smooth
  function of the pixels from the first step of training. The proprioceptive state (with its mask)
  and a bag of instruction tokens join the keypoints in an MLP that gives one context token.
- Action expert: an MLP over the flattened noisy chunk, the flow time's sinusoidal embedding and
  the context estimates the clean chunk; the flow velocity follows from it as
  ``(estimate - x_t) / (1 - t)`` (the velocity of the straight noise-to-action path). Asking a
  narrow MLP for the velocity itself would make it carry every one of the chunk's ~2000 noise
  values through its bottleneck; the clean chunk is low-dimensional (a reach and a grasp).

The graphs take and return exactly what the reference policy's do (``image, tokens, state,
state_mask -> context``; ``noisy_actions, timestep, context -> velocity``), so export, manifest
checks and every runtime treat it like any other policy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from egoscale_ros.policy.model import timestep_embedding
from egoscale_ros.policy.tokenizer import PAD_ID, VOCAB_SIZE

ARCHITECTURE = "reach_keypoints"
MIN_REMAINING = 0.02  # 1 - t never reaches 0 on the Euler grid; this only guards the division


@dataclass(frozen=True)
class ReachPolicyConfig:
    """Sizes of :class:`ReachPolicy` (field names shared with the reference config where they mean
    the same: export reads image_size, num_cameras, max_tokens, horizon, action_dim)."""

    image_size: int = 64
    num_cameras: int = 1
    channels: int = 8
    keypoints: int = 8
    width: int = 256
    expert_width: int = 256
    time_width: int = 64
    max_tokens: int = 24
    vocab_size: int = VOCAB_SIZE
    horizon: int = 30
    action_dim: int = 62
    embodiments: dict[str, int] = field(default_factory=lambda: {"g1_dex3": 28})
    architecture: str = ARCHITECTURE

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ReachPolicyConfig:
        return cls(**data)


PRESETS = {"tiny": ReachPolicyConfig()}


class SpatialSoftArgmax(nn.Module):
    """Feature maps ``(B, K, H, W)`` -> expected ``(x, y)`` in [-1, 1] per map ``(B, 2K)``."""

    def __init__(self, height: int, width: int, channels: int):
        super().__init__()
        ys, xs = torch.meshgrid(torch.linspace(-1.0, 1.0, height), torch.linspace(-1.0, 1.0, width), indexing="ij")
        self.register_buffer("grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1), persistent=False)
        self.log_temperature = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        b, k = features.shape[:2]
        logits = features.reshape(b, k, -1) * torch.exp(-self.log_temperature)
        attention = torch.softmax(logits, dim=-1)
        return torch.matmul(attention, self.grid).reshape(b, 2 * k)


class ColourKeypoints(nn.Module):
    """Normalised RGB ``(B, 3, S, S)`` -> per colour-opponent channel the soft-argmax position and
    the peak saliency ``(B, 9)``. No parameters: a fixed, exportable image feature."""

    def __init__(self, size: int, temperature: float = 0.05):
        super().__init__()
        self.soft_argmax = SpatialSoftArgmax(size, size, 3)
        self.soft_argmax.log_temperature.requires_grad_(False)
        self.scale = 1.0 / temperature

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        r, g, b = image[:, 0], image[:, 1], image[:, 2]
        saliency = torch.stack([r - 0.5 * (g + b), g - 0.5 * (r + b), b - 0.5 * (r + g)], dim=1)
        peak = saliency.flatten(2).amax(dim=-1)
        return torch.cat([self.soft_argmax(saliency * self.scale), peak], dim=-1)


class ReachPolicy(nn.Module):
    """Keypoint backbone + MLP flow head; per-embodiment state encoders."""

    def __init__(self, config: ReachPolicyConfig):
        super().__init__()
        c = self.config = config
        half = c.image_size // 2
        self.image_encoder = nn.Sequential(
            nn.Conv2d(3 * c.num_cameras, c.channels, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(c.channels, c.channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c.channels, c.keypoints, 1),
        )
        self.soft_argmax = SpatialSoftArgmax(half, half, c.keypoints)
        self.colour_keypoints = ColourKeypoints(c.image_size)
        self.token_embed = nn.Embedding(c.vocab_size, 16)
        self.state_encoders = nn.ModuleDict({
            name: nn.Linear(2 * dim, c.width) for name, dim in c.embodiments.items()
        })
        self.trunk = nn.Sequential(
            nn.Linear(2 * c.keypoints + 9 * c.num_cameras + 16, c.width), nn.GELU(approximate="tanh"),
        )
        self.context_mlp = nn.Sequential(
            nn.Linear(c.width, c.width), nn.GELU(approximate="tanh"), nn.Linear(c.width, c.width),
            nn.GELU(approximate="tanh"), nn.Linear(c.width, c.width),
        )
        flat = c.horizon * c.action_dim
        self.expert = nn.Sequential(
            nn.Linear(flat + c.time_width + c.width, c.expert_width), nn.GELU(approximate="tanh"),
            nn.Linear(c.expert_width, c.expert_width), nn.GELU(approximate="tanh"),
            nn.Linear(c.expert_width, flat),
        )

    def _state_encoder(self, embodiment: str) -> nn.Linear:
        if embodiment not in self.state_encoders:
            raise KeyError(f"embodiment {embodiment!r} has no state encoder; this model knows {sorted(self.state_encoders)}")
        return self.state_encoders[embodiment]

    def encode(self, embodiment: str, image: torch.Tensor, tokens: torch.Tensor, state: torch.Tensor,
               state_mask: torch.Tensor) -> torch.Tensor:
        """Observation -> one context token ``(B, 1, width)``."""
        c = self.config
        b = image.shape[0]
        pixels = image.reshape(b, 3 * c.num_cameras, c.image_size, c.image_size)
        keypoints = self.soft_argmax(self.image_encoder(pixels))
        colours = self.colour_keypoints(image.reshape(b * c.num_cameras, 3, c.image_size, c.image_size))
        keypoints = torch.cat([keypoints, colours.reshape(b, -1)], dim=-1)
        present = (tokens != PAD_ID).to(image.dtype).unsqueeze(-1)
        words = (self.token_embed(tokens) * present).sum(dim=1) / present.sum(dim=1).clamp_min(1.0)
        x = self.trunk(torch.cat([keypoints, words], dim=-1))
        x = x + self._state_encoder(embodiment)(torch.cat([state * state_mask, state_mask], dim=-1))
        return self.context_mlp(x).unsqueeze(1)

    def denoise(self, noisy_actions: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Estimate of the clean chunk ``(B, H, action_dim)`` from the noisy one at flow time ``timestep``."""
        b = noisy_actions.shape[0]
        t = timestep_embedding(timestep, self.config.time_width)
        x = torch.cat([noisy_actions.reshape(b, -1), t, context.reshape(b, -1)], dim=-1)
        return self.expert(x).reshape(noisy_actions.shape)

    def velocity(self, embodiment: str, noisy_actions: torch.Tensor, timestep: torch.Tensor,
                 context: torch.Tensor) -> torch.Tensor:
        """Flow velocity of the whole chunk at flow time ``timestep (B,)`` (0 = noise, 1 = action)."""
        remaining = (1.0 - timestep).clamp_min(MIN_REMAINING)[:, None, None]
        return (self.denoise(noisy_actions, timestep, context) - noisy_actions) / remaining

    def sample(self, embodiment: str, image, tokens, state, state_mask, noise: torch.Tensor,
               steps: int = 4) -> torch.Tensor:
        context = self.encode(embodiment, image, tokens, state, state_mask)
        x = noise
        for k in range(steps):
            t = torch.full((x.shape[0],), k / steps, dtype=x.dtype, device=x.device)
            x = x + self.velocity(embodiment, x, t, context) / steps
        return x

    def flow_matching_loss(self, embodiment: str, image, tokens, state, state_mask, actions: torch.Tensor,
                           generator: torch.Generator | None = None) -> torch.Tensor:
        """Flow matching in its clean-sample form: the error of the velocity, ``(1 - t)²``-weighted,
        which is the error of the clean-chunk estimate (flow times uniform in [0, 1))."""
        b = actions.shape[0]
        noise = torch.randn(actions.shape, generator=generator, dtype=actions.dtype)
        t = torch.rand((b,), generator=generator, dtype=actions.dtype) * 0.999
        tt = t[:, None, None]
        x_t = (1 - tt) * noise + tt * actions
        context = self.encode(embodiment, image, tokens, state, state_mask)
        return ((self.denoise(x_t, t, context) - actions) ** 2).mean()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

