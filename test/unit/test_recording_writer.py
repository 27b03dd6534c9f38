"""ROS 2 MCAP recordings: readable by independent readers, bounded, and clear when the disk fills."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("rclpy", reason="ROS 2 message classes and definitions come with the ROS 2 wheels")
pytest.importorskip("rosbags", reason="rosbags is the independent reader these specs open recordings with")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.serialization import deserialize_message
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import CompressedImage, JointState

from egoscale_ros.recording.cdr import compressed_image
from egoscale_ros.recording.msgdefs import SEPARATOR, MessageDefinitionNotFound, message_definition
from egoscale_ros.recording.topics import COMPRESS, RAW, compile_patterns, recording_action
from egoscale_ros.recording.writer import McapRecorder, RecordingLimits, unused_path

MB = 1_000_000
# Test messages are serialized by an independent CDR implementation (rclpy's serialize_message
# can return bytes past the end of the message; DDS delivers exact ones, as these are).
TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)


def serialize_message(msg) -> bytes:
    from rosbags.typesys.stores.ros2_humble import builtin_interfaces__msg__Time as Time
    from rosbags.typesys.stores.ros2_humble import std_msgs__msg__Header as Header

    header = Header(stamp=Time(sec=msg.header.stamp.sec, nanosec=msg.header.stamp.nanosec),
                    frame_id=msg.header.frame_id) if hasattr(msg, "header") else None
    if isinstance(msg, JointState):
        import numpy as np

        typed = TYPESTORE.types["sensor_msgs/msg/JointState"](
            header=header, name=list(msg.name), position=np.array(msg.position, float),
            velocity=np.array(msg.velocity, float), effort=np.array(msg.effort, float))
        return bytes(TYPESTORE.serialize_cdr(typed, "sensor_msgs/msg/JointState"))
    if isinstance(msg, DiagnosticArray):
        T = TYPESTORE.types
        status = [T["diagnostic_msgs/msg/DiagnosticStatus"](
            level=int.from_bytes(s.level, "little") if isinstance(s.level, bytes) else int(s.level),
            name=s.name, message=s.message, hardware_id=s.hardware_id,
            values=[T["diagnostic_msgs/msg/KeyValue"](key=v.key, value=v.value) for v in s.values]) for s in msg.status]
        typed = T["diagnostic_msgs/msg/DiagnosticArray"](header=header, status=status)
        return bytes(TYPESTORE.serialize_cdr(typed, "diagnostic_msgs/msg/DiagnosticArray"))
    raise TypeError(type(msg))


def joint_state(i: int) -> JointState:
    msg = JointState(name=["a", "b"], position=[0.1 * i, -0.2 * i])
    msg.header.stamp.sec = 100 + i
    return msg


def record(path: Path, n: int = 20, **kwargs) -> McapRecorder:
    rec = McapRecorder(path, **kwargs)
    rec.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    rec.add_topic("/camera/head/image_raw/compressed", "sensor_msgs/msg/CompressedImage")
    rec.add_topic("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray")
    for i in range(n):
        rec.write("/joint_states", serialize_message(joint_state(i)), 1_000_000_000 * (i + 1))
    image = compressed_image(5, 6, "head", "rgb8; jpeg compressed bgr8", bytes(range(256)) * 4)
    rec.write("/camera/head/image_raw/compressed", image, 1_000_000_000 * (n + 1))
    status = DiagnosticStatus(level=DiagnosticStatus.WARN, name="/policy_node", message="slow",
                              values=[KeyValue(key="rate_hz", value="12.5")])
    rec.write("/diagnostics", serialize_message(DiagnosticArray(status=[status])), 1_000_000_000 * (n + 2))
    return rec


def test_message_definitions_hold_every_nested_type_once():
    text = message_definition("trajectory_msgs/msg/MultiDOFJointTrajectory")
    assert "std_msgs/Header header" in text.split(SEPARATOR)[0]
    for dep in ("std_msgs/Header", "builtin_interfaces/Time", "trajectory_msgs/MultiDOFJointTrajectoryPoint",
                "geometry_msgs/Transform", "geometry_msgs/Vector3", "geometry_msgs/Quaternion",
                "geometry_msgs/Twist", "builtin_interfaces/Duration"):
        assert text.count(f"MSG: {dep}\n") == 1, dep


def test_compressed_images_are_encoded_as_rclpy_decodes_them():
    data = compressed_image(12, 345, "head_camera", "rgb8; jpeg compressed bgr8", b"\xff\xd8abc")
    msg = deserialize_message(data, CompressedImage)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (12, 345, "head_camera")
    assert msg.format == "rgb8; jpeg compressed bgr8" and bytes(msg.data) == b"\xff\xd8abc"
    assert TYPESTORE.deserialize_cdr(data, "sensor_msgs/msg/CompressedImage").format == msg.format


def test_an_unknown_type_is_named():
    with pytest.raises(MessageDefinitionNotFound, match="no_such_msgs/msg/Thing"):
        message_definition("no_such_msgs/msg/Thing")


def test_rosbags_reads_back_every_message_and_field(tmp_path):
    from rosbags.highlevel import AnyReader

    path = tmp_path / "run.mcap"
    record(path, metadata={"robot": "g1_dex3"}).close()
    with AnyReader([path]) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert counts == {"/joint_states": 20, "/camera/head/image_raw/compressed": 1, "/diagnostics": 1}
        decoded = [(c.topic, t, reader.deserialize(raw, c.msgtype)) for c, t, raw in reader.messages()]
    states = [m for topic, _, m in decoded if topic == "/joint_states"]
    assert list(states[7].name) == ["a", "b"]
    assert list(states[7].position) == pytest.approx([0.7, -1.4])
    assert states[7].header.stamp.sec == 107
    assert [t for topic, t, _ in decoded if topic == "/joint_states"][:2] == [1_000_000_000, 2_000_000_000]
    diag = next(m for topic, _, m in decoded if topic == "/diagnostics")
    assert diag.status[0].message == "slow" and diag.status[0].values[0].value == "12.5"
    image = next(m for topic, _, m in decoded if topic.endswith("compressed"))
    assert bytes(image.data) == bytes(range(256)) * 4


def test_mcap_ros2_decoder_reads_it_too_with_the_run_metadata(tmp_path):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    path = tmp_path / "run.mcap"
    record(path, metadata={"robot": "g1_dex3"}).close()
    with open(path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        assert {m.name: m.metadata for m in reader.iter_metadata()} == {"egoscale_ros": {"robot": "g1_dex3"}}
        positions = [list(msg.position) for _, ch, _, msg in reader.iter_decoded_messages(topics=["/joint_states"])]
    assert positions[3] == pytest.approx([0.3, -0.6])


def test_size_limit_stops_and_leaves_a_finished_readable_file(tmp_path):
    from rosbags.highlevel import AnyReader

    path = tmp_path / "run.mcap"
    rec = McapRecorder(path, RecordingLimits(max_bytes=3000), chunk_size=512)
    rec.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    accepted = [rec.write("/joint_states", serialize_message(joint_state(i)), i + 1) for i in range(500)]
    assert not all(accepted) and accepted.index(False) > 0
    assert not any(accepted[accepted.index(False):])  # once stopped, stays stopped
    assert rec.stopped.startswith("size limit reached")
    rec.close()
    assert rec.stopped.startswith("size limit reached")  # close does not overwrite the reason
    with AnyReader([path]) as reader:
        assert reader.connections[0].msgcount == accepted.index(False)


def test_duration_limit_counts_from_the_first_message(tmp_path):
    now = [50.0]
    rec = McapRecorder(tmp_path / "run.mcap", RecordingLimits(max_seconds=2.0), clock=lambda: now[0])
    rec.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    data = serialize_message(joint_state(1))
    assert rec.write("/joint_states", data, 1)
    now[0] = 51.9
    assert rec.write("/joint_states", data, 2)
    now[0] = 52.0
    assert not rec.write("/joint_states", data, 3)
    assert rec.stopped == "duration limit reached: max_seconds 2 s"
    assert rec.counts["/joint_states"] == 2


def test_low_free_space_stops_recording_and_refuses_to_start(tmp_path):
    free = [10 * MB]
    limits = RecordingLimits(min_free_bytes=5 * MB)
    rec = McapRecorder(tmp_path / "run.mcap", limits, free_bytes=lambda _p: free[0])
    rec.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    assert rec.write("/joint_states", serialize_message(joint_state(1)), 1)
    free[0] = 4 * MB
    rec._last_free_check = -1e9  # the next write checks again (otherwise at most once a second)
    assert not rec.write("/joint_states", serialize_message(joint_state(2)), 2)
    assert "disk nearly full: 4.0 MB free" in rec.stopped and "min_free_bytes 5.0 MB" in rec.stopped
    with pytest.raises(OSError, match="4.0 MB free on its disk"):
        McapRecorder(tmp_path / "other.mcap", limits, free_bytes=lambda _p: free[0])


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux) to fill a disk for real")
def test_a_full_disk_stops_recording_with_a_clear_reason():
    rec = McapRecorder("/dev/full", RecordingLimits(min_free_bytes=0), chunk_size=256)
    rec.add_topic("/joint_states", "sensor_msgs/msg/JointState")
    results = [rec.write("/joint_states", serialize_message(joint_state(i)), i + 1) for i in range(400)]
    assert False in results
    assert rec.stopped.startswith("disk full writing /dev/full after")
    assert rec.closed
    rec.close()  # closing again is harmless and keeps the reason
    assert rec.stopped.startswith("disk full")


def test_limits_are_checked():
    with pytest.raises(ValueError, match="max_bytes"):
        RecordingLimits(max_bytes=0)
    with pytest.raises(ValueError, match="max_seconds"):
        RecordingLimits(max_seconds=-1)


@pytest.mark.parametrize("topic,type_name,expected", [
    ("/joint_states", "sensor_msgs/msg/JointState", RAW),
    ("/policy/observation/images/head", "sensor_msgs/msg/Image", RAW),  # what the model saw: lossless
    ("/camera/head/image_raw", "sensor_msgs/msg/Image", COMPRESS),
    ("/rosout", "rcl_interfaces/msg/Log", None),
    ("/parameter_events", "rcl_interfaces/msg/ParameterEvent", None),
])
def test_what_is_recorded_and_how(topic, type_name, expected):
    assert recording_action(topic, type_name, {}) == expected


def test_a_camera_that_publishes_compressed_frames_is_recorded_as_it_is():
    graph = {"/camera/head/image_raw": ["sensor_msgs/msg/Image"],
             "/camera/head/image_raw/compressed": ["sensor_msgs/msg/CompressedImage"]}
    assert recording_action("/camera/head/image_raw", "sensor_msgs/msg/Image", graph) is None
    assert recording_action("/camera/head/image_raw/compressed", "sensor_msgs/msg/CompressedImage", graph) == RAW


def test_excluded_topics_and_bad_patterns():
    exclude = compile_patterns([r"/debug/.*"])
    assert recording_action("/debug/x", "std_msgs/msg/String", {}, exclude) is None
    with pytest.raises(ValueError, match="parameter exclude"):
        compile_patterns(["("])


def test_an_existing_recording_is_never_overwritten(tmp_path):
    first = tmp_path / "run.mcap"
    assert unused_path(first) == first
    first.write_bytes(b"the first recorder's run")
    assert unused_path(first) == tmp_path / "run-2.mcap"
    (tmp_path / "run-2.mcap").write_bytes(b"")
    assert unused_path(first) == tmp_path / "run-3.mcap"
