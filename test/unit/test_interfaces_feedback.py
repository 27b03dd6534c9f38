"""Specification of the joint_states assembly from declared feedback sources."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from egoscale_ros.interfaces.base import JointSample, Rejected, RosJointState
from egoscale_ros.interfaces.feedback import FeedbackAssembly, NameMap


@dataclass(frozen=True)
class Source:
    name: str
    topic: str
    joints: tuple[str, ...]
    timeout_s: float = 0.1
    rate_hz: float = 0.0


def test_unprefixed_names_are_mapped_to_urdf_names_by_prefix():
    names = NameMap(("left_thumb_CMC_FE", "left_thumb_DIP"), prefix="left_")
    sample = names.map(RosJointState(("thumb_DIP", "thumb_CMC_FE"), (0.2, 0.1)))
    assert sample.position == {"left_thumb_DIP": 0.2, "left_thumb_CMC_FE": 0.1}


def test_explicit_source_names_map_one_to_one():
    names = NameMap(("left_arm_joint1", "left_arm_joint2"), source_names=("j1", "j2"))
    assert names.map(RosJointState(("j2",), (0.5,))).position == {"left_arm_joint2": 0.5}


def test_unnamed_messages_are_mapped_by_the_configured_order():
    names = NameMap(("a", "b", "c"))
    assert names.map(RosJointState((), (1.0, 2.0, 3.0), (0.1, 0.2, 0.3))).position == {"a": 1.0, "b": 2.0, "c": 3.0}


@pytest.mark.parametrize(
    "msg, reason",
    [
        (RosJointState(("a", "b"), (1.0,)), "length_mismatch"),
        (RosJointState((), (1.0, 2.0)), "wrong_length"),
        (RosJointState(("a", "elbow"), (1.0, 2.0)), "unknown_joint"),
        (RosJointState(("a",), (float("nan"),)), "non_finite"),
        (RosJointState(("a",), (1.0,), (0.1, 0.2)), "length_mismatch"),
    ],
)
def test_messages_whose_names_and_values_disagree_are_rejected_with_a_reason(msg, reason):
    with pytest.raises(Rejected) as err:
        NameMap(("a", "b", "c")).map(msg)
    assert err.value.reason == reason


def test_unnamed_messages_can_be_refused():
    with pytest.raises(Rejected, match="unnamed"):
        NameMap(("a",), by_order=False).map(RosJointState((), (1.0,)))


def test_the_view_takes_each_joint_from_its_own_source_and_fills_mimic_joints():
    clock = [0.0]
    fb = FeedbackAssembly([Source("arm", "rt/lowstate", ("j1", "j2")), Source("hand", "hand/state", ("f1",))],
                          mimic=[("f1_tip", "f1", 2.0, 0.1)], clock=lambda: clock[0])
    assert not fb.complete() and fb.missing() == ["j1", "j2", "f1"]
    fb.accept("arm", JointSample({"j1": 0.1, "j2": 0.2}, {"j1": 1.0}))
    fb.accept("hand", JointSample({"f1": 0.5}))
    names, q, dq, _ = fb.view()
    assert names == ["j1", "j2", "f1", "f1_tip"]
    assert q == pytest.approx([0.1, 0.2, 0.5, 1.1])
    assert dq[0] == 1.0
    assert fb.complete()


def test_a_source_sending_another_sources_joint_is_rejected_and_changes_nothing():
    fb = FeedbackAssembly([Source("arm", "t1", ("j1",)), Source("hand", "t2", ("f1",))], clock=lambda: 0.0)
    fb.accept("hand", JointSample({"f1": 0.5}))
    fb.accept("arm", JointSample({"j1": 0.1, "f1": 9.0}))
    assert fb.position == {"f1": 0.5}
    assert fb.status["arm"].rejected == {"unknown_joint": 1}
    assert "f1" in fb.status["arm"].last_rejection


def test_rejections_are_counted_per_reason_and_reported_on_diagnostics():
    fb = FeedbackAssembly([Source("arm", "rt/lowstate", ("j1",))], clock=lambda: 0.0)
    fb.reject("arm", Rejected("bad_crc", "crc 0x1"))
    fb.reject("arm", Rejected("bad_crc", "crc 0x2"))
    values = fb.diagnostics()
    assert values["feedback arm rejected bad_crc"] == 2
    assert values["feedback arm rejected"] == 2
    assert values["feedback missing_joints"] == "j1"


def test_a_source_that_goes_silent_is_named():
    clock = [0.0]
    fb = FeedbackAssembly([Source("arm", "rt/lowstate", ("j1",), timeout_s=0.1),
                           Source("hand", "h", ("f1",), timeout_s=1.0)], clock=lambda: clock[0])
    for k in range(10):
        clock[0] = k * 0.01
        fb.accept("arm", JointSample({"j1": 0.0}))
        fb.accept("hand", JointSample({"f1": 0.0}))
    assert fb.silent_sources() == []
    assert fb.status["arm"].rate_hz(clock[0]) == pytest.approx(100.0, rel=0.01)
    clock[0] = 0.5
    assert fb.silent_sources() == ["arm"]


def test_the_native_side_in_tests_is_loopback_only_without_multicast_and_tagged():
    from egoscale_ros.interfaces.dds import cyclone_config
    from egoscale_ros.interfaces.settings import loopback, private_tag

    tag = private_tag()
    xml = cyclone_config(loopback(211, tag))
    assert '<NetworkInterface name="lo"/>' in xml and "<AllowMulticast>false</AllowMulticast>" in xml
    assert '<Peer address="127.0.0.1"/>' in xml and f"<Tag>{tag}</Tag>" in xml
    assert private_tag() != tag
