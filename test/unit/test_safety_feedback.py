"""Specification: a command starts or resumes only from complete, fresh, consistent, single-source feedback."""

from __future__ import annotations

import math

import numpy as np
import pytest

from egoscale_ros.safety.feedback import FeedbackFilter, source_verdict

JOINTS = ["shoulder", "elbow"]


def make(speed: float = 2.0) -> FeedbackFilter:
    return FeedbackFilter(JOINTS, np.full(2, speed), future_tolerance_s=0.1, slack_rad=0.05, speed_factor=1.5)


def test_a_partial_message_is_refused_and_never_merged():
    f = make()
    assert f.offer(["shoulder", "elbow", "wrist"], [0.1, 0.2, 0.3], stamp_s=10.0, now_s=10.0)
    assert not f.offer(["elbow"], [1.0], stamp_s=10.01, now_s=10.01)  # a second publisher's partial view
    assert f.counters.partial == 1
    assert f.positions == {"shoulder": 0.1, "elbow": 0.2, "wrist": 0.3}


def test_each_message_replaces_the_whole_view():
    f = make()
    assert f.offer(["shoulder", "elbow", "wrist"], [0.1, 0.2, 0.3], 10.0, 10.0)
    assert f.offer(["elbow", "shoulder"], [0.21, 0.11], 10.01, 10.01)
    assert f.positions == {"shoulder": 0.11, "elbow": 0.21}  # 'wrist' is not carried over


def test_a_jump_faster_than_the_joints_can_move_is_refused():
    f = make(speed=2.0)  # reach in 10 ms: 2·1.5·0.01 + 0.05 = 0.08 rad
    assert f.offer(JOINTS, [0.0, 0.0], 10.0, 10.0)
    assert not f.offer(JOINTS, [0.0, 0.8], 10.01, 10.01)  # the 0.8 rad elbow of another publisher
    assert f.counters.inconsistent == 1 and "elbow" in f.last_reason
    assert f.offer(JOINTS, [0.0, 0.07], 10.02, 10.02)  # the real robot, still consistent
    np.testing.assert_allclose(f.vector, [0.0, 0.07])


@pytest.mark.parametrize("stamp, counter", [(10.5, "future"), (9.0, "out_of_order")])
def test_stamps_ahead_of_the_clock_or_going_back_are_refused(stamp, counter):
    f = make()
    assert f.offer(JOINTS, [0.0, 0.0], 10.0, 10.0)
    assert not f.offer(JOINTS, [0.0, 0.0], stamp, 10.1)
    assert getattr(f.counters, counter) == 1


def test_age_is_judged_by_the_messages_own_stamp():
    f = make()
    assert f.age_s(5.0) == math.inf
    assert f.offer(JOINTS, [0.0, 0.0], stamp_s=9.0, now_s=10.0)  # a delayed message
    assert f.age_s(10.0) == pytest.approx(1.0)


def test_non_finite_or_mismatched_messages_are_refused():
    f = make()
    assert not f.offer(JOINTS, [0.0, math.nan], 10.0, 10.0)
    assert not f.offer(JOINTS, [0.0], 10.0, 10.0)
    assert f.counters.malformed == 2 and f.vector is None


def test_source_verdict_wants_the_declared_publisher_alone():
    assert source_verdict(["mock_hardware_node"]) == ""
    assert "one source" in source_verdict(["mock_hardware_node", "intruder"])
    assert source_verdict([]) == "no publisher"
    assert source_verdict(["feedback_node"], declared="feedback_node") == ""
    assert "intruder" in source_verdict(["feedback_node", "intruder"], declared="feedback_node")
    assert "foreign" in source_verdict(["other"], declared="feedback_node")
    # Two publishers of one node are two sources too.
    assert "2 publishers" in source_verdict(["feedback_node", "feedback_node"], declared="feedback_node")
