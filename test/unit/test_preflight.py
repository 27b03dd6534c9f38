"""Specification of the preflight verdict (``check --live``) from what the feedback sources told."""

from __future__ import annotations

from egoscale_ros.interfaces.base import JointSample, Rejected
from egoscale_ros.interfaces.feedback import FeedbackAssembly
from egoscale_ros.nodes.preflight import evaluate
from egoscale_ros.robot.config import load_robot_config

LIMITS = {"left_elbow_joint": (-1.0472, 2.0944), "left_wrist_roll_joint": (-1.97, 1.97)}


class Source:
    def __init__(self, name, topic, joints, timeout_s=0.1, rate_hz=500.0):
        self.name, self.topic, self.joints, self.timeout_s, self.rate_hz = name, topic, joints, timeout_s, rate_hz


def heard(positions: dict[str, float], until: float = 2.0, rate_hz: float = 100.0) -> FeedbackAssembly:
    fb = FeedbackAssembly([Source("lowstate", "rt/lowstate", tuple(LIMITS))], clock=lambda: 0.0)
    for k in range(int(until * rate_hz)):
        fb.accept("lowstate", JointSample(dict(positions)), now=k / rate_hz)
    return fb


def verdict(fb: FeedbackAssembly, now: float = 2.0) -> dict:
    return evaluate(load_robot_config("g1_dex3"), fb, 2.0, LIMITS, "native DDS domain 0", now)


def test_a_robot_inside_its_limits_with_live_feedback_may_start():
    r = verdict(heard({"left_elbow_joint": 0.6, "left_wrist_roll_joint": 0.0}))
    assert r["ok"] and not r["problems"]
    assert r["joints"]["left_elbow_joint"]["from_home"] == 0.0  # g1_dex3's home elbow is 0.6
    assert r["warnings"] == ["rt/lowstate: 100.0 Hz, expected about 500 Hz"]


def test_a_joint_outside_its_limits_is_named_and_stops_the_start():
    r = verdict(heard({"left_elbow_joint": 2.5, "left_wrist_roll_joint": 0.0}))
    assert not r["ok"]
    assert r["joints"]["left_elbow_joint"]["status"] == "outside_limits"
    assert r["problems"] == ["left_elbow_joint: at 2.5000 rad, outside its limits [-1.0472, 2.0944]"]


def test_missing_joints_a_silent_source_and_refused_messages_stop_the_start():
    fb = FeedbackAssembly([Source("lowstate", "rt/lowstate", tuple(LIMITS))], clock=lambda: 0.0)
    r = verdict(fb)
    assert any("never measured" in p for p in r["problems"])
    assert any("no message in 2 s on native DDS domain 0" in p for p in r["problems"])
    fb = heard({"left_elbow_joint": 0.6, "left_wrist_roll_joint": 0.0}, until=1.0)
    fb.reject("lowstate", Rejected("bad_crc", "crc 0x1, computed 0x2"))
    r = verdict(fb, now=2.0)
    assert any("went silent" in p for p in r["problems"])
    assert any("refused 1 message(s): bad_crc 1" in p for p in r["problems"])
