"""Specification of the policy's pre- and post-processing."""

import numpy as np
import pytest

from egoscale_ros.chunking.chunk import ChunkError
from egoscale_ros.chunking.smoother import ChunkSmoother
from egoscale_ros.kinematics import se3
from egoscale_ros.policy.layout import ActionLayout
from egoscale_ros.policy.manifest import ActionSpec, ImageSpec, StateSpec
from egoscale_ros.policy.transforms import (
    ImageRejected,
    decode_chunk,
    denormalise_actions,
    fit_image,
    image_to_rgb,
    normalise_actions,
    normalise_state,
    preprocess_images,
    rotations_to_quaternions,
)

rng = np.random.default_rng(7)


def rgb_image(h=16, w=20):
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


# --- images -------------------------------------------------------------------------------------

def test_rgb8_passes_through_without_conversion():
    img = rgb_image()
    out, converted = image_to_rgb("rgb8", 16, 20, 60, img.tobytes())
    assert not converted and np.array_equal(out, img)


@pytest.mark.parametrize("encoding, make", [
    ("bgr8", lambda img: img[..., ::-1]),
    ("rgba8", lambda img: np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], -1)),
    ("bgra8", lambda img: np.concatenate([img[..., ::-1], np.zeros(img.shape[:2] + (1,), np.uint8)], -1)),
])
def test_other_colour_encodings_are_converted_to_rgb(encoding, make):
    img = rgb_image()
    raw = np.ascontiguousarray(make(img))
    out, converted = image_to_rgb(encoding, 16, 20, raw.shape[1] * raw.shape[2], raw.tobytes())
    assert converted and np.array_equal(out, img)


def test_mono8_becomes_grey_rgb():
    grey = rng.integers(0, 255, (16, 20), dtype=np.uint8)
    out, converted = image_to_rgb("mono8", 16, 20, 20, grey.tobytes())
    assert converted and np.array_equal(out, np.repeat(grey[..., None], 3, -1))


def test_row_padding_is_skipped():
    img = rgb_image()
    padded = np.zeros((16, 64), np.uint8)
    padded[:, :60] = img.reshape(16, 60)
    out, _ = image_to_rgb("rgb8", 16, 20, 64, padded.tobytes())
    assert np.array_equal(out, img)


@pytest.mark.parametrize("encoding, height, width, step, nbytes, message", [
    ("yuv422", 16, 20, 40, 640, "not supported"),
    ("16UC1", 16, 20, 40, 640, "not supported"),
    ("rgb8", 16, 20, 60, 959, "expected step\\*height"),
    ("rgb8", 16, 20, 59, 960, "step 59"),
    ("rgb8", 4, 20, 60, 240, "too small"),
])
def test_unusable_images_are_rejected_with_the_reason(encoding, height, width, step, nbytes, message):
    with pytest.raises(ImageRejected, match=message):
        image_to_rgb(encoding, height, width, step, bytes(nbytes))


def test_centre_crop_keeps_the_middle_of_a_wide_frame():
    img = np.zeros((4, 8, 3), np.uint8)
    img[:, 2:6] = 200  # the central square
    out = fit_image(img, 4, "center_crop")
    assert out.shape == (4, 4, 3) and np.all(out == 200)
    assert fit_image(img, 4, "stretch").mean() < 200


def test_preprocess_normalises_and_stacks_cameras():
    spec = ImageSpec(size=8, cameras=2, mean=(0.5, 0.5, 0.5), std=(0.25, 0.5, 1.0))
    white = np.full((16, 16, 3), 255, np.uint8)
    black = np.zeros((10, 12, 3), np.uint8)
    out = preprocess_images([white, black], spec)
    assert out.shape == (1, 2, 3, 8, 8) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0, :, 0, 0], [2.0, 1.0, 0.5])
    np.testing.assert_allclose(out[0, 1, :, 0, 0], [-2.0, -1.0, -0.5])
    with pytest.raises(ValueError, match="2 camera"):
        preprocess_images([white], spec)


# --- state and actions --------------------------------------------------------------------------

