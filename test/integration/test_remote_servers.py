"""The remote policy client against real mock server processes over real sockets (no ROS).

The mock servers speak the GR00T and openpi protocols and answer with the reference policy;
openpi-client's own ``WebsocketClientPolicy`` is the independent check that our openpi server
side speaks the published protocol. Faults injected on the server (dropped replies, errors, NaN,
wrong shapes, stale replies, a wrong token, a dead server) must each be rejected by kind, and the
client must recover when the server answers again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from egoscale_ros.policy.manifest import load_manifest
from egoscale_ros.policy.pipeline import Observation
from egoscale_ros.remote.client import LATE_BLEND_FACTOR, RemotePolicy
from egoscale_ros.remote.errors import RemoteError
from egoscale_ros.remote.scenario import ServerProcess, free_port, remote_manifest
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.kinematics import RobotKinematics


@pytest.fixture(scope="module")
def g1():
    return load_robot_config("g1_dex3")


@pytest.fixture(scope="module")
def reference(tmp_path_factory, g1) -> str:
    from egoscale_ros.policy.export import ensure_default_policy

    cache = tmp_path_factory.getbasetemp() / "remote_policy_cache"
    return str(ensure_default_policy(robot="g1_dex3", state_joints=g1.policy_state_joints, cache_dir=cache,
                                     train_steps=20, progress=False))


def _server(protocol: str, folder: Path, reference: str, *extra: str, token: str = "") -> tuple[ServerProcess, Path]:
    port = free_port()
    manifest = remote_manifest("g1_dex3", protocol, folder, port, timeout_s=5.0)
    if token:
        extra = (*extra, "--api-token", token)
    server = ServerProcess(protocol, manifest, reference, port, folder / f"{protocol}.log", list(extra))
    server.start()
    assert server.wait_ready(180.0), (folder / f"{protocol}.log").read_text()[-2000:]
    return server, manifest


def _observation(g1) -> Observation:
    kin = RobotKinematics(g1)
    q = {j: 0.05 for j in g1.movable_joints()}
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    return Observation(42_000_000_000, [image], q, "pick up the cube", {s: kin.wrist_pose(s, q) for s in g1.arms})


def _client(manifest: Path, **options) -> RemotePolicy:
    m = load_manifest(manifest)
    backend = m.backend_order[0]
    return RemotePolicy(m.remote, backend, {**m.backends[backend], **options}, list(m.remote.video.values()))


@pytest.mark.parametrize("protocol", ["gr00t", "openpi"])
def test_chunks_come_back_stamped_with_the_observation(protocol, tmp_path, reference, g1):
    server, manifest = _server(protocol, tmp_path, reference)
    try:
        client = _client(manifest)
        obs = _observation(g1)
        client.now_ns = lambda: obs.stamp_ns + 100_000_000  # the reply is 0.1 s old on arrival
        prediction = client.predict(obs)
        chunk = prediction.chunk
        # execute_steps from the arrival on: 0.1 s of steps (three) fell due while it was out, and
        # a late chunk is published LATE_BLEND_FACTOR times that further (blended in over longer)
        assert chunk.stamp_ns == obs.stamp_ns and chunk.horizon == client.spec.execute_steps + LATE_BLEND_FACTOR * 3
        assert set(chunk.wrist) == {"left", "right"} and chunk.hand["left"].shape[1] == 22
        # The first absolute target lies near the wrist the observation was taken at.
        assert np.linalg.norm(chunk.wrist["left"][0, :3, 3] - obs.wrist_poses["left"][:3, 3]) < 0.2
        assert prediction.stages_ms["round_trip"] > 0 and client.status()["server_replies"] == 1
        client.close()
        if protocol == "gr00t":  # import-policy --server: the live server's modality configs map the same way
            from egoscale_ros.remote import importer

            live = importer.spec_from_gr00t(importer.gr00t_server_configs("127.0.0.1", server.port, 5.0), g1)
            assert live.key_dims(live.action) == client.spec.key_dims(client.spec.action)
            assert live.video == client.spec.video and live.horizon == client.spec.horizon
    finally:
        server.stop()


def test_openpi_reference_client_talks_to_our_server(tmp_path, reference, g1):
    websocket_client_policy = pytest.importorskip("openpi_client.websocket_client_policy",
                                                  reason="openpi-client (the reference client) is not installed")
    server, manifest = _server("openpi", tmp_path, reference)
    try:
        ours = _client(manifest)
        from egoscale_ros.remote.client import build_observation

        observation = build_observation(ours.spec, _observation(g1), ["head"], 1)
        theirs = websocket_client_policy.WebsocketClientPolicy(host="127.0.0.1", port=server.port)
        assert theirs.get_server_metadata()["action_horizon"] == 30
        reply = theirs.infer(observation)
        assert reply["actions"].shape == (30, 62) and reply["actions"].dtype == np.float32
        assert "infer_ms" in reply["server_timing"] and reply["__request_id__"] == 1
        theirs._ws.close()
    finally:
        server.stop()


def test_gr00t_faults_are_rejected_by_kind_and_the_client_recovers(tmp_path, reference, g1):
    server, manifest = _server("gr00t", tmp_path, reference, "--drop-rate", "0.2", "--error-rate", "0.2",
                               "--nan-rate", "0.2", "--shape-rate", "0.2", "--stale-rate", "0.2", "--seed", "3")
    try:
        client = _client(manifest, timeout_s=2.0, max_backoff_s=0.01)
        obs = _observation(g1)
        good = 0
        for _ in range(40):
            try:
                good += client.predict(obs).chunk is not None
            except RemoteError:
                time.sleep(0.02)
        status = client.status()
        for kind in ("timeout", "server_error", "non_finite", "bad_reply", "stale_reply"):
            assert status[f"server_{kind}"] > 0, (kind, status)
        assert good > 0 and status["server_replies"] == good
        client.close()
    finally:
        server.stop()


def test_wrong_token_is_reported_as_unauthorized(tmp_path, reference, g1):
    server, manifest = _server("gr00t", tmp_path, reference, token="right")
    try:
        client = _client(manifest, api_token="wrong")
        with pytest.raises(RemoteError) as err:
            client.predict(_observation(g1))
        assert err.value.kind == "unauthorized"
        client.close()
        client = _client(manifest, api_token="right")
        assert client.predict(_observation(g1)).chunk is not None
        client.close()
    finally:
        server.stop()


@pytest.mark.parametrize("protocol", ["gr00t", "openpi"])
def test_dead_server_is_reported_and_a_restarted_one_is_used_again(protocol, tmp_path, reference, g1):
    server, manifest = _server(protocol, tmp_path, reference)
    try:
        client = _client(manifest, timeout_s=0.5, max_backoff_s=0.05)
        obs = _observation(g1)
        assert client.predict(obs).chunk is not None
        server.kill()
        with pytest.raises(RemoteError) as err:
            client.predict(obs)
        assert err.value.kind in ("timeout", "disconnected")
        assert not client.answering
        server.start()
        assert server.wait_ready(180.0)
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            try:
                if client.predict(obs).chunk is not None:
                    break
            except RemoteError:
                time.sleep(0.1)
        assert client.answering and client.status()["server_replies"] == 2
        client.close()
    finally:
        server.stop()


# ------------------------------------------------------------------------ pipelined requests


class Delivered:
    """What a pipelined client hands out: (capture stamp, chunk stamp) in delivery order."""

    def __init__(self):
        self.stamps: list[tuple[int, int]] = []
        self.errors: list[Exception] = []
        self._cv = threading.Condition()

    def deliver(self, obs, prediction) -> None:
        with self._cv:
            self.stamps.append((obs.stamp_ns, prediction.chunk.stamp_ns))
            self._cv.notify_all()

    def error(self, exc: Exception) -> None:
        with self._cv:
            self.errors.append(exc)
            self._cv.notify_all()

    def wait(self, condition, timeout_s: float = 60.0) -> bool:
        """Until ``condition()`` holds (looked at on each delivery and every 50 ms; some conditions
        read client counters that change without a delivery)."""
        deadline = time.monotonic() + timeout_s
        with self._cv:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(0.05, left))
            return True


def _at(obs: Observation, stamp_ns: int) -> Observation:
    return dataclasses.replace(obs, stamp_ns=stamp_ns)


@contextlib.contextmanager
def _pipelined(protocol: str, folder: Path, reference: str, latency: str, **options):
    """A started pipelined client on a mock server with this latency schedule, and what it hands out;
    both are stopped on leaving."""
    server, manifest = _server(protocol, folder, reference, "--latency-ms", latency)
    out = Delivered()
    client = _client(manifest, **options)
    try:
        client.start(out.deliver, out.error)
        yield client, out
    finally:
        client.close()
        server.stop()


def _handled(client: RemotePolicy, out: Delivered) -> int:
    """Replies handed out or dropped as superseded so far."""
    return len(out.stamps) + client.status()["server_replies_superseded"]


def _open_window(client: RemotePolicy, out: Delivered, obs: Observation) -> int:
    """Offer observations in rounds until the in-flight window spans the pool (it starts at one
    request; a steady round trip opens it at once to what the pace of the observations needs,
    here offered back to back, or by one after a refusal). Returns how many were sent."""
    n = len(client.connections)
    sent = 0
    # Rounds to spare: on a loaded computer a round that came back slow does not grow the window.
    for _ in range(8 * n):
        if client.window.size == n:
            break
        while client.submit(_at(obs, 100 + sent)):
            sent += 1
        # Each reply handed out (or dropped) just after its connection is free: wait for all.
        assert out.wait(lambda n_sent=sent: client.in_flight == 0 and _handled(client, out) == n_sent), client.status()
    assert client.window.size == n and not out.errors, client.status()
    return sent


@pytest.mark.parametrize("protocol", ["gr00t", "openpi"])
def test_several_requests_are_in_flight_and_chunks_go_out_in_capture_order(protocol, tmp_path, reference, g1):
    # 300 ms per reply: all four are still out when the fifth observation comes, which finds no
    # idle connection and is not sent.
    with _pipelined(protocol, tmp_path, reference, "300", connections=4) as (client, out):
        obs = _observation(g1)
        sent = _open_window(client, out, obs)
        assert sent >= 2  # one round trip at one in flight, then the window opened
        before = len(out.stamps)
        busy = client.status()["server_pool_busy"]
        assert all(client.submit(_at(obs, 1_000 + k)) for k in range(4))
        assert client.in_flight == 4
        assert client.submit(_at(obs, 2_000)) is False and client.status()["server_pool_busy"] == busy + 1
        total = sent + 4
        assert out.wait(lambda: client.status()["server_replies"] >= total or out.errors), client.status()
        # A reply is handed out (or dropped as superseded) just after its connection is free again.
        assert out.wait(lambda: client.in_flight == 0 and _handled(client, out) == total), client.status()
        assert not out.errors
        # Four good replies: each one handed out unless a newer capture's chunk went out first
        # (the connections race to the server, so replies need not come back in capture order).
        captures = [capture for capture, _ in out.stamps[before:]]
        assert captures == sorted(set(captures)) and captures[-1] == 1_003
        assert all(chunk == capture for capture, chunk in out.stamps)  # chunk stamp = capture time
        status = client.status()
        assert status["server_connections"] == 4 and status["server_window"] == 4


@pytest.mark.parametrize("protocol", ["gr00t", "openpi"])
def test_a_reply_overtaken_by_a_newer_one_is_dropped_and_counted(protocol, tmp_path, reference, g1):
    # After one request that opens the window, request 2 is answered after 1.5 s and request 3 at
    # once: 3's chunk goes out, 2's is dropped.
    with _pipelined(protocol, tmp_path, reference, "0,1500,0", connections=2) as (client, out):
        obs = _observation(g1)
        assert _open_window(client, out, obs) == 1
        assert client.submit(_at(obs, 1_000)) and client.submit(_at(obs, 2_000))
        assert out.wait(lambda: client.status()["server_replies"] >= 3 or out.errors), client.status()
        assert out.wait(lambda: _handled(client, out) == 3), client.status()
        assert not out.errors
        assert out.stamps[1:] == [(2_000, 2_000)]
        status = client.status()
        assert status["server_replies_superseded"] == 1 and status["server_stale_reply"] == 0
        # The older chunk is never handed out later either: the next newer one is.
        assert client.submit(_at(obs, 3_000))
        assert out.wait(lambda: len(out.stamps) >= 3 or out.errors)
        assert out.stamps[-1] == (3_000, 3_000) and len(out.stamps) == 3


@pytest.mark.parametrize("protocol", ["gr00t", "openpi"])
def test_losing_one_connection_leaves_the_others_serving_and_it_comes_back(protocol, tmp_path, reference, g1):
    # After the three requests that open the window: gr00t answers request 5 long after the
    # timeout (its REQ socket is replaced); openpi has the socket of request 5's connection shut
    # down under it.
    latency = ",".join(["300"] * 4 + ["3000"] + ["300"] * 95) if protocol == "gr00t" else "300"
    options = {"connections": 3, "timeout_s": 1.0, "max_backoff_s": 0.05}
    with _pipelined(protocol, tmp_path, reference, latency, **options) as (client, out):
        lost = client.connections[1]
        obs = _observation(g1)
        assert _open_window(client, out, obs) == 3
        before = len(out.stamps)
        reconnects = client.status()["server_reconnects"]
        handled = _handled(client, out)
        assert all(client.submit(_at(obs, 1_000 + k)) for k in range(3))
        if protocol == "openpi":
            lost.transport._ws.socket.shutdown(socket.SHUT_RDWR)
        # The two others' replies are handed out (or dropped) just after their connections are free.
        assert out.wait(lambda: client.in_flight == 0 and _handled(client, out) == handled + 2), client.status()
        assert [e.kind for e in out.errors] == (["timeout"] if protocol == "gr00t" else ["disconnected"])
        # The others were served: 1_002's chunk always goes out, 1_000's unless 1_002's reply came
        # back first and superseded it (the connections race to the server); 1_001's never does.
        served = [capture for capture, _ in out.stamps[before:]]
        assert served in ([1_000, 1_002], [1_002]), served
        assert lost.failures == 1 and client.status()[f"server_{out.errors[0].kind}"] == 1
        # Keep observations coming (the lowest idle connection takes each): once its backoff has
        # passed the lost connection reconnects and serves again.
        handled, more = _handled(client, out), 0
        for k in range(100):
            if lost.failures == 0:
                break
            try:
                more += client.submit(_at(obs, 5_000 + k))
            except RemoteError as exc:
                assert exc.kind == "backoff"
            time.sleep(0.1)
        assert out.wait(lambda: client.in_flight == 0 and _handled(client, out) == handled + more), client.status()
        assert lost.failures == 0 and client.status()["server_reconnects"] == reconnects + 1
        assert len(out.errors) == 1
        captures = [capture for capture, _ in out.stamps]
        assert captures == sorted(captures) and len(captures) > before + 2
