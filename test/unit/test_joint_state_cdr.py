"""JointState CDR bytes laid out once per name list are the bytes rclpy serialises for the same
message, and read back only when the names are the expected ones.

rclpy's own bytes leave alignment padding uninitialised and may end in a few bytes of slack (its
size estimate aligns empty sequences of doubles): the oracle is therefore every byte that is not
padding, plus rclpy reading our bytes back as the same message."""

import array

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import JointState

from egoscale_ros.nodes.wiring.joint_state_cdr import JointStateEncoder, JointStateReader, stamp_parts

NAMES = [f"left_shoulder_{i}_joint" for i in range(5)] + ["a", "bc", "def", "ghij", "elbow"]


def _message(names, sec, nanosec, position, velocity=(), effort=(), frame_id=""):
    msg = JointState()
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id = frame_id
    msg.name = list(names)
    msg.position = array.array("d", position)
    msg.velocity = array.array("d", velocity)
    msg.effort = array.array("d", effort)
    return msg


@pytest.mark.parametrize("frame_id", ["", "b", "pelvis", "base_link"])
@pytest.mark.parametrize("names", [NAMES, NAMES[:1], NAMES[5:9], []])
def test_the_bytes_are_rclpys_for_every_combination_of_present_arrays(names, frame_id):
    rng = np.random.default_rng(len(names) + len(frame_id))
    encoder = JointStateEncoder(names, frame_id)
    n = len(names)
    for velocity, effort in ((True, True), (True, False), (False, True), (False, False)):
        q, dq, tau = rng.normal(size=(3, n))
        sec, nanosec = int(rng.integers(0, 2**31)), int(rng.integers(0, 10**9))
        got = encoder.encode(sec, nanosec, q, dq if velocity else None, tau if effort else None)
        expected = serialize_message(_message(names, sec, nanosec, q, dq if velocity else (),
                                              tau if effort else (), frame_id))
        _assert_same_message_bytes(got, expected)
        back = deserialize_message(got, JointState)
        assert (back.header.stamp.sec, back.header.stamp.nanosec, back.header.frame_id) == (sec, nanosec, frame_id)
        assert list(back.name) == list(names) and back.position.tolist() == q.tolist()
        assert back.velocity.tolist() == (dq.tolist() if velocity else [])
        assert back.effort.tolist() == (tau.tolist() if effort else [])


def _assert_same_message_bytes(ours: bytes, rclpys: bytes) -> None:
    """Equal wherever ours is not padding (zero): rclpy's padding and slack hold whatever was there."""
    assert len(ours) <= len(rclpys) <= len(ours) + 16
    differ = [i for i, (a, b) in enumerate(zip(ours, rclpys)) if a != b and a != 0]
    assert not differ, f"bytes differ at {differ[:8]}"


def test_one_encoder_serves_many_messages_without_mixing_them():
    encoder = JointStateEncoder(NAMES)
    first = encoder.encode(1, 2, np.arange(10.0), np.ones(10))
    second = encoder.encode(3, 4, -np.arange(10.0))
    assert deserialize_message(first, JointState).position.tolist() == list(np.arange(10.0))
    msg = deserialize_message(second, JointState)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (3, 4)
    assert msg.position.tolist() == list(-np.arange(10.0)) and len(msg.velocity) == 0


def test_values_that_do_not_match_the_names_are_refused():
    encoder = JointStateEncoder(NAMES)
    with pytest.raises(ValueError, match="9 values for 10 joint names"):
        encoder.encode(0, 0, np.zeros(9))
    with pytest.raises(ValueError, match="for 10 joint names"):
        encoder.encode(0, 0, np.zeros(10), np.zeros(11))


def test_stamp_parts_split_integer_nanoseconds():
    assert stamp_parts(1_796_290_000_123_456_789) == (1_796_290_000, 123_456_789)
    assert stamp_parts(999_999_999) == (0, 999_999_999)


@pytest.mark.parametrize("frame_id", ["", "pelvis"])
def test_the_reader_reads_rclpys_bytes_of_the_expected_names(frame_id):
    rng = np.random.default_rng(7)
    q, dq = rng.normal(size=(2, len(NAMES)))
    reader = JointStateReader(NAMES)
    got = reader.read(serialize_message(_message(NAMES, 12, 345, q, dq, frame_id=frame_id)))
    assert (got.sec, got.nanosec) == (12, 345)
    np.testing.assert_array_equal(got.position, q)
    np.testing.assert_array_equal(got.velocity, dq)
    assert got.effort.shape == (0,)


def test_the_reader_declines_other_names_so_the_caller_decodes_the_whole_message():
    reader = JointStateReader(NAMES)
    for names in (NAMES[::-1], NAMES[:-1], NAMES + ["x"], [], ["a" * 40] * 10):
        assert reader.read(serialize_message(_message(names, 1, 2, np.zeros(len(names))))) is None


def test_the_reader_refuses_bytes_that_end_inside_the_numbers_or_are_not_cdr():
    reader = JointStateReader(NAMES)
    data = JointStateEncoder(NAMES).encode(1, 2, np.zeros(10), np.zeros(10))
    assert reader.read(data) is not None
    with pytest.raises(ValueError, match="ends inside"):
        reader.read(data[:-8])
    with pytest.raises(ValueError, match="not little-endian CDR"):
        reader.read(b"\x00\x00" + data[2:])
    # Positions of another length than the names: read as they are, for the caller's own checks.
    short = reader.read(serialize_message(_message(NAMES, 1, 2, np.zeros(3))))
    assert short.position.shape == (3,)