def test_state_is_normalised_and_missing_joints_are_masked():
    spec = StateSpec(("a", "b", "c"), np.array([1.0, 0.0, 0.0]), np.array([2.0, 1.0, 1.0]))
    state, mask = normalise_state({"a": 3.0, "c": float("nan"), "unrelated": 9.0}, spec)
    np.testing.assert_allclose(state, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(mask, [1.0, 0.0, 0.0])


def test_denormalise_inverts_normalise():
    layout = ActionLayout()
    spec = ActionSpec(layout, rng.normal(size=layout.dim), rng.uniform(0.1, 2, layout.dim))
    raw = rng.normal(size=(layout.horizon, layout.dim))
    np.testing.assert_allclose(denormalise_actions(normalise_actions(raw, spec), spec), raw, atol=1e-12)


# --- decoding -----------------------------------------------------------------------------------

def random_pose():
    return se3.make_transform(se3.quat_to_matrix(rng.normal(size=4)), rng.normal(size=3))


def encode(poses, layout, side):
    hand = layout.hands[side]
    row = np.zeros((len(poses), layout.dim))
    row[:, hand.translation] = poses[:, :3, 3]
    if layout.rotation == "rot6d":
        row[:, hand.rotation_slice] = se3.matrix_to_rot6d(poses[:, :3, :3])
    else:
        row[:, hand.rotation_slice] = [se3.matrix_to_quat(p[:3, :3]) for p in poses]
    return row


@pytest.mark.parametrize("rotation", ["rot6d", "quaternion"])
def test_relative_steps_compose_from_the_wrist_at_observation_time(rotation):
    layout = ActionLayout(horizon=5, rotation=rotation)
    steps = np.stack([random_pose() for _ in range(5)])
    start = {s: random_pose() for s in layout.sides}
    actions = encode(steps, layout, "left") + encode(steps, layout, "right")
    chunk = decode_chunk(actions, layout, stamp_ns=123, wrist_at_observation=start)
    expected = start["left"]
    for k in range(5):
        expected = expected @ steps[k]  # a_k is expressed in the wrist frame of step k-1
        np.testing.assert_allclose(chunk.wrist["left"][k], expected, atol=1e-9)
    assert chunk.stamp_ns == 123 and chunk.dt == layout.dt and chunk.horizon == 5
    assert chunk.hand["right"].shape == (5, 22) and chunk.hand_joint_names["right"][0] == "right_thumb_CMC_FE"


def test_relative_steps_in_the_base_frame_turn_and_move_the_wrist_along_the_base_axes():
    layout = ActionLayout(horizon=2, frame="base")
    step = np.eye(4)
    step[:3, :3] = se3.so3_exp(np.array([0.0, 0.0, 0.5]))  # 0.5 rad about the base's z
    step[:3, 3] = [0.01, 0.0, 0.0]  # 1 cm along the base's x
    start = random_pose()
    actions = encode(np.stack([step, step]), layout, "left") + encode(np.stack([step, step]), layout, "right")
    chunk = decode_chunk(actions, layout, 0, wrist_at_observation={"left": start, "right": start})
    last = chunk.wrist["left"][1]
    np.testing.assert_allclose(last[:3, 3], start[:3, 3] + [0.02, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(last[:3, :3], se3.so3_exp(np.array([0.0, 0.0, 1.0])) @ start[:3, :3], atol=1e-12)


def test_relative_steps_in_the_camera_frame_move_along_the_cameras_axes():
    layout = ActionLayout(horizon=3, frame="camera")
    steps = np.stack([random_pose() for _ in range(3)])
    start, base_T_camera = random_pose(), random_pose()
    actions = encode(steps, layout, "left") + encode(steps, layout, "right")
    chunk = decode_chunk(actions, layout, 0, wrist_at_observation={"left": start, "right": start},
                         base_T_camera=base_T_camera)
    # Independently: a camera-frame step is the base-frame step conjugated by the camera's rotation.
    c = base_T_camera[:3, :3]
    expected = start.copy()
    for k in range(3):
        expected = np.block([[c @ steps[k][:3, :3] @ c.T @ expected[:3, :3], (expected[:3, 3] + c @ steps[k][:3, 3])[:, None]],
                             [np.zeros((1, 3)), np.ones((1, 1))]])
        np.testing.assert_allclose(chunk.wrist["left"][k], expected, atol=1e-9)
    with pytest.raises(ValueError, match="extrinsics"):
        decode_chunk(actions, layout, 0, wrist_at_observation={"left": start, "right": start})


def test_the_same_step_means_different_motions_in_wrist_and_base_frames():
    """Why the manifest must state the frame: a turned wrist moves a wrist-frame step elsewhere."""
    step = np.eye(4)
    step[:3, 3] = [0.01, 0.0, 0.0]
    start = np.eye(4)
    start[:3, :3] = se3.so3_exp(np.array([0.0, 0.0, np.pi / 2]))
    out = {}
    for frame in ("wrist", "base"):
        layout = ActionLayout(horizon=1, frame=frame)
        actions = encode(step[None], layout, "left") + encode(step[None], layout, "right")
        out[frame] = decode_chunk(actions, layout, 0, wrist_at_observation={"left": start, "right": start}).wrist["left"][0]
    np.testing.assert_allclose(out["wrist"][:3, 3], [0.0, 0.01, 0.0], atol=1e-12)
    np.testing.assert_allclose(out["base"][:3, 3], [0.01, 0.0, 0.0], atol=1e-12)


def test_absolute_base_frame_poses_are_taken_as_they_are():
    layout = ActionLayout(horizon=3, representation="absolute")
    poses = np.stack([random_pose() for _ in range(3)])
    chunk = decode_chunk(encode(poses, layout, "left") + encode(poses, layout, "right"), layout, 0)
    np.testing.assert_allclose(chunk.wrist["right"], poses, atol=1e-9)


def test_absolute_camera_frame_poses_go_through_the_extrinsics():
    layout = ActionLayout(horizon=3, representation="absolute", frame="camera")
    poses = np.stack([random_pose() for _ in range(3)])
    base_T_camera = random_pose()
    actions = encode(poses, layout, "left") + encode(poses, layout, "right")
    chunk = decode_chunk(actions, layout, 0, base_T_camera=base_T_camera)
    np.testing.assert_allclose(chunk.wrist["left"], base_T_camera @ poses, atol=1e-9)
    with pytest.raises(ValueError, match="extrinsics"):
        decode_chunk(actions, layout, 0)


def test_relative_actions_without_the_wrist_pose_are_an_error():
    layout = ActionLayout(horizon=2)
    with pytest.raises(ValueError, match="left wrist pose"):
        decode_chunk(np.zeros((2, layout.dim)), layout, 0, wrist_at_observation={"right": np.eye(4)})
    with pytest.raises(ValueError, match="shape"):
        decode_chunk(np.zeros((3, layout.dim)), layout, 0, wrist_at_observation={})


def test_non_finite_chunks_are_refused_naming_the_hand():
    layout = ActionLayout(horizon=2, representation="absolute")
    actions = encode(np.stack([np.eye(4)] * 2), layout, "left") + encode(np.stack([np.eye(4)] * 2), layout, "right")
    decode_chunk(actions, layout, 0)
    actions[1, layout.hands["right"].joints.start] = np.nan
    with pytest.raises(ChunkError, match=r"hand\['right'\]: non-finite value nan at step 1"):
        decode_chunk(actions, layout, 0)


def test_the_decoded_chunk_is_the_one_the_smoother_executes_with_stamp_frame_and_names_carried():
    # One chunk type from policy to smoother: a decoded chunk goes into the smoother as it is,
    # its exact stamp, explicit dt, frame and hand names intact (a second, lossy type would not).
    layout = ActionLayout(horizon=4, representation="absolute")
    poses = np.stack([se3.make_transform(np.eye(3), np.array([0.1 * k, 0.0, 0.0])) for k in range(4)])
    actions = encode(poses, layout, "left") + encode(poses, layout, "right")
    stamp_ns = 1_700_000_000_000_000_001
    chunk = decode_chunk(actions, layout, stamp_ns, frame="pelvis")
    assert (chunk.stamp_ns, chunk.dt, chunk.frame) == (stamp_ns, layout.dt, "pelvis")
    assert chunk.hand_joint_names["left"] == tuple(layout.hands["left"].joint_names)
    smoother = ChunkSmoother("latest")
    assert smoother.add(chunk, now=chunk.stamp).accepted
    due = smoother.sample(chunk.due_time(2)).targets.wrist["left"]
    np.testing.assert_allclose(due, poses[2], atol=1e-6)  # the control clock is float seconds (~0.2 µs here)
    # A chunk in another frame is refused, never mixed in as if it were the same frame.
    other = decode_chunk(actions, layout, stamp_ns + 1, frame="torso_link")
    refused = smoother.add(other, now=other.stamp)
    assert not refused.accepted and "frame 'torso_link'" in refused.reason


def test_batched_quaternions_match_the_single_matrix_helper_including_half_turns():
    rots = [se3.quat_to_matrix(rng.normal(size=4)) for _ in range(200)]
    rots += [se3.so3_exp(np.pi * axis) for axis in np.eye(3)] + [np.eye(3)]
    rots = np.stack(rots)
    quats = rotations_to_quaternions(rots)
    np.testing.assert_allclose(se3.quat_to_matrix(quats), rots, atol=1e-12)
    assert np.all(quats[:, 3] >= 0)
    np.testing.assert_allclose(quats[:200], [se3.matrix_to_quat(r) for r in rots[:200]], atol=1e-12)
