"""Specification of the observation -> chunk pipeline the policy node runs."""


import numpy as np
import pytest

from egoscale_ros.kinematics import se3
from egoscale_ros.policy.manifest import load_manifest
from egoscale_ros.policy.pipeline import Observation, PolicyPipeline
from egoscale_ros.policy.runtime import create_runtime
from egoscale_ros.policy.runtime_base import PolicyRuntime
from egoscale_ros.policy.synthetic import COLOURS, render_scene


@pytest.fixture(scope="module")
def manifest(exported):
    return load_manifest(exported)


@pytest.fixture(scope="module")
def runtime(manifest):
    return create_runtime(manifest, "onnxruntime", device="cpu", strict=True).runtime


def observation(manifest, stamp_ns=5_000_000_000):
    image = render_scene(480, np.array([0.3, 0.6]), COLOURS["red"], np.random.default_rng(0))[:, :]
    image = np.ascontiguousarray(np.concatenate([image, image[:, :160]], axis=1))  # 480x640
    wrists = {"left": se3.make_transform(trans=np.array([0.3, 0.2, 0.1])),
              "right": se3.make_transform(trans=np.array([0.3, -0.2, 0.1]))}
    joints = {name: 0.1 for name in manifest.state.joints[:10]}  # the rest is missing
    return Observation(stamp_ns, [image], joints, "pick up the red cube", wrists)


def test_a_chunk_of_absolute_wrist_targets_and_hand_joints(manifest, runtime):
    obs = observation(manifest)
    prediction = PolicyPipeline(manifest, runtime).predict(obs)
    chunk = prediction.chunk
    assert chunk is not None and chunk.stamp_ns == obs.stamp_ns and chunk.dt == pytest.approx(1 / 30)
    assert chunk.wrist["left"].shape == (30, 4, 4) and chunk.hand["right"].shape == (30, 22)
    assert chunk.hand_joint_names["left"][4] == "left_thumb_IP"
    assert set(prediction.stages_ms) == {"preprocess", "backbone", "denoise_0", "denoise_1", "denoise_2",
                                         "denoise_3", "postprocess"}


def test_wrist_targets_start_at_the_observed_wrist_and_move_in_small_steps(manifest, runtime):
    """Relative steps are a few millimetres: executing the chunk keeps the arm near where it is."""
    obs = observation(manifest)
    wrist = PolicyPipeline(manifest, runtime).predict(obs).chunk.wrist["left"]
    poses = np.concatenate([obs.wrist_poses["left"][None], wrist])
    for before, after in zip(poses[:-1], poses[1:]):
        dp, dr = se3.pose_error(before, after)
        assert dp < 0.01 and dr < np.radians(3.0)
    np.testing.assert_allclose(np.linalg.det(wrist[:, :3, :3]), 1.0, atol=1e-9)


def test_seeded_noise_makes_runs_reproducible(manifest, runtime):
    obs = observation(manifest)
    a = PolicyPipeline(manifest, runtime, seed=4).predict(obs).chunk
    b = PolicyPipeline(manifest, runtime, seed=4).predict(obs).chunk
    c = PolicyPipeline(manifest, runtime, seed=5).predict(obs).chunk
    np.testing.assert_array_equal(a.hand["left"], b.hand["left"])
    assert not np.array_equal(a.hand["left"], c.hand["left"])


class NonFiniteRuntime(PolicyRuntime):
    """A backend whose network output blows up (what a broken engine or bad weights produce)."""

    backend = "broken"

    def encode(self, image, tokens, state, state_mask):
        return np.zeros(1, np.float32)

    def velocity(self, noisy_actions, timestep, context):
        return np.full_like(noisy_actions, np.inf)


def test_a_non_finite_chunk_is_dropped(manifest):
    prediction = PolicyPipeline(manifest, NonFiniteRuntime()).predict(observation(manifest))
    assert prediction.chunk is None and prediction.dropped_non_finite


def test_relative_actions_need_the_wrist_poses(manifest, runtime):
    obs = observation(manifest)
    obs.wrist_poses = None
    with pytest.raises(ValueError, match="wrist pose"):
        PolicyPipeline(manifest, runtime).predict(obs)


def _with_frame(manifest, frame: str):
    import copy
    import dataclasses

    other = copy.copy(manifest)
    other.action = dataclasses.replace(manifest.action, layout=dataclasses.replace(manifest.layout, frame=frame))
    return other


def test_the_manifests_action_frame_decides_how_the_same_actions_move_the_wrist(manifest, runtime):
    """Wrist-frame steps turn with the wrist; base- and camera-frame steps follow those axes."""
    obs = observation(manifest)
    turned = se3.make_transform(se3.so3_exp(np.array([0.0, 0.0, np.pi / 2])), np.array([0.3, 0.2, 0.1]))
    obs.wrist_poses = {"left": turned, "right": turned}
    chunks = {}
    for frame in ("wrist", "base", "camera"):
        obs.base_T_camera = turned if frame == "camera" else None
        chunks[frame] = PolicyPipeline(_with_frame(manifest, frame), runtime, seed=1).predict(obs).chunk
    first = {f: c.wrist["left"][0][:3, 3] - turned[:3, 3] for f, c in chunks.items()}
    # The same first step: in the wrist and camera frames (both turned 90 deg about z here) it is
    # the base-frame step turned by 90 deg about z.
    rot = turned[:3, :3]
    np.testing.assert_allclose(first["wrist"], rot @ first["base"], atol=1e-9)
    np.testing.assert_allclose(first["camera"], rot @ first["base"], atol=1e-9)
    assert np.linalg.norm(first["wrist"] - first["base"]) > 1e-6
    obs.base_T_camera = None
    with pytest.raises(ValueError, match="camera extrinsics"):
        PolicyPipeline(_with_frame(manifest, "camera"), runtime).predict(obs)
