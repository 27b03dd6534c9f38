"""Specification of stall detection and reopen-with-backoff for camera sources."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from egoscale_ros.camera.factory import create_source
from egoscale_ros.camera.reconnect import Backoff, ReconnectPolicy, SupervisedSource
from egoscale_ros.camera.source import CameraError


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_up_to_the_cap_and_resets_after_success():
    policy = ReconnectPolicy(backoff=Backoff(initial_s=0.5, max_s=3.0, factor=2.0))
    policy.started(0.0)
    policy.declare_lost(10.0, "gone")
    assert policy.attempt_due(10.0)  # first try at once
    due_times = []
    t = 10.0
    for _ in range(5):
        policy.reopen_failed(t, "still gone")
        t = policy.next_attempt_at
        assert not policy.attempt_due(t - 1e-6) and policy.attempt_due(t)
        due_times.append(t)
    assert np.allclose(np.diff([10.0, *due_times]), [0.5, 1.0, 2.0, 3.0, 3.0])
    policy.reopened(t)
    assert policy.state == "streaming" and policy.reconnects == 1 and policy.attempts == 6
    policy.declare_lost(t + 1, "again")
    policy.reopen_failed(t + 1, "x")
    assert policy.next_attempt_at == pytest.approx(t + 1.5)  # backoff started over


def test_lost_after_repeated_failures_or_a_stall():
    policy = ReconnectPolicy(stall_timeout_s=1.0, max_consecutive_failures=3)
    policy.started(0.0)
    policy.read_failed(0.1)
    policy.read_failed(0.2)
    assert not policy.should_declare_lost(0.2)
    policy.read_failed(0.3)
    assert policy.should_declare_lost(0.3)

    policy = ReconnectPolicy(stall_timeout_s=1.0, max_consecutive_failures=100)
    policy.started(0.0)
    policy.frame_received(0.5)
    policy.read_failed(1.4)
    assert not policy.should_declare_lost(1.4)
    assert policy.should_declare_lost(1.6)  # no frame for 1.1 s


def test_policy_refuses_nonsense_settings():
    with pytest.raises(ValueError, match="stall_timeout_s"):
        ReconnectPolicy(stall_timeout_s=0.0)
    with pytest.raises(ValueError, match="max_consecutive_failures"):
        ReconnectPolicy(max_consecutive_failures=0)
    with pytest.raises(ValueError, match="initial_s <= max_s"):
        Backoff(initial_s=2.0, max_s=1.0)
    with pytest.raises(ValueError, match="factor >= 1"):
        Backoff(factor=0.5)


@pytest.fixture()
def folder(tmp_path):
    path = tmp_path / "cam"
    path.mkdir()
    for i in range(3):
        cv2.imwrite(str(path / f"{i}.png"), np.full((8, 8, 3), 50 * i, np.uint8))
    return path


def test_a_source_that_stops_delivering_is_reopened_with_backoff(folder, tmp_path):
    clock = FakeClock()
    policy = ReconnectPolicy(stall_timeout_s=5.0, max_consecutive_failures=2, backoff=Backoff(initial_s=1.0))
    cam = SupervisedSource(create_source(f"folder:{folder}"), policy, clock)
    cam.open()
    assert cam.read() is not None and cam.healthy

    moved = tmp_path / "unplugged"
    folder.rename(moved)  # the "device" disappears
    clock.now += 0.1
    assert cam.read() is None and cam.healthy  # one failure is tolerated
    clock.now += 0.1
    assert cam.read() is None and not cam.healthy  # second failure: lost, source closed
    assert cam.status()["state"] == "lost" and "2 failed reads" in cam.status()["last_error"]

    assert cam.read() is None  # immediate reopen attempt fails: folder not found
    assert "folder not found" in cam.status()["last_error"]
    assert cam.status()["next_attempt_in_s"] == pytest.approx(1.0)
    clock.now += 0.5
    assert cam.read() is None and policy.attempts == 1  # not due yet: no attempt

    moved.rename(folder)  # plugged back in
    clock.now += 0.6
    frame = cam.read()
    assert frame is not None and cam.healthy
    assert cam.status()["reconnects"] == 1 and cam.status()["losses"] == 1


def test_open_failure_at_start_is_an_error_naming_the_source(tmp_path):
    cam = SupervisedSource(create_source(f"folder:{tmp_path / 'nope'}"))
    with pytest.raises(CameraError, match="nope"):
        cam.open()


def test_a_finished_file_is_not_reopened(tmp_path):
    path = tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (16, 16))
    for _ in range(2):
        writer.write(np.zeros((16, 16, 3), np.uint8))
    writer.release()
    clock = FakeClock()
    cam = SupervisedSource(create_source(path), ReconnectPolicy(max_consecutive_failures=1), clock)
    cam.open()
    assert cam.read() is not None and cam.read() is not None
    for _ in range(3):
        clock.now += 10.0
        assert cam.read() is None
    assert cam.status()["state"] == "finished" and cam.policy.attempts == 0


def test_stall_on_a_live_source_is_detected_by_time(folder):
    clock = FakeClock()
    source = create_source(f"folder:{folder}")
    cam = SupervisedSource(source, ReconnectPolicy(stall_timeout_s=1.0, max_consecutive_failures=1000), clock)
    cam.open()
    cam.read()
    for p in folder.iterdir():
        p.write_bytes(b"corrupt")  # still listed, no longer decodable
    clock.now += 0.5
    assert cam.read() is None and cam.healthy
    assert not cam.status()["stalled"]
    clock.now += 0.6
    assert cam.status()["stalled"]  # visible before the next read, e.g. while one blocks
    assert cam.read() is None and not cam.healthy
    assert "no frame for 1.10 s" in cam.status()["last_error"]
