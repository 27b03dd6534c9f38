"""Replies that come back together go out in capture order: the newer waits for the older.

The connections' transports are stand-ins that answer when the test releases them (the wire
itself is tested against the mock servers in test/integration/test_remote_servers.py), so the
order in which replies come back is chosen by the test, not by the machine's timing.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from egoscale_ros.policy.pipeline import Observation
from egoscale_ros.remote import client as client_module
from egoscale_ros.remote.client import OPENPI_REQUEST_ID, RemotePolicy
from egoscale_ros.remote.codec import openpi_packb, openpi_unpackb
from egoscale_ros.remote.reference import openpi_spec
from egoscale_ros.remote.spec import encode_wrist
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.kinematics import RobotKinematics

STAMP_NS = 10_000_000_000


class HeldTransport:
    """Answers each request with a well-formed openpi reply once the test releases it."""

    def __init__(self, spec):
        self.connected, self.connects = True, 1
        self.width = sum(spec.key_dims(spec.action).values())
        self.horizon = spec.horizon
        self.release = threading.Event()
        self.received = threading.Event()

    def request(self, payload: bytes) -> bytes:
        request_id = openpi_unpackb(payload)[OPENPI_REQUEST_ID]
        self.received.set()
        self.release.wait(10.0)
        actions = np.zeros((self.horizon, self.width), np.float32)
        for start in (0, self.width // 2):  # each side: its wrist (xyz+rot6d, absolute), then its hand
            actions[:, start : start + 9] = encode_wrist(np.eye(4), "xyz+rot6d")
        return openpi_packb({"actions": actions, OPENPI_REQUEST_ID: request_id})

    def close(self) -> None:
        self.release.set()


@pytest.fixture()
def pool():
    config = load_robot_config("g1_dex3")
    spec = openpi_spec(config)
    delivered: list[int] = []
    done = threading.Condition()

    def deliver(obs, prediction):
        with done:
            delivered.append(obs.stamp_ns)
            done.notify_all()

    policy = RemotePolicy(spec, "openpi_server", {"port": 1, "connections": 2}, [config.cameras[0].name],
                          now_ns=lambda: STAMP_NS + 50_000_000)
    for conn in policy.connections:
        conn.transport = HeldTransport(spec)
    policy.start(deliver)
    kin = RobotKinematics(config)
    q = {j: 0.05 for j in config.movable_joints()}
    wrists = {s: kin.wrist_pose(s, q) for s in config.arms}

    def observation(offset_ns: int) -> Observation:
        return Observation(STAMP_NS + offset_ns, [np.zeros((48, 64, 3), np.uint8)], q, "pick", wrists)

    def wait_for(count: int) -> list[int]:
        with done:
            assert done.wait_for(lambda: len(delivered) >= count, 10.0), delivered
            return list(delivered)

    def settled() -> None:  # both requests over and their replies dealt with (delivered or dropped)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and len(delivered) + policy.superseded < 2:
            time.sleep(0.005)

    policy.window.size = 2  # both connections in use from the start
    yield policy, observation, wait_for, delivered, settled
    policy.close()


def test_an_older_reply_that_comes_back_just_after_a_newer_one_still_goes_out_first(pool, monkeypatch):
    policy, observation, wait_for, delivered, _ = pool
    monkeypatch.setattr(client_module, "ORDER_HOLD_S", 10.0)  # the order, not the timing, under test
    older, newer = policy.connections
    assert policy.submit(observation(0)) and policy.submit(observation(33_000_000))
    assert older.transport.received.wait(10.0) and newer.transport.received.wait(10.0)
    newer.transport.release.set()  # the newer reply comes back first...
    assert not delivered  # ...and waits while the older request is still out
    older.transport.release.set()
    assert wait_for(2) == [STAMP_NS, STAMP_NS + 33_000_000]
    assert policy.status()["server_replies_superseded"] == 0


def test_a_newer_reply_does_not_wait_longer_than_the_hold_for_an_older_one(pool, monkeypatch):
    policy, observation, wait_for, delivered, settled = pool
    monkeypatch.setattr(client_module, "ORDER_HOLD_S", 0.05)
    older, newer = policy.connections
    assert policy.submit(observation(0)) and policy.submit(observation(33_000_000))
    newer.transport.release.set()
    assert wait_for(1) == [STAMP_NS + 33_000_000]  # the older one is still out: held, then sent
    older.transport.release.set()  # too late: superseded, never handed out after the newer one
    settled()
    assert delivered == [STAMP_NS + 33_000_000] and policy.status()["server_replies_superseded"] == 1
