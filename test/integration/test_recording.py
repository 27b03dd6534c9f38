"""A recorded demo run: an independent reader opens it, the report's figures match it, and
replaying it through the same policy reproduces its chunks.

One real run of the whole graph (every node its own process, real DDS, mock hardware) with
``egoscale-ros demo --record``; the checks then read the file it left.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags is the independent reader these specs open recordings with")

DEMO_SECONDS = 6
# What the graph of a G1 with Dex3 hands publishes; a recording must hold all of it.
EXPECTED_TOPICS = {
    "/camera/head/image_raw/compressed": "sensor_msgs/msg/CompressedImage",
    "/policy/wrist_chunk": "trajectory_msgs/msg/MultiDOFJointTrajectory",
    "/policy/hand_chunk": "trajectory_msgs/msg/JointTrajectory",
    "/command/wrist_targets": "trajectory_msgs/msg/MultiDOFJointTrajectory",
    "/command/hand_targets": "sensor_msgs/msg/JointState",
    "/joint_states": "sensor_msgs/msg/JointState",
    "/diagnostics": "diagnostic_msgs/msg/DiagnosticArray",
    "/policy/observation/images/head": "sensor_msgs/msg/Image",
    "/policy/observation/joint_states": "sensor_msgs/msg/JointState",
    "/policy/observation/instruction": "std_msgs/msg/String",
}
# Its maker's native messages (Unitree DDS, not ROS topics), recorded under their ROS 2 names and types.
NATIVE_TOPICS = {
    "/arm_sdk": "unitree_hg/msg/LowCmd",
    "/lowstate": "unitree_hg/msg/LowState",
    "/dex3/left/cmd": "unitree_hg/msg/HandCmd",
    "/dex3/right/cmd": "unitree_hg/msg/HandCmd",
    "/dex3/left/state": "unitree_hg/msg/HandState",
    "/dex3/right/state": "unitree_hg/msg/HandState",
}


def controller_topics() -> dict[str, str]:
    """The robot's command topics: its ROS controllers, or the internal topics of its maker's
    interfaces (robot_interface_node sends those natively)."""
    from egoscale_ros.robot.config import load_robot_config

    package = {"Float64MultiArray": "std_msgs", "JointTrajectory": "trajectory_msgs", "JointState": "sensor_msgs"}
    return {f"/{c.ros_topic}": f"{package[c.ros_type]}/msg/{c.ros_type}" for c in load_robot_config("g1_dex3").controllers}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("recorded")
    path = out / "run.mcap"
    proc = subprocess.run(
        [sys.executable, "-m", "egoscale_ros.cli", "demo", "--seconds", str(DEMO_SECONDS), "--json",
         "--record", str(path), "--log-dir", str(out / "logs")],
        capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return path, json.loads(proc.stdout)


def rosbags_read(path: Path) -> tuple[dict[str, str], dict[str, list]]:
    from rosbags.highlevel import AnyReader

    with AnyReader([path]) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        wanted = [c for c in reader.connections if c.topic in ("/policy/wrist_chunk", "/diagnostics", "/arm_sdk")]
        messages: dict[str, list] = {}
        for conn, t, raw in reader.messages(connections=wanted):
            messages.setdefault(conn.topic, []).append((t, reader.deserialize(raw, conn.msgtype)))
    return types, messages


def test_rosbags_opens_the_recording_with_every_topic_of_the_graph(recorded):
    path, demo = recorded
    assert demo["recording"] == str(path)
    types, messages = rosbags_read(path)
    expected = {**EXPECTED_TOPICS, **controller_topics(), **NATIVE_TOPICS}
    assert len(expected) > len(EXPECTED_TOPICS)
    missing = {t: ty for t, ty in expected.items() if types.get(t) != ty}
    assert not missing, f"missing or mistyped: {missing}; recorded {types}"
    assert "/camera/head/image_raw" not in types  # raw frames are recorded compressed only
    chunk = messages["/policy/wrist_chunk"][0][1]
    assert list(chunk.joint_names) == ["left_wrist", "right_wrist"] and len(chunk.points) > 1
    # The arm_sdk commands as the robot received them: the blend weight reaches 1, the CRC holds.
    from egoscale_ros.interfaces import unitree_idl as idl
    from egoscale_ros.interfaces.crc import unitree_crc
    from egoscale_ros.interfaces.fixed_cdr import pack

    weights = [float(m.motor_cmd[29].q) for _, m in messages["/arm_sdk"]]
    assert max(weights) == 1.0 and min(weights) >= 0.0  # handed over (and maybe back at the end)
    last = messages["/arm_sdk"][-1][1]
    sample = idl.HgLowCmd(mode_pr=int(last.mode_pr), mode_machine=int(last.mode_machine), crc=int(last.crc),
                          motor_cmd=[idl.HgMotorCmd(int(c.mode), float(c.q), float(c.dq), float(c.tau), float(c.kp),
                                                    float(c.kd), int(c.reserve)) for c in last.motor_cmd],
                          reserve=[int(r) for r in last.reserve])
    assert sample.crc == unitree_crc(pack(sample)[:-4])
    assert {s.name.rsplit("/", 1)[-1] for _, m in messages["/diagnostics"] for s in m.status} >= {
        "policy_node", "chunk_smoother_node", "wrist_ik_node", "hand_retarget_node", "recorder_node"}


def percentiles(values: list[float]) -> dict:
    return {**{f"p{p}": round(float(np.percentile(values, p)), 2) for p in (50, 90, 99)}, "n": len(values)}


def test_report_figures_match_the_recording(recorded, tmp_path):
    from rosbags.highlevel import AnyReader

    from egoscale_ros.recording.reader import open_recording
    from egoscale_ros.recording.report import make_report

    path, _ = recorded
    report = make_report(open_recording(path), tmp_path)
    for name in ("chunk_fan.png", "latency.png", "tracking_arms.png", "tracking_hands.png", "rates.png",
                 "safety.png", "cpu.png", "report.json", "report.md"):
        assert (tmp_path / name).stat().st_size > 1000, name
    assert json.loads((tmp_path / "report.json").read_text())["message_counts"] == report["message_counts"]

    command_topic = "/" + report["latency_ms"]["chunk_to_command_topic"]
    with AnyReader([path]) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        chunks = [c for c in reader.connections if c.topic == "/policy/wrist_chunk"]
        ages, chunk_times = [], []
        for conn, t, raw in reader.messages(connections=chunks):
            stamp = reader.deserialize(raw, conn.msgtype).header.stamp
            ages.append((t - (stamp.sec * 1_000_000_000 + stamp.nanosec)) * 1e-6)
            chunk_times.append(t)
        commands = sorted(t for _, t, _ in reader.messages(
            connections=[c for c in reader.connections if c.topic == command_topic]))
    assert report["message_counts"] == counts
    got = report["latency_ms"]["capture_to_chunk"]
    assert got == pytest.approx(percentiles(ages), abs=0.011)
    # chunk -> command: the first command after each chunk, counted here with the reader's times
    delays = [(next(c for c in commands if c >= t) - t) * 1e-6 for t in chunk_times if commands[-1] >= t]
    assert report["latency_ms"]["chunk_to_command"] == pytest.approx(percentiles(delays), abs=0.011)
    # Tracking compares what reached the robot (native commands) with what it measured (native feedback).
    assert report["tracking_source"].startswith("maker's native commands /arm_sdk")
    assert report["tracking"]["arms"]["commands"] == 14 * counts["/arm_sdk"]
    assert report["tracking"]["hands"]["commands"] == 7 * (counts["/dex3/left/cmd"] + counts["/dex3/right/cmd"])
    assert report["tracking"]["arms"]["beyond_limits"] == 0
    assert report["tracking"]["arms"]["max_error_rad"] < 0.2
    assert set(report["cpu_percent_by_node"]) >= {"policy_node", "wrist_ik_node"}
    page = (tmp_path / "report.md").read_text()
    assert f"| capture → chunk | {got['p50']:.2f} |" in page and "![chunk_fan.png](chunk_fan.png)" in page


def test_replaying_with_the_same_policy_reproduces_the_recorded_chunks(recorded, tmp_path):
    from egoscale_ros.recording.reader import open_recording
    from egoscale_ros.recording.replay import plot, recorded_policy, replay

    path, _ = recorded
    rec = open_recording(path)
    manifest = recorded_policy(rec)  # what the demo ran, as policy_node reported it
    assert manifest.endswith("manifest.yaml")
    result = replay(rec, manifest, backend="onnxruntime")
    summary = result["summary"]
    assert summary["compared"] >= 10 and summary["without_recorded_chunk"] <= 1
    for key in ("wrist_translation_m", "wrist_rotation_rad", "hand_rad"):
        assert summary[key]["max"] <= 1e-4, (key, summary[key])
    assert summary["equal_within_tolerance"]
    plot(result, tmp_path / "replay.png")
    assert (tmp_path / "replay.png").stat().st_size > 1000
