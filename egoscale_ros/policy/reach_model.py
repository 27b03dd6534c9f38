"""A small flow-matching policy for the reaching task (:mod:`egoscale_ros.reach`), exported as two graphs.

The task needs little: where the ball is in the image and where the arm is. So:

- Backbone: image keypoints from a per-channel *spatial soft-argmax* (the expected pixel
  coordinates of a feature map) over two kinds of maps: fixed colour-opponent saliency (each of R,
  G, B against the mean of the other two; with its peak value, which says whether anything of that
  colour is in view) and two small learned convolutions. A red ball's position is then a smooth
  function of the pixels from the first step of training. The proprioceptive state (with its mask)
  and a bag of instruction tokens join the keypoints in an MLP that gives one context token.
- Plan: a linear read-out of the context gives the few numbers the expert's chunk follows from -
  the ball as seen from the reaching wrist, each wrist's turn back to its home orientation, the
  idle wrist's way home (:meth:`egoscale_ros.reach.task.ReachTask.plan_features`). Training
  supervises it beside the flow loss, so the context must hold exactly what reaching needs
  (the ball's pixel turned into a position relative to a wrist known only through its joint
  angles) instead of whatever lowers the loss of some of the ~2000 action values.
- Action expert: the expert's chunks are smooth reaches and grasps, so they lie close to a
  low-dimensional subspace of the ~2000 action values: the principal components of the training
  chunks (:meth:`ReachPolicy.set_action_basis`, fixed buffers exported with the graphs). An MLP
  over the noisy chunk's code in that subspace, the flow time's sinusoidal embedding and the
  context estimates the clean chunk's code; the flow velocity follows from the estimate as
  ``(estimate - x_t) / (1 - t)`` (the velocity of the straight noise-to-action path). The last
  Euler step lands on the estimate, so the output always lies in the subspace: the noise outside
  it never reaches the robot, and the head spends its width on the few numbers that place the
  reach (where to go, when to close) instead of carrying every noise value through a bottleneck.

The graphs take and return exactly what the reference policy's do (``image, tokens, state,
state_mask -> context``; ``noisy_actions, timestep, context -> velocity``), so export, manifest
checks and every runtime treat it like any other policy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from egoscale_ros.policy.model import EulerSampling, timestep_embedding
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
    code_size: int = 24  # principal components of the action chunks the head predicts
    plan_size: int = 12  # numbers that fix the expert's chunk (ReachTask.plan_features: 6 per arm)
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


class ReachPolicy(EulerSampling, nn.Module):
    """Keypoint backbone + MLP flow head over a principal-component code; per-embodiment state encoders."""

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
        # Mean chunk and orthonormal basis (rows) of the chunk subspace; set from the training data.
        self.register_buffer("chunk_mean", torch.zeros(flat))
        self.register_buffer("chunk_basis", torch.eye(c.code_size, flat))
        # The plan (where the ball and the home poses are from each wrist), read off the context and
        # supervised in training: the keypoint the whole chunk follows from.
        self.plan_head = nn.Linear(c.width, c.plan_size)
        self.expert = nn.Sequential(
            nn.Linear(c.code_size + c.time_width + c.width + c.plan_size, c.expert_width), nn.GELU(approximate="tanh"),
            nn.Linear(c.expert_width, c.expert_width), nn.GELU(approximate="tanh"),
            nn.Linear(c.expert_width, c.code_size),
        )

    @torch.no_grad()
    def set_action_basis(self, actions: torch.Tensor) -> float:
        """Mean and principal components of normalised training chunks ``(N, H, action_dim)``;
        returns the fraction of their variance the code keeps."""
        flat = actions.reshape(actions.shape[0], -1).to(torch.float64)
        mean = flat.mean(dim=0)
        _, singular, vt = torch.linalg.svd(flat - mean, full_matrices=False)
        k = self.config.code_size
        if vt.shape[0] < k:
            raise ValueError(f"{vt.shape[0]} chunks cannot give {k} principal components")
        # SVD signs are arbitrary: fix them so the same data always gives the same basis.
        basis = vt[:k] * torch.sign(vt[:k].sum(dim=1, keepdim=True) + 1e-30)
        self.chunk_mean.copy_(mean.to(self.chunk_mean.dtype))
        self.chunk_basis.copy_(basis.to(self.chunk_basis.dtype))
        return float((singular[:k] ** 2).sum() / (singular ** 2).sum().clamp_min(1e-30))

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
        code = (noisy_actions.reshape(b, -1) - self.chunk_mean) @ self.chunk_basis.T
        context = context.reshape(b, -1)
        x = torch.cat([code, t, context, self.plan_head(context)], dim=-1)
        return (self.chunk_mean + self.expert(x) @ self.chunk_basis).reshape(noisy_actions.shape)

    def velocity(self, embodiment: str, noisy_actions: torch.Tensor, timestep: torch.Tensor,
                 context: torch.Tensor) -> torch.Tensor:
        """Flow velocity of the whole chunk at flow time ``timestep (B,)`` (0 = noise, 1 = action)."""
        remaining = (1.0 - timestep).clamp_min(MIN_REMAINING)[:, None, None]
        return (self.denoise(noisy_actions, timestep, context) - noisy_actions) / remaining

    def flow_matching_loss(self, embodiment: str, image, tokens, state, state_mask, actions: torch.Tensor,
                           generator: torch.Generator | None = None, plan: torch.Tensor | None = None) -> torch.Tensor:
        """Flow matching in its clean-sample form: the error of the velocity, ``(1 - t)²``-weighted,
        which is the error of the clean-chunk estimate (flow times uniform in [0, 1)); plus, given
        the normalised ``plan (B, plan_size)`` of each chunk, the error of its read-out."""
        b = actions.shape[0]
        noise = torch.randn(actions.shape, generator=generator, dtype=actions.dtype)
        t = torch.rand((b,), generator=generator, dtype=actions.dtype) * 0.999
        tt = t[:, None, None]
        x_t = (1 - tt) * noise + tt * actions
        context = self.encode(embodiment, image, tokens, state, state_mask)
        loss = ((self.denoise(x_t, t, context) - actions) ** 2).mean()
        if plan is not None:
            loss = loss + ((self.plan_head(context.reshape(b, -1)) - plan) ** 2).mean()
        return loss
