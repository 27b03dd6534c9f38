"""Policy servers for tests and the demo: the real protocols, served by the package's reference policy.

``python -m egoscale_ros.remote.mock_server --protocol gr00t|openpi --manifest REMOTE_MANIFEST``
starts a server process that speaks exactly what a GR00T policy server (ZeroMQ, msgpack with
.npy arrays, endpoints ``ping`` / ``get_action`` / ``reset`` / ``get_modality_config``, an
optional API token) or an openpi server (websocket, metadata first, msgpack-numpy, ``/healthz``,
``Api-Key`` authorization, error text then close 1011) speaks. Observations are read with the
manifest's ``remote`` mapping - the server side of the same contract - and answered by the
reference policy (ONNX Runtime, CPU): relative wrist steps are composed with the wrist state it
was sent, as a GR00T server turns RELATIVE actions into absolute ones.

Faults for tests and the demo: ``--latency-ms`` added to every reply (network latency: a reply
waits without delaying other connections, which are served concurrently), and per-request rates of
dropped replies, error replies, NaN actions, replies of the wrong shape and replies repeating the
previous request's answer (stale). ``--exit-after-s`` ends the process (a server that dies).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from egoscale_ros.remote.spec import DEFAULT_PORTS, RemoteSpec, encode_wrist

FAULTS = ("drop", "error", "nan", "shape", "stale")


class ReferenceServerPolicy:
    """Server side of a :class:`RemoteSpec`: the server's observation dict -> action arrays ``(H, D)``."""

    def __init__(self, spec: RemoteSpec, policy_manifest: str | Path = "", robot: str = "g1_dex3"):
        from egoscale_ros.policy.manifest import load_manifest
        from egoscale_ros.policy.pipeline import PolicyPipeline
        from egoscale_ros.policy.runtime import create_runtime

        if not policy_manifest:
            from egoscale_ros.policy.export import ensure_default_policy
            from egoscale_ros.robot.config import load_robot_config

            config = load_robot_config(robot)
            policy_manifest = ensure_default_policy(robot=config.embodiment, state_joints=config.policy_state_joints,
                                                    progress=False)
        self.spec = spec
        self.manifest = load_manifest(policy_manifest)
        if self.manifest.layout.horizon != spec.horizon:
            raise ValueError(f"the reference policy's horizon is {self.manifest.layout.horizon}, the spec says {spec.horizon}")
        runtime = create_runtime(self.manifest, "onnxruntime", "cpu", options={"onnxruntime": {"threads": 1}}).runtime
        self.pipeline = PolicyPipeline(self.manifest, runtime)

    def _unpack(self, observation: Mapping[str, Any]):
        s = self.spec
        if s.protocol == "gr00t":
            video = {k: np.asarray(v)[0, -1] for k, v in (observation.get("video") or {}).items()}
            state = {k: np.asarray(v, dtype=np.float64)[0, -1] for k, v in (observation.get("state") or {}).items()}
            lang = (observation.get("language") or {}).get(s.language, [[""]])
            instruction = str(lang[0][0]) if lang and lang[0] else ""
        else:
            video = {k: np.asarray(observation[k]) for k in s.video if k in observation}
            state = {e.key: np.asarray(observation[e.key], dtype=np.float64) for e in s.state if e.key in observation}
            instruction = str(observation.get(s.language, ""))
        missing = [k for k in s.video if k not in video] + [e.key for e in s.state if e.key not in state]
        if missing:
            raise KeyError(f"observation lacks {sorted(set(missing))}")
        return video, state, instruction

    def infer(self, observation: Mapping[str, Any]) -> dict[str, np.ndarray]:
        from egoscale_ros.policy.pipeline import Observation
        from egoscale_ros.remote.spec import decode_wrists

        s = self.spec
        video, state, instruction = self._unpack(observation)
        joints, wrists, column = {}, {}, {k: 0 for k in state}
        for e in s.state:
            start = column[e.key]
            column[e.key] = start + e.dim
            values = state[e.key][start:start + e.dim]
            if values.shape != (e.dim,):
                raise ValueError(f"state '{e.key}' is too short for its entries")
            if e.wrist:
                wrists[e.wrist] = decode_wrists(values[None], e.format)[0]
            else:
                joints.update(zip(e.joints, values.tolist()))
        images = [np.ascontiguousarray(video[k], dtype=np.uint8) for k in s.video]
        obs = Observation(0, images[: self.manifest.image.cameras], joints, instruction, wrists or None)
        chunk = self.pipeline.predict(obs).chunk
        if chunk is None:
            raise FloatingPointError("the reference policy produced NaN")
        out: dict[str, list[np.ndarray]] = {}
        for e in s.action:
            if e.wrist:
                poses = chunk.wrist[e.wrist]
                if e.rep == "relative":
                    poses = np.linalg.inv(wrists[e.wrist]) @ poses
                elif e.rep == "delta":
                    prev = np.concatenate([wrists[e.wrist][None], poses[:-1]])
                    poses = np.linalg.inv(prev) @ poses
                block = np.stack([encode_wrist(p, e.format) for p in poses])
            else:
                names = chunk.hand_joint_names[e.hand]
                block = chunk.hand[e.hand][:, [names.index(j) for j in e.joints]]
            out.setdefault(e.key, []).append(block)
        return {k: np.concatenate(v, axis=1).astype(np.float32) for k, v in out.items()}


