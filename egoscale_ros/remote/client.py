"""The policy as a client of a remote server: observation in, action chunk out, like the local pipeline.

:class:`RemotePolicy` has the :class:`~egoscale_ros.policy.pipeline.PolicyPipeline` interface
(``predict(obs) -> Prediction``), so the policy node's cadence, stamping (chunk stamp = the
observation's capture time, so the smoother compensates network and inference latency) and
diagnostics stay the same. The node uses its pipelined form, :meth:`RemotePolicy.submit`: each
observation goes out on an idle connection of a small pool, so several requests are in flight
when the round trip is longer than the period, and the chunk rate does not fall with latency.
Nothing runs on the executor.

Per request it builds the server's observation from the spec (images as uint8, state vectors
from joint positions and forward-kinematics wrist poses, the instruction), exchanges it with a
timeout and checks the reply: keys, shapes, dtypes, finiteness, the echoed request id where the
server echoes one, error replies (a wrong token among them). Anything wrong raises
:class:`RemoteError` whose ``kind`` is counted on diagnostics; the node then publishes nothing,
so the command path holds. After a failure the connection's next request waits a backoff that
doubles up to ``max_backoff_s``; its first good reply resets it.

:class:`RemoteRuntime` is the ``gr00t_server`` / ``openpi_server`` entry of
:func:`~egoscale_ros.policy.runtime.create_runtime`.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import cv2
import numpy as np

from egoscale_ros.chunking.chunk import ActionChunk, ChunkError, make_chunk
from egoscale_ros.chunking.delay import DelaySteps, RecentDelay
from egoscale_ros.policy.pipeline import Observation, Prediction
from egoscale_ros.policy.runtime_base import PolicyRuntime
from egoscale_ros.policy.scheduler import RollingStats
from egoscale_ros.remote.codec import PACKERS, CodecError
from egoscale_ros.remote.errors import ERROR_KINDS, RemoteError
from egoscale_ros.remote.spec import (
    SERVER_BACKENDS,
    RemoteSpec,
    SpecError,
    decode_wrists,
    encode_wrist,
    server_options,
    wrists_to_absolute,
)
from egoscale_ros.remote.transport import TransportError, WebsocketTransport, ZmqTransport
from egoscale_ros.remote.window import InFlightWindow


def build_observation(spec: RemoteSpec, obs: Observation, cameras: list[str], request_id: int) -> dict:
    """The server's observation dict for ``obs`` (GR00T nested with batch/time axes, openpi flat)."""
    images = dict(zip(cameras, obs.images))
    video = {}
    for key, camera in spec.video.items():
        if camera not in images:
            raise ValueError(f"no image from camera '{camera}' for video key '{key}'")
        img = images[camera]
        if spec.image_size is not None and img.shape[:2] != spec.image_size:
            h, w = spec.image_size
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if img.shape[0] > h else cv2.INTER_LINEAR)
        video[key] = np.ascontiguousarray(img, dtype=np.uint8)
    parts: dict[str, list[np.ndarray]] = {}
    for e in spec.state:
        if e.wrist:
            if not obs.wrist_poses or e.wrist not in obs.wrist_poses:
                raise ValueError(f"state key '{e.key}' needs the {e.wrist} wrist pose at observation time")
            vec = encode_wrist(obs.wrist_poses[e.wrist], e.format)
        else:
            # A joint the robot does not report is sent as 0 (servers have no missing-state mask).
            vec = np.array([obs.joint_positions.get(j, 0.0) for j in e.joints], dtype=np.float64)
        parts.setdefault(e.key, []).append(vec)
    state = {k: np.concatenate(v).astype(np.float32) for k, v in parts.items()}
    instruction = obs.instruction
    if spec.protocol == "gr00t":
        out = {"video": {k: v[None, None] for k, v in video.items()},
               "state": {k: v[None, None] for k, v in state.items()}}
        if spec.language:
            out["language"] = {spec.language: [[instruction]]}
        return out
    out = {**video, **state, OPENPI_REQUEST_ID: int(request_id)}
    if spec.language:
        out[spec.language] = instruction
    return out


