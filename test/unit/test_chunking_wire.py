"""Chunk messages read from their CDR bytes carry what the message objects carry (bytes made by
rclpy's own serialisation), and malformed bytes are refused with the topic named."""

import numpy as np
import pytest
from geometry_msgs.msg import Quaternion, Transform, Twist, Vector3
from rclpy.serialization import serialize_message
from trajectory_msgs.msg import (
    JointTrajectory,
    JointTrajectoryPoint,
    MultiDOFJointTrajectory,
    MultiDOFJointTrajectoryPoint,
)

from egoscale_ros.chunking.wire import decode_hand_chunk, decode_wrist_chunk
from egoscale_ros.nodes.wiring.stamps import duration_to_ns, sec_to_duration


def _wrist_message(rng, points=30, twists=0, frame="pelvis"):
    msg = MultiDOFJointTrajectory()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1796290000, 123456789
    msg.header.frame_id = frame
    msg.joint_names = ["left_wrist", "right_wrist"]
    for k in range(points):
        transforms = [Transform(translation=Vector3(x=float(a), y=float(b), z=float(c)),
                                rotation=Quaternion(x=float(d), y=float(e), z=float(f), w=float(g)))
                      for a, b, c, d, e, f, g in rng.normal(size=(2, 7))]
        msg.points.append(MultiDOFJointTrajectoryPoint(
            transforms=transforms, velocities=[Twist()] * twists, accelerations=[Twist()] * twists,
            time_from_start=sec_to_duration(k / 30)))
    return msg


def test_a_wrist_chunk_reads_as_its_message():
    rng = np.random.default_rng(4)
    for points, twists, frame in ((30, 0, "pelvis"), (1, 2, "base_link"), (0, 0, "")):
        msg = _wrist_message(rng, points, twists, frame)
        got = decode_wrist_chunk(serialize_message(msg))
        assert (got.sec, got.nanosec, got.frame_id, got.joint_names) == (
            msg.header.stamp.sec, msg.header.stamp.nanosec, frame, ["left_wrist", "right_wrist"])
        assert got.steps_ns == [duration_to_ns(p.time_from_start) for p in msg.points]
        expected = [[(t.translation.x, t.translation.y, t.translation.z, t.rotation.x, t.rotation.y,
                      t.rotation.z, t.rotation.w) for t in p.transforms] for p in msg.points]
        np.testing.assert_array_equal(got.values, np.array(expected).reshape(points, 2, 7))


def test_a_hand_chunk_reads_as_its_message():
    rng = np.random.default_rng(5)
    msg = JointTrajectory()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 7, 5
    msg.joint_names = [f"left_j{i}" for i in range(22)] + [f"right_joint_{i}" for i in range(22)]
    msg.points = [JointTrajectoryPoint(positions=rng.normal(size=44).tolist(), velocities=[0.0] * (k % 2),
                                       time_from_start=sec_to_duration(k / 30)) for k in range(30)]
    got = decode_hand_chunk(serialize_message(msg))
    assert got.stamp_ns == 7_000_000_005 and got.joint_names == list(msg.joint_names)
    assert got.steps_ns == [duration_to_ns(p.time_from_start) for p in msg.points]
    np.testing.assert_array_equal(got.values, np.array([p.positions for p in msg.points]))


def test_points_that_do_not_fit_the_names_are_refused_naming_the_point():
    msg = _wrist_message(np.random.default_rng(6), points=3)
    msg.points[2].transforms = msg.points[2].transforms[:1]
    with pytest.raises(ValueError, match="point 2 carries 1 transforms for 2 joints"):
        decode_wrist_chunk(serialize_message(msg))
    hand = JointTrajectory(joint_names=["a", "b"], points=[JointTrajectoryPoint(positions=[1.0])])
    with pytest.raises(ValueError, match="point 0 carries 1 positions for 2 joints"):
        decode_hand_chunk(serialize_message(hand))


def test_truncated_or_foreign_bytes_are_refused_naming_the_topic():
    data = serialize_message(_wrist_message(np.random.default_rng(7)))
    for bad in (data[:-100], data[:40], b"\x00\x00\x00\x00" + data[4:], b""):
        with pytest.raises(ValueError, match="policy/wrist_chunk"):
            decode_wrist_chunk(bad)


def test_points_of_other_shapes_among_same_shaped_ones_read_as_their_messages():
    """Points after the second are read at once when they repeat its layout; a point that does
    not (twists, extra numbers) is read one by one, with the same result."""
    rng = np.random.default_rng(9)
    msg = _wrist_message(rng, points=12)
    msg.points[7].velocities = [Twist()] * 2
    got = decode_wrist_chunk(serialize_message(msg))
    expected = [[(t.translation.x, t.translation.y, t.translation.z, t.rotation.x, t.rotation.y,
                  t.rotation.z, t.rotation.w) for t in p.transforms] for p in msg.points]
    np.testing.assert_array_equal(got.values, np.array(expected))
    assert got.steps_ns == [duration_to_ns(p.time_from_start) for p in msg.points]
    hand = JointTrajectory(joint_names=["a", "b", "c"])
    hand.points = [JointTrajectoryPoint(positions=rng.normal(size=3).tolist(), velocities=[0.0] * (3 * (k == 4)),
                                        time_from_start=sec_to_duration(k / 30)) for k in range(9)]
    got = decode_hand_chunk(serialize_message(hand))
    np.testing.assert_array_equal(got.values, np.array([p.positions for p in hand.points]))
    assert got.steps_ns == [duration_to_ns(p.time_from_start) for p in hand.points]
    empty = JointTrajectory(points=[JointTrajectoryPoint(time_from_start=sec_to_duration(k)) for k in range(5)])
    got = decode_hand_chunk(serialize_message(empty))
    assert got.values.shape == (5, 0) and got.steps_ns == [k * 1_000_000_000 for k in range(5)]


def test_a_later_point_that_does_not_fit_is_refused_naming_it():
    msg = _wrist_message(np.random.default_rng(10), points=20)
    msg.points[13].transforms = msg.points[13].transforms[:1]
    with pytest.raises(ValueError, match="point 13 carries 1 transforms for 2 joints"):
        decode_wrist_chunk(serialize_message(msg))