class Faults:
    """Per-request fault draws (seeded) and the latency added to each reply.

    The latency models the network between robot and server: it delays each reply on its own
    connection without holding up the others (inference itself still runs one request at a time).
    A list of latencies is used in turn, by the request id a request carries (our client numbers
    its observations) or else by arrival, so a test can make a later request overtake an earlier one.
    """

    def __init__(self, latency_ms: float | str | list[float] = 0.0, seed: int = 0, **rates: float):
        values = [float(v) for v in str(latency_ms).split(",")] if isinstance(latency_ms, (str, float, int)) \
            else [float(v) for v in latency_ms]
        self.latencies_s = [max(0.0, v) * 1e-3 for v in values] or [0.0]
        self._turn = 0
        self.rates = {k: float(rates.get(k, 0.0)) for k in FAULTS}
        self.rng = random.Random(seed)

    def latency_s(self, request_id: Any = None) -> float:
        """The delay for the reply to the next action request (``request_id``: its number, if any)."""
        turn = int(request_id) - 1 if isinstance(request_id, (int, np.integer)) and request_id > 0 else self._turn
        self._turn += 1
        return self.latencies_s[turn % len(self.latencies_s)]

    def draw(self) -> str:
        for name in FAULTS:
            if self.rates[name] > 0 and self.rng.random() < self.rates[name]:
                return name
        return ""


def _modality_configs(spec: RemoteSpec, checkpoint: str) -> dict:
    if checkpoint:
        from egoscale_ros.remote.importer import read_checkpoint

        return read_checkpoint(Path(checkpoint), spec.embodiment_tag)[1]
    keys = list(dict.fromkeys(e.key for e in spec.action))
    configs = [{"rep": "ABSOLUTE", "type": "EEF" if any(e.wrist for e in spec.action if e.key == k) else "NON_EEF",
                "format": "XYZ_ROT6D", "state_key": None} for k in keys]
    return {"video": {"delta_indices": [0], "modality_keys": list(spec.video)},
            "state": {"delta_indices": [0], "modality_keys": list(dict.fromkeys(e.key for e in spec.state))},
            "action": {"delta_indices": list(range(spec.horizon)), "modality_keys": keys, "action_configs": configs},
            "language": {"delta_indices": [0], "modality_keys": [spec.language]}}


def _faulty(actions: dict[str, np.ndarray], fault: str) -> dict[str, np.ndarray]:
    if fault == "nan":
        return {k: np.full_like(v, np.nan) for k, v in actions.items()}
    if fault == "shape":
        return {k: v[..., :-1] for k, v in actions.items()}
    return actions


def serve_gr00t(policy: ReferenceServerPolicy, host: str, port: int, faults: Faults, api_token: str = "",
                checkpoint: str = "", deadline: float = float("inf")) -> None:
    """GR00T's REQ/REP protocol on a ROUTER socket: each client connection (a REQ socket) gets its
    replies in order, replies can be dropped (as a hung server would) and the latency delays a
    reply without blocking the other connections (replies wait in a queue until they are due)."""
    import heapq
    import itertools

    import zmq

    from egoscale_ros.remote.codec import gr00t_packb, gr00t_unpackb

    context = zmq.Context()
    sock = context.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(f"tcp://{host}:{port}")
    print(f"mock GR00T policy server on tcp://{host}:{port}", flush=True)
    configs = {k: {"__ModalityConfig_class__": True, "as_json": v}
               for k, v in _modality_configs(policy.spec, checkpoint).items()}
    previous: bytes | None = None
    due: list[tuple[float, int, list[bytes]]] = []  # (send time, order, frames)
    order = itertools.count()

    def answer(frames: list[bytes], delay_s: float = 0.0) -> None:
        heapq.heappush(due, (time.monotonic() + delay_s, next(order), frames))

    try:
        while time.monotonic() < deadline:
            while due and due[0][0] <= time.monotonic():
                sock.send_multipart(heapq.heappop(due)[2])
            wait_ms = 100 if not due else max(0, int((due[0][0] - time.monotonic()) * 1e3))
            if not sock.poll(wait_ms):
                continue
            frames = sock.recv_multipart()
            route, payload = frames[:-1], frames[-1]
            delay = faults.latencies_s[0]  # only get_action takes its turn in a latency list
            try:
                request = gr00t_unpackb(payload)
                if api_token and request.get("api_token") != api_token:
                    reply: Any = {"error": "Unauthorized: Invalid API token"}
                else:
                    endpoint = request.get("endpoint", "get_action")
                    data = request.get("data") or {}
                    if endpoint == "ping":
                        reply = {"status": "ok", "message": "Server is running"}
                    elif endpoint == "get_modality_config":
                        reply = configs
                    elif endpoint == "reset":
                        reply = {}
                    elif endpoint == "get_action":
                        delay = faults.latency_s((data.get("options") or {}).get("request_id"))
                        fault = faults.draw()
                        if fault == "drop":
                            continue
                        if fault == "stale" and previous is not None:
                            answer([*route, previous], delay)
                            continue
                        if fault == "error":
                            raise RuntimeError("injected server error")
                        actions = policy.infer(data.get("observation") or {})
                        actions = {k: v[None] for k, v in _faulty(actions, fault).items()}
                        info = {"request_id": (data.get("options") or {}).get("request_id")}
                        reply = [actions, info]
                    else:
                        raise ValueError(f"Unknown endpoint: {endpoint}")
            except Exception as exc:  # a server answers every failure with an error reply
                reply = {"error": str(exc)}
            message = gr00t_packb(reply)
            if isinstance(reply, list):
                previous = message
            answer([*route, message], delay)
    finally:
        sock.close(linger=0)
        context.term()