#: A reply's chunk joins the smoother's plan as many steps into its horizon as fell due while it
#: was out, where the chunks of successive observations disagree more (in the reference policy's
#: chunks the spread from the mean chunk grows from 0.01 mm at step 1 to 0.11 mm at step 6), so a
#: late chunk is published further, ``LATE_BLEND_FACTOR`` times the steps that fell due past
#: ``execute_steps``, and blended in over as much longer. Behind a 150 ms GR00T mock the executed
#: path's second difference against 0 ms was 2.2 times with a factor of 1 and 1.6 with 2 (means
#: of four rounds), 0.8 with 3 (mean of six; 0.34–3.3 round by round, the 0 ms path varying
#: with the computer's load). The smoother executes no further than ``execute_steps`` past the last reply
#: (the graph's ``max_blind_s``), so a server that dies stops the arms as soon as before.
LATE_BLEND_FACTOR = 3


class PublishedSteps:
    """How many steps of each reply to publish: ``execute_steps`` past the usual age of the replies
    on arrival (:meth:`RemoteSpec.steps_to_publish`) and twice that age again
    (:data:`LATE_BLEND_FACTOR`), the age taken as a high quantile of the
    recent ones (:class:`~egoscale_ros.chunking.delay.RecentDelay`) in whole steps with hysteresis
    (:class:`~egoscale_ros.chunking.delay.DelaySteps`), not each reply's own: a round trip whose
    jitter crosses a step boundary would make one chunk a step longer than the next, and each
    would join the smoother's plan with a blend of another length."""

    def __init__(self, spec: RemoteSpec) -> None:
        self.spec = spec
        self._ages = RecentDelay()
        self._late = DelaySteps(spec.dt)

    def steps(self, age_s: float) -> int:
        """Steps to publish of a reply that arrived ``age_s`` after its observation was captured."""
        if not (age_s > 0 and math.isfinite(age_s)):
            return self.spec.steps_to_publish(age_s)  # a clock gone wrong: execute_steps
        late = self._late.update(self._ages.add(age_s))
        return self.spec.steps_to_publish(LATE_BLEND_FACTOR * late * self.spec.dt)


def decode_actions(spec: RemoteSpec, actions: Mapping[str, Any], obs: Observation,
                   steps: int | None = None) -> tuple[ActionChunk, int]:
    """Reply action arrays -> absolute :class:`ActionChunk` of its first ``steps`` steps (default
    ``execute_steps``; see :meth:`RemoteSpec.steps_to_publish`), and the number of values outside
    the checkpoint's action range. Raises :class:`RemoteError`."""
    dims = spec.key_dims(spec.action)
    arrays: dict[str, np.ndarray] = {}
    for key, dim in dims.items():
        if key not in actions:
            raise RemoteError("bad_reply", f"reply lacks action key '{key}' (it has {sorted(map(str, actions))})")
        value = actions[key]
        if not isinstance(value, np.ndarray):
            raise RemoteError("bad_reply", f"action '{key}' is a {type(value).__name__}, not an array")
        if value.dtype.kind != "f":
            raise RemoteError("bad_reply", f"action '{key}' has dtype {value.dtype}, expected floating point")
        if spec.protocol == "gr00t":
            if value.ndim != 3 or value.shape[0] != 1:
                raise RemoteError("bad_reply", f"action '{key}' has shape {value.shape}, expected (1, {spec.horizon}, {dim})")
            value = value[0]
        if value.shape != (spec.horizon, dim):
            raise RemoteError("bad_reply", f"action '{key}' has shape {value.shape}, expected ({spec.horizon}, {dim})")
        if not np.all(np.isfinite(value)):
            raise RemoteError("non_finite", f"action '{key}' contains NaN or inf")
        arrays[key] = value.astype(np.float64)
    outside = 0
    for key, stats in spec.statistics.items():
        if key in arrays:
            outside += int(np.count_nonzero(stats.outside(arrays[key])))
    n = spec.execute_steps if steps is None else max(1, min(spec.horizon, int(steps)))
    wrists, hands, names, column = {}, {}, {}, {k: 0 for k in dims}
    for e in spec.action:
        start = column[e.key]
        column[e.key] = start + e.dim
        block = arrays[e.key][:n, start:start + e.dim]
        if e.wrist:
            poses = decode_wrists(block, e.format)
            base = obs.wrist_poses.get(e.wrist) if obs.wrist_poses else None
            try:
                wrists[e.wrist] = wrists_to_absolute(poses, e.rep, base)
            except SpecError as exc:
                raise RemoteError("bad_reply", f"action '{e.key}': {exc}") from exc
        else:
            hands[e.hand] = block.copy()
            names[e.hand] = list(e.joints)
    try:
        chunk = make_chunk(int(obs.stamp_ns), spec.dt, wrists, hands, hand_joint_names=names, frame=obs.frame)
    except ChunkError as exc:
        raise RemoteError("non_finite", f"decoded chunk refused: {exc}") from exc
    return chunk, outside


