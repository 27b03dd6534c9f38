"""The remote policy client against real mock server processes over real sockets (no ROS).

The mock servers speak the GR00T and openpi protocols and answer with the reference policy;
openpi-client's own ``WebsocketClientPolicy`` is the independent check that our openpi server
side speaks the published protocol. Faults injected on the server (dropped replies, errors, NaN,
wrong shapes, stale replies, a wrong token, a dead server) must each be rejected by kind, and the
client must recover when the server answers again.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from egoscale_ros.policy.manifest import load_manifest
from egoscale_ros.policy.pipeline import Observation
from egoscale_ros.remote.client import RemotePolicy
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
        prediction = client.predict(obs)
        chunk = prediction.chunk
        assert chunk.stamp_ns == obs.stamp_ns and chunk.horizon == client.spec.execute_steps
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
