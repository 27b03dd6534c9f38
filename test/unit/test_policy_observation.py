"""Specification of the observation buffers of the policy node (newest frame, nearest joint state)."""

import numpy as np
import pytest

from egoscale_ros.policy.observation import JointStateHistory, LatestImages

MS = 1_000_000


def frame(value):
    return np.full((2, 2, 3), value, np.uint8)


def test_newest_frame_wins_and_superseded_frames_count_as_dropped():
    images = LatestImages(["head"])
    images.put("head", 10 * MS, frame(1))
    images.put("head", 20 * MS, frame(2))
    stamp, imgs = images.take(now_ns=25 * MS, max_age_s=1.0)
    assert stamp == 20 * MS and imgs[0][0, 0, 0] == 2
    assert images.dropped == 1 and images.received == 2


def test_a_frame_is_used_once():
    images = LatestImages(["head"])
    images.put("head", 10 * MS, frame(1))
    assert images.take(10 * MS, 1.0) is not None
    assert images.take(10 * MS, 1.0) is None
    assert not images.wait_for_new(0.0)
    images.put("head", 11 * MS, frame(2))
    assert images.wait_for_new(0.0)


def test_frames_older_than_the_maximum_age_are_refused_and_counted():
    images = LatestImages(["head"])
    images.put("head", 0, frame(1))
    assert images.take(now_ns=600 * MS, max_age_s=0.5) is None
    assert images.stale == 1
    assert images.take(now_ns=600 * MS, max_age_s=0.5) is None and images.stale == 1  # not retried


def test_every_camera_must_have_a_frame_and_the_first_gives_the_stamp():
    images = LatestImages(["head", "wrist"])
    images.put("head", 10 * MS, frame(1))
    assert images.take(10 * MS, 1.0) is None and images.missing() == ["wrist"]
    images.put("wrist", 12 * MS, frame(2))
    stamp, imgs = images.take(12 * MS, 1.0)
    assert stamp == 10 * MS and [i[0, 0, 0] for i in imgs] == [1, 2]


def test_no_cameras_is_an_error():
    with pytest.raises(ValueError):
        LatestImages([])


def test_joint_state_nearest_to_the_image_stamp():
    history = JointStateHistory(horizon_s=1.0)
    for t in (0, 5, 10, 15):
        history.add(t * MS, {"j": float(t)})
    assert history.nearest(7 * MS) == (5 * MS, {"j": 5.0})
    assert history.nearest(8 * MS)[0] == 10 * MS
    assert history.nearest(100 * MS)[0] == 15 * MS
    assert history.nearest(-5 * MS)[0] == 0


def test_a_partial_message_is_refused_never_merged_into_the_state():
    # A second publisher's part (one elbow, other values) must not mix into the pose the policy
    # composes its actions with.
    history = JointStateHistory(joints=["elbow", "hand"])
    assert history.add(1 * MS, {"elbow": 0.1, "hand": 0.2})
    assert not history.add(2 * MS, {"elbow": 0.9})
    assert history.nearest(2 * MS) == (1 * MS, {"elbow": 0.1, "hand": 0.2})


def test_a_message_stamped_before_the_newest_is_refused():
    history = JointStateHistory()
    assert history.add(5 * MS, {"j": 0.5})
    assert not history.add(3 * MS, {"j": 0.3})
    assert history.nearest(3 * MS) == (5 * MS, {"j": 0.5})


def test_clear_forgets_every_state():
    history = JointStateHistory()
    history.add(1 * MS, {"j": 0.1})
    history.clear()
    assert len(history) == 0 and history.nearest(1 * MS) is None


def test_history_keeps_only_the_horizon():
    history = JointStateHistory(horizon_s=0.1)
    for t in range(0, 1000, 5):
        history.add(t * MS, {"j": float(t)})
    assert len(history) <= 21
    assert history.nearest(0)[0] >= 895 * MS


def test_empty_history_has_no_nearest():
    assert JointStateHistory().nearest(0) is None