REQUEST_ID = "request_id"
#: How long a decoded reply waits for an older request's reply that is still out. Replies that
#: come back together (a server that sends what fell due while it computed) race through their
#: connections' threads; without the wait the older one would lose and be dropped as superseded,
#: a gap in the chunk stream. A request that is lost costs the next replies this much at most.
ORDER_HOLD_S = 0.02
OPENPI_REQUEST_ID = "__request_id__"


class Connection:
    """One connection of the pool: its transport (one request at a time), its own backoff."""

    def __init__(self, index: int, transport: Any):
        self.index = index
        self.transport = transport
        self.busy = False  # a request is out on it (or about to be)
        self.failures = 0  # consecutive failed requests; the backoff doubles with each
        self.retry_at = 0.0
        self.request_id = 0  # of the request out on it (numbered in capture order)
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread: threading.Thread | None = None


class RemotePolicy:
    """Client of one policy server over a pool of connections; ``predict`` has the local pipeline's
    contract, ``submit`` keeps several requests in flight.

    GR00T's REQ/REP and openpi's websocket carry one request at a time per connection, so to keep
    the chunk rate when the round trip is longer than the period, :meth:`submit` hands each new
    observation to an idle connection of the pool (``connections`` in the manifest) and returns at
    once; the connection's own thread exchanges it and hands the chunk to ``deliver``. A reply for
    an observation older than the newest chunk already delivered is dropped and counted
    (``server_replies_superseded``): chunks go out in capture order. A reply first waits, briefly
    (:data:`ORDER_HOLD_S`), for older requests still out, so replies that come back together go
    out in their order rather than the older ones being dropped. Each connection backs off on
    its own after a failure, so one lost connection does not stop the others. An
    :class:`~egoscale_ros.remote.window.InFlightWindow` sends fewer at once while round trips show
    that requests queue at the server (one that computes them one at a time).
    """

    def __init__(self, spec: RemoteSpec, backend: str, options: Mapping[str, Any], cameras: list[str],
                 clock: Callable[[], float] = time.monotonic, now_ns: Callable[[], int] = time.time_ns):
        self.spec = spec
        #: the clock observations are stamped with (the node sets its ROS clock): ages on arrival
        self.now_ns = now_ns
        self.backend = backend
        self.options = server_options(backend, options)
        self.cameras = list(cameras)
        self.clock = clock
        self.pack, self.unpack = PACKERS[spec.protocol]
        self.connections = [Connection(i, self._transport()) for i in range(self.options["connections"])]
        self.window = InFlightWindow(len(self.connections))  # fewer in flight while they queue at the server
        first = self.connections[0].transport
        self.endpoint = first.endpoint if spec.protocol == "gr00t" else first.uri
        self.round_trip = RollingStats()
        self.errors = {k: 0 for k in ERROR_KINDS}
        self.replies = 0
        self.superseded = 0  # good replies dropped: a newer observation's chunk was already delivered
        self.pool_busy = 0  # observations not sent: every connection had a request out
        self.reconnects = 0
        self.actions_out_of_range = 0
        self.last_error = ""
        self.last_reply_at: float | None = None
        self.started_at = clock()
        self._failures = 0  # failures since the last good reply, over all connections
        self._published = PublishedSteps(spec)
        self._request_id = 0
        self._newest_ns = -1  # capture stamp of the newest chunk handed out
        self._lock = threading.Lock()  # pool and counters
        self._deliver_lock = threading.Lock()  # accept-and-deliver in capture order
        self._in_order = threading.Condition(self._deliver_lock)  # signalled when a request ends
        self._deliver: Callable[[Observation, Prediction], None] | None = None
        self._on_error: Callable[[Exception], None] | None = None
        self._closed = False

    def _transport(self) -> Any:
        host, port, timeout = self.options["host"], self.options["port"], self.options["timeout_s"]
        if self.spec.protocol == "gr00t":
            return ZmqTransport(host, port, timeout)
        return WebsocketTransport(host, port, timeout, self.options["api_token"], self.unpack)

    # -- state for diagnostics -----------------------------------------------------------------

    @property
    def silent_s(self) -> float:
        """Seconds since the last good reply (since start when there was none)."""
        return self.clock() - (self.last_reply_at if self.last_reply_at is not None else self.started_at)

    @property
    def answering(self) -> bool:
        """A good reply within ``stale_s`` and no failure since."""
        return self._failures == 0 and self.last_reply_at is not None and self.silent_s <= self.options["stale_s"]

    @property
    def in_flight(self) -> int:
        return sum(c.busy for c in self.connections)

    def status(self) -> dict[str, Any]:
        values = {"server": f"{self.backend} {self.endpoint}", "server_answering": self.answering,
                  "server_silent_s": round(self.silent_s, 3), "server_replies": self.replies,
                  "server_replies_superseded": self.superseded, "server_connections": len(self.connections),
                  "server_in_flight": self.in_flight, "server_pool_busy": self.pool_busy,
                  "server_window": self.window.size, "server_window_shrinks": self.window.shrinks,
                  "server_reconnects": self.reconnects, "round_trip_ms_p50": self.round_trip.percentile(50),
                  "round_trip_ms_p99": self.round_trip.percentile(99),
                  "actions_out_of_range": self.actions_out_of_range}
        values.update({f"server_{k}": v for k, v in self.errors.items()})
        if self.last_error:
            values["server_last_error"] = self.last_error
        return values

    # -- one request on one connection -----------------------------------------------------------

    def _fail(self, conn: Connection, kind: str, message: str, reset: bool = False) -> RemoteError:
        with self._lock:
            self.errors[kind] += 1
            self.last_error = f"{kind}: {message}"
            self._failures += 1
            conn.failures += 1
            backoff = min(self.options["max_backoff_s"], 0.05 * 2 ** (conn.failures - 1))
            conn.retry_at = self.clock() + backoff
        if reset:
            conn.transport.reset()
        return RemoteError(kind, message)

    def _request(self, conn: Connection, observation: dict, request_id: int) -> bytes | str:
        transport = conn.transport
        if self.spec.protocol == "gr00t":
            message: dict[str, Any] = {"endpoint": "get_action",
                                       "data": {"observation": observation, "options": {REQUEST_ID: request_id}}}
            if self.options["api_token"]:
                message["api_token"] = self.options["api_token"]
        else:
            message = observation
            if not transport.connected:
                transport.connect()
                if transport.connects > 1:
                    with self._lock:
                        self.reconnects += 1
        return transport.request(self.pack(message))

    def _actions(self, conn: Connection, raw: bytes | str, request_id: int) -> Mapping[str, Any]:
        if isinstance(raw, str):  # openpi sends a traceback as text, then closes
            text = raw.strip().splitlines()[-1] if raw.strip() else "error text"
            raise self._fail(conn, "server_error", text, reset=True)
        try:
            reply = self.unpack(raw)
        except CodecError as exc:
            raise self._fail(conn, "bad_reply", str(exc), reset=True) from exc
        if isinstance(reply, Mapping) and "error" in reply and self.spec.protocol == "gr00t":
            text = str(reply["error"])
            raise self._fail(conn, "unauthorized" if "unauthor" in text.lower() else "server_error", text)
        if self.spec.protocol == "gr00t":
            if not (isinstance(reply, (list, tuple)) and len(reply) == 2 and isinstance(reply[0], Mapping)):
                raise self._fail(conn, "bad_reply", f"expected [action, info], got {type(reply).__name__}")
            actions, info = reply
            echoed = info.get(REQUEST_ID) if isinstance(info, Mapping) else None
        else:
            if not isinstance(reply, Mapping) or "actions" not in reply:
                keys = sorted(map(str, reply)) if isinstance(reply, Mapping) else type(reply).__name__
                raise self._fail(conn, "bad_reply", f"expected a dict with 'actions', got {keys}")
            actions, echoed = reply, reply.get(OPENPI_REQUEST_ID)
        if echoed is not None and int(echoed) != request_id:
            raise self._fail(conn, "stale_reply", f"reply is for request {echoed}, expected {request_id}", reset=True)
        return actions

    def _exchange(self, conn: Connection, obs: Observation, request_id: int) -> Prediction:
        """One request on ``conn``; raises :class:`RemoteError` (counted) when no usable chunk came back."""
        t0 = time.perf_counter()
        observation = build_observation(self.spec, obs, self.cameras, request_id)
        t1 = time.perf_counter()
        try:
            raw = self._request(conn, observation, request_id)
        except TransportError as exc:
            if self.spec.protocol == "gr00t" and exc.kind == "timeout":
                with self._lock:
                    self.reconnects += 1  # the REQ socket was replaced
            raise self._fail(conn, exc.kind, str(exc)) from exc
        t2 = time.perf_counter()
        actions = self._actions(conn, raw, request_id)
        try:
            age_s = (self.now_ns() - obs.stamp_ns) * 1e-9  # the observation's age on arrival
            with self._lock:
                steps = self._published.steps(age_s)
            chunk, outside = decode_actions(self.spec, actions, obs, steps)
        except RemoteError as exc:
            raise self._fail(conn, exc.kind, str(exc)) from exc
        t3 = time.perf_counter()
        rtt_ms = (t2 - t1) * 1e3
        with self._lock:
            self.window.on_reply(rtt_ms, busy_ms=(t3 - t0) * 1e3, now_s=self.clock())
            self.actions_out_of_range += outside
            self.replies += 1
            self._failures = 0
            conn.failures = 0
            conn.retry_at = 0.0
            self.last_reply_at = self.clock()
        self.round_trip.record(rtt_ms)
        return Prediction(chunk, {"preprocess": (t1 - t0) * 1e3, "round_trip": rtt_ms,
                                  "postprocess": (t3 - t2) * 1e3})

    def _claim(self) -> Connection | None:
        """An idle connection out of backoff, marked busy with the next request id (ids number
        observations in the order they were handed in); None when all have a request out.
        Raises :class:`RemoteError` ``backoff`` when the idle ones are all waiting to retry."""
        with self._lock:
            now = self.clock()
            idle = [c for c in self.connections if not c.busy]
            if not self.window.allows(len(self.connections) - len(idle), now) or not idle:
                self.pool_busy += 1
                return None
            ready = [c for c in idle if now >= c.retry_at]
            if not ready:
                self.errors["backoff"] += 1
                wait = min(c.retry_at for c in idle) - now
                raise RemoteError("backoff", f"server not answering; next try in {wait:.2f} s "
                                             f"(last: {self.last_error})")
            conn = min(ready, key=lambda c: c.index)  # the same few connections while they suffice
            conn.busy = True
            self._request_id += 1  # numbered here: ids follow the order observations went out
            conn.request_id = self._request_id
            return conn

    def _accept(self, obs: Observation) -> bool:
        """Whether a chunk of ``obs`` may go out (no older than every one delivered); call under
        ``_deliver_lock``. A superseded one is counted."""
        if obs.stamp_ns < self._newest_ns:
            with self._lock:
                self.superseded += 1
            return False
        self._newest_ns = obs.stamp_ns
        return True

    # -- the two ways to use it ------------------------------------------------------------------

    def predict(self, obs: Observation) -> Prediction:
        """One exchange, waiting for its reply; raises :class:`RemoteError` (counted) when no usable
        chunk came back."""
        conn = self._claim()
        if conn is None:
            raise RemoteError("backoff", "every connection has a request out (predict and submit mixed)")
        try:
            prediction = self._exchange(conn, obs, conn.request_id)
        finally:
            conn.busy = False
        with self._deliver_lock:
            if not self._accept(obs):
                raise RemoteError("stale_reply", "a chunk of a newer observation was already delivered")
        return prediction

    def start(self, deliver: Callable[[Observation, Prediction], None],
              on_error: Callable[[Exception], None] | None = None) -> None:
        """Start one thread per connection for :meth:`submit`: ``deliver(obs, prediction)`` is called
        on it, one at a time and in capture order; ``on_error(exc)`` for every failed request."""
        self._deliver, self._on_error = deliver, on_error
        for conn in self.connections:
            conn.thread = threading.Thread(target=self._work, args=(conn,), daemon=True,
                                           name=f"policy-server-{conn.index}")
            conn.thread.start()

    def submit(self, obs: Observation) -> bool:
        """Send ``obs`` on an idle connection and return at once (True); False when every connection
        has a request out, or as many as the in-flight window allows (counted as
        ``server_pool_busy``, nothing sent). Raises :class:`RemoteError` ``backoff``."""
        if self._deliver is None:
            raise RuntimeError("RemotePolicy.submit needs start(deliver) first")
        conn = self._claim()
        if conn is None:
            return False
        conn.jobs.put((obs, conn.request_id))
        return True

    def _work(self, conn: Connection) -> None:
        while True:
            job = conn.jobs.get()
            if job is None or self._closed:
                return
            obs, request_id = job
            try:
                prediction = self._exchange(conn, obs, request_id)
            except Exception as exc:  # counted by kind in _fail; a bug must not kill the connection
                self._end(conn)
                if self._on_error is not None:
                    self._on_error(exc)
                continue
            self._end(conn)
            try:
                with self._in_order:
                    self._in_order.wait_for(lambda r=request_id: not self._older_out(r), ORDER_HOLD_S)
                    if self._accept(obs) and not self._closed:
                        self._deliver(obs, prediction)
            except Exception as exc:
                if self._on_error is not None:
                    self._on_error(exc)

    def _end(self, conn: Connection) -> None:
        """``conn``'s request is over (answered or failed): a newer reply waiting for it may go."""
        with self._in_order:
            conn.busy = False
            self._in_order.notify_all()

    def _older_out(self, request_id: int) -> bool:
        return any(c.busy and c.request_id < request_id for c in self.connections)

    def close(self) -> None:
        self._closed = True
        for conn in self.connections:
            conn.jobs.put(None)
        for conn in self.connections:
            if conn.thread is not None:
                conn.thread.join(self.options["timeout_s"] + 1.0)
            conn.transport.close()


