"""recorder_node keeps to its disk bounds: it stops at ``max_bytes`` with a finished, readable file
and says why, and refuses to start on a disk with less free space than ``min_free_bytes``
(real node processes, real DDS, the real file system)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("rosbags", reason="rosbags is the independent reader these specs open recordings with")

from egoscale_ros.process_graph import private_ros_environment

STARTUP_S = 180  # start-up of two nodes on a loaded machine


def node(exe: str, *params: str, env: dict) -> subprocess.Popen:
    args = [a for p in params for a in ("-p", p)]
    return subprocess.Popen([sys.executable, "-m", f"egoscale_ros.nodes.{exe}", "--ros-args", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_line(proc: subprocess.Popen, text: str) -> str:
    deadline = time.monotonic() + STARTUP_S
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if text in line:
            return line
        assert time.monotonic() < deadline, "".join(seen[-20:])
    raise AssertionError(f"the node exited without saying {text!r}:\n{''.join(seen[-20:])}")


def test_recording_stops_at_its_size_limit_and_the_file_stays_readable(tmp_path):
    from rosbags.highlevel import AnyReader

    env = private_ros_environment()
    path = tmp_path / "bounded.mcap"
    max_bytes = 200_000
    hardware = node("mock_hardware_node", "robot:=g1_dex3", env=env)
    recorder = node("recorder_node", f"path:={path}", f"max_bytes:={max_bytes}", "robot:=g1_dex3", env=env)
    try:
        line = wait_for_line(recorder, "recording stopped:")
    finally:
        for p in (recorder, hardware):
            p.send_signal(2)
        for p in (recorder, hardware):
            p.communicate(timeout=30)
    assert "size limit reached" in line and "max_bytes 0.2 MB" in line and str(path) in line
    size = path.stat().st_size
    assert max_bytes <= size < max_bytes + 1024 * 1024 + 100_000  # at most one chunk past the bound, plus the index
    with AnyReader([Path(path)]) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert counts.get("/joint_states", 0) > 10


def test_a_disk_without_the_free_space_asked_for_is_refused_at_start_with_the_figures(tmp_path):
    path = tmp_path / "refused.mcap"
    env = private_ros_environment()
    recorder = node("recorder_node", f"path:={path}", f"min_free_bytes:={2**62}", env=env)
    out, _ = recorder.communicate(timeout=STARTUP_S)
    assert recorder.returncode != 0
    assert f"cannot record to {path}" in out and "free on its disk, below min_free_bytes" in out, out[-2000:]
    assert not path.exists()
