"""The reaching task of one robot: where the ball may lie, what the expert does, what counts as success.

- Geometry: the head camera's pose comes from the robot's forward kinematics at its home pose and
  the configured extrinsics; the table lies a little below the reaching wrist's home height. Ball
  positions are drawn in a box in front of that wrist and kept only when the camera sees them
  (inside the square a centre-cropping policy keeps) and the arm's IK reaches them.
- Expert: the wrist moves straight toward the ball (exponential approach, speed-capped) and turns
  back toward its home orientation at the same rate; the hand closes as the wrist gets near. The
  other wrist returns the same way to its home pose, its hand open. Steering every wrist back to a
  nominal orientation matters in closed loop: relative steps that only ever keep the current
  orientation let a policy's small rotation errors add up reach after reach, carrying the arm into
  postures no demonstration showed. The plan is a chunk of absolute targets, turned into the
  policy's action layout by
  :func:`egoscale_ros.policy.transforms.encode_chunk` - the inverse of the decoding the policy
  node applies to the policy's output.
- Success: the wrist within :data:`SUCCESS_RADIUS_M` of the ball centre with the hand closed
  (:meth:`ReachTask.closure` on the robot's own hand joints).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from egoscale_ros.camera.reach_scene import BALL_RADIUS_M, DEFAULT_HFOV_DEG, Pinhole, ReachScene
from egoscale_ros.chunking.chunk import make_chunk
from egoscale_ros.kinematics.se3 import slerp_matrix_batch, so3_log
from egoscale_ros.policy.layout import ActionLayout
from egoscale_ros.policy.synthetic import hand_posture
from egoscale_ros.policy.transforms import encode_chunk
from egoscale_ros.robot.config import RobotConfig
from egoscale_ros.robot.kinematics import RobotKinematics

SUCCESS_RADIUS_M = 0.03
SUCCESS_CLOSURE = 0.7
EPISODE_S = 5.0

# Expert: exponential approach with this time constant, capped at this speed; the hand starts
# closing at CLOSE_START_M from the ball and is fully closed from CLOSE_END_M.
APPROACH_TAU_S = 0.3
MAX_SPEED_M_S = 0.3
CLOSE_START_M = 0.10
CLOSE_END_M = 0.04
INSTRUCTION = "pick up the red ball"


@dataclass(frozen=True)
class ReachRegion:
    """Ball positions relative to the reaching wrist's home position (metres, base frame):
    forward ``dx``, sideways ``dy`` (toward the body's midline positive for the right arm) and
    the ball centre's height ``dz`` above the wrist (in front of the chest, where the head
    camera sees it)."""

    dx: tuple[float, float] = (0.0, 0.16)
    dy: tuple[float, float] = (-0.05, 0.15)
    dz: float = 0.08


class ReachTask:
    """Task geometry, expert and success test for ``config`` reaching with its ``side`` arm."""

    def __init__(self, config: RobotConfig, side: str = "right", hfov_deg: float = DEFAULT_HFOV_DEG,
                 region: ReachRegion | None = None, kinematics: RobotKinematics | None = None,
                 camera: str | None = None):
        if side not in config.arms:
            raise ValueError(f"robot {config.name} has no {side} arm to reach with (arms: {sorted(config.arms)})")
        if not config.cameras:
            raise ValueError(f"robot {config.name} has no camera: the reaching task needs one to show the ball")
        self.config = config
        self.side = side
        self.region = region or ReachRegion()
        self.kinematics = kinematics or RobotKinematics(config)
        self.home = self.kinematics.home_positions()
        self.home_wrist = {s: self.kinematics.wrist_pose(s, self.home) for s in config.arms}
        cameras = {c.name: c for c in config.cameras}
        if camera is not None and camera not in cameras:
            raise ValueError(f"robot {config.name} has no camera '{camera}' (cameras: {sorted(cameras)})")
        camera = cameras[camera] if camera is not None else config.cameras[0]
        self.camera = camera
        base_T_camera = self.kinematics.frame_pose(camera.parent_frame, self.home) @ camera.extrinsics.matrix()
        self.ball_z = float(self.home_wrist[side][2, 3] + self.region.dz)
        intrinsics = Pinhole.from_hfov(camera.width, camera.height, hfov_deg)
        self.scene = ReachScene(base_T_camera, intrinsics, table_z=self.ball_z - BALL_RADIUS_M)
        self._ik = None

    # -- where the ball may be -------------------------------------------------------------------

    @property
    def ik(self):
        if self._ik is None:
            from egoscale_ros.ik.wrist_ik import WristIk

            self._ik = WristIk(self.config, "dls", kinematics=self.kinematics)
        return self._ik

    def solve_wrist(self, position: np.ndarray, rotation: np.ndarray | None = None) -> tuple[dict[str, float], float]:
        """Joint positions (home elsewhere) that put the reaching wrist at ``position`` with
        ``rotation`` (default: its home orientation), solved from home; and the position error."""
        target = self.home_wrist[self.side].copy()
        target[:3, 3] = position
        if rotation is not None:
            target[:3, :3] = rotation
        self.ik.reset()
        result = self.ik.solve_arm(self.side, target, self.home)
        q = dict(self.home)
        q.update(zip(self.config.arms[self.side].joints, result.q.tolist()))
        reached = self.kinematics.wrist_pose(self.side, q)[:3, 3]
        return q, float(np.linalg.norm(reached - position))

    def sample_balls(self, n: int, rng: np.random.Generator, max_ik_error_m: float = 0.005,
                     margin_px: float = 12.0) -> np.ndarray:
        """``(n, 3)`` ball centres in the base frame, seen by the camera and reached by the IK."""
        out: list[np.ndarray] = []
        home = self.home_wrist[self.side][:3, 3]
        toward_midline = -1.0 if self.side == "left" else 1.0
        tries = 0
        while len(out) < n:
            tries += 1
            if tries > 50 * n + 100:
                raise RuntimeError(f"{self.config.name}: fewer than 1 in 50 ball positions are visible and "
                                   f"reachable; the reach region {self.region} does not suit this robot")
            p = np.array([home[0] + rng.uniform(*self.region.dx),
                          home[1] + toward_midline * rng.uniform(*self.region.dy), self.ball_z])
            if not self.scene.visible(p, margin_px, crop_square=True):
                continue
            if self.solve_wrist(p)[1] > max_ik_error_m:
                continue
            out.append(p)
        return np.array(out)

    # -- the expert --------------------------------------------------------------------------------

    def expert_plan(self, start: np.ndarray, goal: np.ndarray, horizon: int, dt: float,
                    rotation: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Wrist poses ``(H, 4, 4)`` from the pose ``start`` toward the position ``goal`` and the
        orientation ``rotation`` (default: keep the start's), and their distances to ``goal`` ``(H,)``."""
        start = np.asarray(start, dtype=float)
        goal = np.asarray(goal, dtype=float)
        positions = np.empty((horizon, 3))
        p = start[:3, 3].copy()
        gain = 1.0 - np.exp(-dt / APPROACH_TAU_S)
        for k in range(horizon):
            step = gain * (goal - p)
            norm = np.linalg.norm(step)
            if norm > MAX_SPEED_M_S * dt:
                step *= MAX_SPEED_M_S * dt / norm
            p = p + step
            positions[k] = p
        poses = np.repeat(start[None], horizon, axis=0)
        poses[:, :3, 3] = positions
        if rotation is not None:
            turned = 1.0 - (1.0 - gain) ** np.arange(1, horizon + 1)
            poses[:, :3, :3] = slerp_matrix_batch(start[:3, :3], np.asarray(rotation, dtype=float), turned)
        return poses, np.linalg.norm(positions - goal, axis=-1)

    def expert_actions(self, wrists: Mapping[str, np.ndarray], ball: np.ndarray, layout: ActionLayout,
                       base_T_camera: np.ndarray | None = None) -> np.ndarray:
        """The expert's action chunk ``(H, dim)`` in ``layout`` from the wrist poses at observation."""
        h, dt = layout.horizon, layout.dt
        poses, hands, names = {}, {}, {}
        for side, hand in layout.hands.items():
            home = self.home_wrist[side]
            if side == self.side:
                poses[side], distance = self.expert_plan(wrists[side], ball, h, dt, home[:3, :3])
                closure = np.clip((CLOSE_START_M - distance) / (CLOSE_START_M - CLOSE_END_M), 0.0, 1.0)
            else:
                poses[side], _ = self.expert_plan(wrists[side], home[:3, 3], h, dt, home[:3, :3])
                closure = np.zeros(h)
            hands[side] = hand_posture(hand.joint_names, closure)
            names[side] = list(hand.joint_names)
        chunk = make_chunk(0, dt, poses, hands, hand_joint_names=names)
        return encode_chunk(chunk, layout, wrists, base_T_camera)

    def plan_features(self, wrists: Mapping[str, np.ndarray], ball: np.ndarray) -> np.ndarray:
        """What the expert's chunk follows from, in each wrist's own frame (12 numbers): the ball
        from the reaching wrist and that wrist's rotation back home, then the idle wrist's way to its
        home position and orientation (metres, radians). A policy that knows these knows the plan."""
        out = []
        for side in (self.side, *(s for s in self.config.arms if s != self.side)):
            pose, home = np.asarray(wrists[side], dtype=float), self.home_wrist[side]
            goal = ball if side == self.side else home[:3, 3]
            out += [pose[:3, :3].T @ (goal - pose[:3, 3]), so3_log(pose[:3, :3].T @ home[:3, :3])]
        return np.concatenate(out)

    # -- success -----------------------------------------------------------------------------------

    def wrist_position(self, joint_positions: Mapping[str, float]) -> np.ndarray:
        q = dict(self.home)
        q.update(joint_positions)
        return self.kinematics.wrist_pose(self.side, q)[:3, 3]

    def hand_postures(self, side: str | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
        """A hand's robot joints (default the reaching hand) and their open and closed postures:
        the policy's open and closed hand, retargeted onto the robot's hand as the graph does."""
        side = side or self.side
        cache = self.__dict__.setdefault("_hand_postures", {})
        if side not in cache:
            cache[side] = _robot_hand_postures(self.config, side)
        return cache[side]

    def closure(self, joint_positions: Mapping[str, float]) -> float:
        """How closed the reaching hand is: 0 open, 1 closed (projection on the open->closed line)."""
        names, open_, closed = self.hand_postures()
        q = np.array([joint_positions.get(n, np.nan) for n in names])
        if not np.all(np.isfinite(q)):
            return float("nan")
        span = closed - open_
        return float(np.dot(q - open_, span) / max(np.dot(span, span), 1e-12))

    def is_success(self, joint_positions: Mapping[str, float], ball: np.ndarray) -> tuple[bool, float, float]:
        """``(success, wrist distance to the ball, hand closure)`` for one joint state."""
        distance = float(np.linalg.norm(self.wrist_position(joint_positions) - ball))
        closure = self.closure(joint_positions)
        return bool(distance <= SUCCESS_RADIUS_M and closure >= SUCCESS_CLOSURE), distance, closure


def _robot_hand_postures(config: RobotConfig, side: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    from egoscale_ros.policy.layout import sharpa_joint_names
    from egoscale_ros.retarget.retargeter import Retargeter

    hand = config.hands.get(side)
    if hand is None:
        raise ValueError(f"robot {config.name} has no {side} hand to close")
    source = sharpa_joint_names(side)
    retargeter = Retargeter.from_config(hand.retarget, side, source="sharpa_wave")
    postures = []
    for closure in (0.0, 1.0):
        values = dict(zip(source, hand_posture(source, np.array([closure]))[0].tolist()))
        retargeter.reset()
        for _ in range(20):  # let the solver settle on this one pose
            q = retargeter.retarget(values, dt=None)
        full = dict(zip(retargeter.joint_names, q.tolist()))
        postures.append(np.array([full[j] for j in hand.joints]))
    return list(hand.joints), postures[0], postures[1]
