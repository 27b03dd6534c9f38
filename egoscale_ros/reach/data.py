"""Demonstrations of the reaching task: what the robot would see and feel, and what the expert does.

Each sample: a ball position (from :meth:`ReachTask.sample_balls`), a robot state on the way
toward it - from home, or from where an earlier reach ended (another ball position): the wrist
placed along the straight line plus noise, the arm solved by the package's own IK, then every arm
joint perturbed (a random scale per sample, up to :data:`ARM_NOISE_RAD`) so that the states cover
the turned wrists and other redundant postures that closed-loop control reaches, and the expert
shows how to get back from them; hands part-way closed - the
camera image the reaching scene renders for that ball, fitted to the policy's input exactly as
the policy node does, and the expert's action chunk from the wrist poses that state gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egoscale_ros.policy.layout import ActionLayout
from egoscale_ros.policy.transforms import fit_image
from egoscale_ros.reach.task import ReachTask

STATE_STD_FLOOR = 0.05  # rad: joints that barely move in the demonstrations must not blow up
ARM_NOISE_RAD = 0.08  # largest per-joint standard deviation of the arms' perturbation


@dataclass
class ReachData:
    """Raw samples: images uint8 ``(N, S, S, 3)``, states ``(N, n)`` in the policy's joint order,
    actions ``(N, H, dim)`` in the layout's units, the ball of each sample ``(N, 3)`` and the
    expert's plan ``(N, p)`` (:meth:`ReachTask.plan_features`)."""

    images: np.ndarray
    states: np.ndarray
    actions: np.ndarray
    balls: np.ndarray
    plans: np.ndarray

    def __len__(self) -> int:
        return len(self.states)

    def statistics(self) -> dict[str, np.ndarray]:
        acts = self.actions.reshape(-1, self.actions.shape[-1])
        return {"state_mean": self.states.mean(axis=0),
                "state_std": np.maximum(self.states.std(axis=0), STATE_STD_FLOOR),
                "action_mean": acts.mean(axis=0), "action_std": np.maximum(acts.std(axis=0), 1e-4)}


def _hand_state(task: ReachTask, side: str, closure: float, rng: np.random.Generator) -> dict[str, float]:
    names, open_, closed = task.hand_postures(side)
    q = open_ + closure * (closed - open_) + rng.normal(0.0, 0.03, len(names))
    return dict(zip(names, q.tolist()))


def make_demonstrations(task: ReachTask, layout: ActionLayout, state_joints: list[str], samples: int,
                        image_size: int, rng: np.random.Generator, balls_per_position: int = 4,
                        progress=None) -> ReachData:
    """``samples`` demonstrations; each ball position is reused for ``balls_per_position`` states."""
    n_balls = max(1, -(-samples // balls_per_position))
    balls = task.sample_balls(n_balls, rng)
    home_wrist = task.home_wrist[task.side][:3, 3]
    images = np.zeros((samples, image_size, image_size, 3), np.uint8)
    states = np.zeros((samples, len(state_joints)))
    actions = np.zeros((samples, layout.horizon, layout.dim))
    ball_of = np.zeros((samples, 3))
    plans = np.zeros((samples, 6 * len(task.config.arms)))
    frames: dict[int, np.ndarray] = {}
    for i in range(samples):
        b = i // balls_per_position
        ball = balls[b]
        start = home_wrist if rng.uniform() < 0.4 else balls[rng.integers(len(balls))]
        along = rng.uniform(-0.2, 1.1)
        spot = start + along * (ball - start) + rng.normal(0.0, [0.03, 0.03, 0.02])
        q, _ = task.solve_wrist(spot)
        for cfg in task.config.arms.values():
            scale = rng.uniform(0.0, ARM_NOISE_RAD)
            for j in cfg.joints:
                q[j] += rng.normal(0.0, scale)
        for side in task.config.hands:
            closure = rng.uniform(0.0, 1.0) if side == task.side else rng.uniform(0.0, 0.2)
            q.update(_hand_state(task, side, closure, rng))
        wrists = {s: task.kinematics.wrist_pose(s, q) for s in layout.sides}
        actions[i] = task.expert_actions(wrists, ball, layout)
        plans[i] = task.plan_features(wrists, ball)
        states[i] = [q.get(j, 0.0) for j in state_joints]
        if b not in frames:
            frames = {b: fit_image(task.scene.render(ball[:2]), image_size)}
        images[i] = frames[b]
        ball_of[i] = ball
        if progress is not None:
            progress(1)
    return ReachData(images, states, actions, ball_of, plans)