class RemoteRuntime(PolicyRuntime):
    """The server backends in :func:`~egoscale_ros.policy.runtime.create_runtime`: no graphs of its
    own; :meth:`make_pipeline` hands the node a :class:`RemotePolicy` instead of a local pipeline."""

    def __init__(self, manifest, backend: str):
        super().__init__()
        spec = getattr(manifest, "remote", None)
        if spec is None:
            raise SpecError(f"{manifest.path}: backend {backend} needs a 'remote' section")
        if SERVER_BACKENDS[backend] != spec.protocol:
            raise SpecError(f"{manifest.path}: backend {backend} speaks {SERVER_BACKENDS[backend]}, but "
                            f"remote.protocol is {spec.protocol}")
        self.backend = backend
        self.device = "remote"
        self.policy = RemotePolicy(spec, backend, manifest.backends.get(backend, {}), list(spec.video.values()))
        self.detail = self.policy.endpoint

    def make_pipeline(self, manifest) -> RemotePolicy:
        return self.policy

    def encode(self, image, tokens, state, state_mask):
        raise NotImplementedError("a remote policy runs whole requests (RemotePolicy.predict)")

    def velocity(self, noisy_actions, timestep, context):
        raise NotImplementedError("a remote policy runs whole requests (RemotePolicy.predict)")

    def close(self) -> None:
        self.policy.close()
