"""viz:=true: a WebSocket client speaking Foxglove's protocol receives the live graph's image and
joint-state channels from viz_node (real nodes, real DDS, a real socket)."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time

import pytest

pytest.importorskip("foxglove", reason="the live view is served by foxglove-sdk")

from egoscale_ros.process_graph import private_ros_environment

SUBPROTOCOL = "foxglove.sdk.v1"


class FoxgloveClient:
    """The few parts of RFC 6455 and the Foxglove WebSocket protocol this check needs."""

    def __init__(self, port: int, timeout_s: float = 60.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Sec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(1)
        assert response.startswith(b"HTTP/1.1 101"), response

    def _read(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("server closed the connection")
            data += chunk
        return data

    def receive(self) -> tuple[int, bytes]:
        """One whole message: (opcode, payload); server frames are not masked."""
        opcode, payload = None, b""
        while True:
            b0, b1 = self._read(2)
            length = b1 & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload += self._read(length)
            opcode = opcode or (b0 & 0x0F)
            if b0 & 0x80:
                return opcode, payload

    def send_json(self, message: dict) -> None:
        data = json.dumps(message).encode()
        mask = os.urandom(4)
        header = bytes([0x81]) + (bytes([0x80 | len(data)]) if len(data) < 126
                                  else bytes([0x80 | 126]) + struct.pack(">H", len(data)))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def close(self) -> None:
        self.sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_foxglove_client_receives_images_and_joint_states_live():
    env = private_ros_environment()
    port = free_port()
    procs = [subprocess.Popen([sys.executable, "-m", f"egoscale_ros.nodes.{exe}", "--ros-args", *args], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
             for exe, args in (("mock_hardware_node", ["-p", "robot:=g1_dex3"]),
                               ("camera_node", ["-p", "camera:=head", "-p", "width:=160", "-p", "height:=120",
                                                "-p", "rate_hz:=10.0"]),
                               ("viz_node", ["-p", "robot:=g1_dex3", "-p", f"port:={port}"]))]
    client = None
    try:
        deadline = time.monotonic() + 180  # start-up of three nodes on a loaded machine
        while client is None:
            try:
                client = FoxgloveClient(port)
            except OSError:
                assert time.monotonic() < deadline, "viz_node never served its port"
                assert all(p.poll() is None for p in procs), "a node died"
                time.sleep(0.5)
        channels: dict[str, dict] = {}
        wanted = {"/joint_states", "/camera/head/image_raw/compressed"}
        while not wanted <= set(channels):
            assert time.monotonic() < deadline, f"advertised only {sorted(channels)}"
            opcode, payload = client.receive()
            if opcode == 1:
                message = json.loads(payload)
                if message.get("op") == "advertise":
                    channels.update({c["topic"]: c for c in message["channels"]})
        assert channels["/joint_states"]["schemaName"] == "sensor_msgs/msg/JointState"
        assert channels["/joint_states"]["encoding"] == "cdr"
        assert channels["/camera/head/image_raw/compressed"]["schemaName"] == "sensor_msgs/msg/CompressedImage"
        subscriptions = {i: topic for i, topic in enumerate(sorted(wanted))}
        client.send_json({"op": "subscribe", "subscriptions": [
            {"id": i, "channelId": channels[topic]["id"]} for i, topic in subscriptions.items()]})
        received: dict[str, bytes] = {}
        while set(received) != wanted:
            assert time.monotonic() < deadline, f"received only {sorted(received)}"
            opcode, payload = client.receive()
            if opcode == 2 and payload[0] == 1:  # binary messageData: op, subscription id, time, data
                sub_id, _log_time = struct.unpack_from("<IQ", payload, 1)
                received.setdefault(subscriptions[sub_id], payload[13:])
    finally:
        if client is not None:
            client.close()
        for p in procs:
            p.send_signal(2)
        for p in procs:
            p.wait(timeout=30)
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CompressedImage, JointState

    state = deserialize_message(received["/joint_states"], JointState)
    assert "left_elbow_joint" in state.name and len(state.position) == len(state.name)
    image = deserialize_message(received["/camera/head/image_raw/compressed"], CompressedImage)
    assert image.format.endswith("jpeg compressed bgr8") and bytes(image.data[:2]) == b"\xff\xd8"