def serve_openpi(policy: ReferenceServerPolicy, host: str, port: int, faults: Faults, api_token: str = "",
                 metadata: dict | None = None, deadline: float = float("inf")) -> None:
    """openpi's websocket protocol: metadata on connect, one reply per observation."""
    import asyncio
    import http
    import traceback

    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed
    from websockets.frames import CloseCode

    from egoscale_ros.remote.codec import openpi_packb, openpi_unpackb

    def check(connection, request):
        if request.path == "/healthz":
            return connection.respond(http.HTTPStatus.OK, "OK\n")
        if api_token and request.headers.get("Authorization") != f"Api-Key {api_token}":
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "invalid api key\n")
        return None

    async def handler(ws):
        await ws.send(openpi_packb(metadata or {}))
        previous = None
        while True:
            try:
                obs = openpi_unpackb(await ws.recv())
            except ConnectionClosed:
                return
            fault = faults.draw()
            try:
                if fault == "drop":
                    continue
                if fault == "error":
                    raise RuntimeError("injected server error")
                t0 = time.monotonic()
                reply: dict[str, Any]
                if fault == "stale" and previous is not None:
                    reply = previous
                else:
                    reply = dict(_faulty(policy.infer(obs), fault))  # {"actions": (H, D)}
                    reply["server_timing"] = {"infer_ms": (time.monotonic() - t0) * 1e3}
                    if "__request_id__" in obs:
                        reply["__request_id__"] = obs["__request_id__"]
                    previous = reply
                delay = faults.latency_s(obs.get("__request_id__") if isinstance(obs, dict) else None)
                if delay:  # only this connection waits: the event loop serves the others meanwhile
                    await asyncio.sleep(delay)
                await ws.send(openpi_packb(reply))
            except ConnectionClosed:
                return
            except Exception:  # openpi sends the traceback as text, then closes
                await ws.send(traceback.format_exc())
                await ws.close(CloseCode.INTERNAL_ERROR, "Internal server error. Traceback included in previous frame.")
                return

    async def main():
        async with serve(handler, host, port, compression=None, max_size=None, process_request=check):
            print(f"mock openpi policy server on ws://{host}:{port}", flush=True)
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)

    asyncio.run(main())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--protocol", choices=("gr00t", "openpi"), required=True)
    parser.add_argument("--manifest", required=True, help="the remote policy manifest whose mapping to serve")
    parser.add_argument("--policy", default="", help="reference policy manifest (default: exported for --robot)")
    parser.add_argument("--robot", default="g1_dex3")
    parser.add_argument("--checkpoint", default="", help="GR00T metadata folder answered by get_modality_config")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="default: the manifest's")
    parser.add_argument("--api-token", default="")
    parser.add_argument("--latency-ms", default="0", help="delay added to each reply (a network's; it does not "
                        "hold up other connections); a comma list is used in turn, request by request")
    for name in FAULTS:
        parser.add_argument(f"--{name}-rate", type=float, default=0.0, help=f"share of requests answered with '{name}'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exit-after-s", type=float, default=0.0, help="stop serving after this long (0 = never)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m egoscale_ros.remote.mock_server", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    from egoscale_ros.policy.manifest import load_manifest

    manifest = load_manifest(args.manifest)
    spec = manifest.remote
    if spec is None or spec.protocol != args.protocol:
        print(f"{args.manifest}: not a remote manifest for protocol {args.protocol}", file=sys.stderr)
        return 2
    backend = manifest.backends[manifest.backend_order[0]]
    port = args.port or int(backend.get("port", DEFAULT_PORTS[args.protocol]))
    policy = ReferenceServerPolicy(spec, args.policy, args.robot)
    faults = Faults(args.latency_ms, args.seed, **{n: getattr(args, f"{n}_rate") for n in FAULTS})
    deadline = time.monotonic() + args.exit_after_s if args.exit_after_s > 0 else float("inf")
    try:
        if args.protocol == "gr00t":
            serve_gr00t(policy, args.host, port, faults, args.api_token, args.checkpoint, deadline)
        else:
            serve_openpi(policy, args.host, port, faults, args.api_token,
                         {"server": "egoscale_ros mock", "action_horizon": spec.horizon}, deadline)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
