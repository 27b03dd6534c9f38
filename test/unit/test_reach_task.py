"""Specification of the reaching task: scene geometry, expert demonstrations, success and scoring."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.camera.reach_scene import BALL_RGB, BLANK_GREY, Pinhole, ReachScene, ReachSource
from egoscale_ros.camera.spec import parse_spec
from egoscale_ros.chunking.chunk import make_chunk
from egoscale_ros.kinematics import se3
from egoscale_ros.policy.layout import ActionLayout
from egoscale_ros.policy.synthetic import hand_posture
from egoscale_ros.policy.transforms import decode_chunk, encode_chunk
from egoscale_ros.reach.scoring import EpisodeScorer, summarise
from egoscale_ros.reach.task import CLOSE_END_M, CLOSE_START_M, SUCCESS_RADIUS_M, ReachTask
from egoscale_ros.robot.config import load_robot_config


@pytest.fixture(scope="module", params=["g1_dex3", "r1pro_sharpa"])
def task(request) -> ReachTask:
    return ReachTask(load_robot_config(request.param))


def _random_pose(rng: np.random.Generator) -> np.ndarray:
    return se3.make_transform(se3.so3_exp(rng.normal(size=3)), rng.normal(size=3))


@pytest.mark.parametrize("frame,representation", [("wrist", "relative"), ("base", "relative"),
                                                  ("camera", "relative"), ("base", "absolute"),
                                                  ("camera", "absolute")])
@pytest.mark.parametrize("rotation", ["rot6d", "quaternion"])
def test_encode_chunk_is_the_inverse_of_the_decoding_the_policy_node_applies(frame, representation, rotation):
    rng = np.random.default_rng(3)
    layout = ActionLayout(horizon=6, rotation=rotation, representation=representation, frame=frame)
    start = {s: _random_pose(rng) for s in layout.sides}
    camera = _random_pose(rng)
    chunk = make_chunk(0, layout.dt, {s: np.stack([_random_pose(rng) for _ in range(6)]) for s in layout.sides},
                       {s: rng.normal(size=(6, 22)) for s in layout.sides},
                       hand_joint_names={s: list(layout.hands[s].joint_names) for s in layout.sides})
    decoded = decode_chunk(encode_chunk(chunk, layout, start, camera), layout, 0, start, camera)
    for side in layout.sides:
        np.testing.assert_allclose(decoded.wrist[side], chunk.wrist[side], atol=1e-9)
        np.testing.assert_allclose(decoded.hand[side], chunk.hand[side])


def test_the_ball_appears_where_the_camera_projects_its_base_frame_position(task):
    ball = task.sample_balls(1, np.random.default_rng(0))[0]
    frame = task.scene.render(ball[:2])
    u, v = np.round(task.scene.pixel_of(ball)).astype(int)
    assert frame.shape == (task.camera.height, task.camera.width, 3)
    assert tuple(frame[v, u]) == BALL_RGB or np.abs(frame[v, u].astype(int) - BALL_RGB).max() < 90
    empty = task.scene.render(None)
    assert np.abs(empty[v, u].astype(int) - BALL_RGB).max() > 60  # the table, not the ball
    assert np.all(task.scene.render(ball[:2], blank=True) == BLANK_GREY)


def test_a_farther_ball_looks_smaller_and_higher_in_the_image():
    camera = se3.make_transform(se3.rpy_to_matrix([-np.pi / 2 - 0.5, 0.0, -np.pi / 2]), [0.0, 0.0, 0.5])
    scene = ReachScene(camera, Pinhole.from_hfov(320, 240, 90.0), table_z=0.0)
    red = [np.all(np.abs(scene.render(np.array([x, 0.0])).astype(int) - BALL_RGB) < 60, axis=-1)
           for x in (0.6, 1.0)]
    near, far = (np.argwhere(r) for r in red)
    assert len(far) < len(near)
    assert far[:, 0].mean() < near[:, 0].mean()


def test_sampled_balls_are_visible_to_a_centre_cropping_policy_and_reachable(task):
    balls = task.sample_balls(8, np.random.default_rng(1))
    for ball in balls:
        assert task.scene.visible(ball, crop_square=True)
        assert task.solve_wrist(ball)[1] < 0.005
    assert np.ptp(balls[:, 0]) > 0.05 and np.ptp(balls[:, 1]) > 0.05  # spread out, not one spot


def test_the_expert_reaches_the_ball_and_turns_the_wrist_back_to_its_home_orientation(task):
    ball = task.sample_balls(1, np.random.default_rng(2))[0]
    home = task.home_wrist[task.side]
    start = home.copy()
    start[:3, :3] = home[:3, :3] @ se3.so3_exp(np.array([0.3, -0.2, 0.1]))  # a wrist turned 21 degrees
    poses, distance = task.expert_plan(start, ball, horizon=90, dt=1 / 30, rotation=home[:3, :3])
    steps = np.linalg.norm(np.diff(np.vstack([start[:3, 3], poses[:, :3, 3]]), axis=0), axis=1)
    assert steps.max() <= 0.3 / 30 + 1e-9  # speed cap
    assert np.linalg.norm(poses[-1, :3, 3] - ball) < 0.01 and distance[-1] < 0.01
    turned = [se3.rotation_angle(home[:3, :3].T @ p[:3, :3]) for p in poses]
    assert turned[-1] < 0.01 and all(np.diff(turned) < 0)
    kept, _ = task.expert_plan(start, ball, horizon=10, dt=1 / 30)
    np.testing.assert_allclose(kept[:, :3, :3], np.repeat(start[None, :3, :3], 10, 0), atol=1e-12)


def test_demonstration_actions_decode_to_the_expert_plan_in_the_manifest_frame(task):
    ball = task.sample_balls(1, np.random.default_rng(4))[0]
    other = "left" if task.side == "right" else "right"
    wrists = {s: pose.copy() for s, pose in task.home_wrist.items()}
    wrists[other][:3, 3] += [0.02, 0.0, -0.03]  # the idle wrist away from home: it returns there
    for frame in ("wrist", "base"):
        layout = ActionLayout(frame=frame)
        actions = task.expert_actions(wrists, ball, layout)
        chunk = decode_chunk(actions, layout, 0, wrists)
        plan, distance = task.expert_plan(wrists[task.side], ball, layout.horizon, layout.dt,
                                          task.home_wrist[task.side][:3, :3])
        np.testing.assert_allclose(chunk.wrist[task.side], plan, atol=1e-9)
        closure = np.clip((CLOSE_START_M - distance) / (CLOSE_START_M - CLOSE_END_M), 0.0, 1.0)
        np.testing.assert_allclose(chunk.hand[task.side], hand_posture(layout.hands[task.side].joint_names, closure))
        back, _ = task.expert_plan(wrists[other], task.home_wrist[other][:3, 3], layout.horizon, layout.dt,
                                   task.home_wrist[other][:3, :3])
        np.testing.assert_allclose(chunk.wrist[other], back, atol=1e-9)
        assert np.linalg.norm(back[-1, :3, 3] - task.home_wrist[other][:3, 3]) < 0.002


def test_success_needs_the_wrist_near_the_ball_and_the_hand_closed(task):
    ball = task.sample_balls(1, np.random.default_rng(5))[0]
    names, open_, closed = task.hand_postures()
    q, error = task.solve_wrist(ball)
    assert error < 0.005
    assert task.is_success({**q, **dict(zip(names, closed))}, ball)[0]
    assert not task.is_success({**q, **dict(zip(names, open_))}, ball)[0]
    far, _ = task.solve_wrist(ball + np.array([0.0, 0.0, 2 * SUCCESS_RADIUS_M]))
    assert not task.is_success({**far, **dict(zip(names, closed))}, ball)[0]


def test_scoring_counts_the_first_success_and_times_out(task):
    ball = task.sample_balls(1, np.random.default_rng(6))[0]
    names, open_, closed = task.hand_postures()
    q, _ = task.solve_wrist(ball)
    reached = EpisodeScorer(task, ball, limit_s=5.0)
    assert not reached.observe(0.5, {**task.home, **dict(zip(names, open_))})
    assert reached.observe(1.5, {**q, **dict(zip(names, closed))})
    missed = EpisodeScorer(task, ball, limit_s=5.0)
    assert not missed.observe(4.9, task.home)
    assert missed.observe(5.1, task.home)
    summary = summarise([reached.result(0, 45), missed.result(1, 150)])
    assert summary["successes"] == 1 and summary["success_rate"] == 0.5
    assert summary["time_to_success_s_median"] == 1.5
    assert summary["chunk_rate_hz"] == round(195 / (1.5 + 5.0), 2)  # a missed episode lasted its limit


def test_reach_source_moves_the_ball_and_the_spec_names_it(task):
    source = ReachSource(task.scene)
    source.open()
    empty = source.read()
    source.set_ball(task.sample_balls(1, np.random.default_rng(7))[0])
    assert not np.array_equal(source.read(), empty)
    source.set_ball(np.array([np.nan, 0.0]))
    assert np.array_equal(source.read(), empty)
    assert parse_spec("reach").kind == "reach" and parse_spec("reach:blank").target == "reach:blank"


def test_evaluation_balls_are_apart_from_where_the_wrist_waits(task):
    from egoscale_ros.reach.evaluation import MIN_BALL_SEPARATION_M, episode_balls

    balls = episode_balls(task, 10, np.random.default_rng(8))
    previous = np.vstack([task.home_wrist[task.side][None, :3, 3], balls[:-1]])
    assert len(balls) == 10
    assert np.all(np.linalg.norm(balls - previous, axis=1) >= MIN_BALL_SEPARATION_M)
