"""Request/reply transports to policy servers, each with a timeout on every exchange.

- :class:`ZmqTransport` (GR00T): a ZeroMQ REQ socket. REQ allows exactly one reply per request,
  so after a timeout the socket is closed (linger 0) and a new one connected: a late reply to
  the abandoned request dies with the old socket and can never be read as the answer to a newer
  one.
- :class:`WebsocketTransport` (openpi): a websocket client; on connecting the server first sends
  its metadata. After a timeout the connection is closed for the same reason, and the next
  request reconnects.

Both raise :class:`TransportTimeout` or :class:`TransportClosed`; neither retries on its own
(the client decides when to try again, with backoff).
"""

from __future__ import annotations

from typing import Any


class TransportError(RuntimeError):
    """The exchange failed; ``kind`` names how (for counting on diagnostics)."""

    kind = "transport"


class TransportTimeout(TransportError):
    kind = "timeout"


class TransportClosed(TransportError):
    kind = "disconnected"


class ZmqTransport:
    """ZeroMQ REQ client of ``tcp://host:port`` with a per-request timeout."""

    def __init__(self, host: str, port: int, timeout_s: float):
        import zmq  # local: only remote policies need pyzmq

        self._zmq = zmq
        self.endpoint = f"tcp://{host}:{int(port)}"
        self.timeout_s = float(timeout_s)
        self._context = zmq.Context()
        self._socket = None
        self.resets = 0

    def _open(self):
        zmq = self._zmq
        sock = self._context.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        sock.connect(self.endpoint)
        self._socket = sock
        return sock

    def reset(self) -> None:
        """Drop the socket (and any reply still owed to it)."""
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
            self.resets += 1

    def request(self, payload: bytes) -> bytes:
        zmq = self._zmq
        sock = self._socket or self._open()
        timeout_ms = max(1, int(self.timeout_s * 1e3))
        try:
            if not sock.poll(timeout_ms, zmq.POLLOUT):
                self.reset()
                raise TransportTimeout(f"{self.endpoint}: could not send within {self.timeout_s:g} s")
            sock.send(payload, zmq.NOBLOCK)
            if not sock.poll(timeout_ms, zmq.POLLIN):
                self.reset()
                raise TransportTimeout(f"{self.endpoint}: no reply within {self.timeout_s:g} s")
            return sock.recv(zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            self.reset()
            raise TransportClosed(f"{self.endpoint}: {exc}") from exc

    def close(self) -> None:
        # destroy = close every socket of the context, then terminate: term() alone would wait
        # forever on a socket some caller forgot.
        self._socket = None
        self._context.destroy(linger=0)


class WebsocketTransport:
    """Websocket client of ``ws://host:port`` (openpi); :attr:`metadata` is what the server sent first."""

    def __init__(self, host: str, port: int, timeout_s: float, api_key: str = "",
                 unpack: Any = None):
        self.uri = host if host.startswith("ws") else f"ws://{host}:{int(port)}"
        self.timeout_s = float(timeout_s)
        self.api_key = api_key
        self._unpack = unpack
        self._ws = None
        self.metadata: Any = None
        self.connects = 0

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def connect(self) -> Any:
        """Open the connection and read the server's metadata frame."""
        from websockets.exceptions import InvalidHandshake, WebSocketException
        from websockets.sync.client import connect

        headers = {"Authorization": f"Api-Key {self.api_key}"} if self.api_key else None
        try:
            ws = connect(self.uri, open_timeout=self.timeout_s, close_timeout=0.1, compression=None,
                         max_size=None, additional_headers=headers)
        except (OSError, TimeoutError, InvalidHandshake, WebSocketException) as exc:
            raise TransportClosed(f"{self.uri}: cannot connect: {exc}") from exc
        try:
            first = ws.recv(timeout=self.timeout_s)
        except TimeoutError as exc:
            ws.close()
            raise TransportTimeout(f"{self.uri}: no metadata within {self.timeout_s:g} s of connecting") from exc
        except WebSocketException as exc:
            raise TransportClosed(f"{self.uri}: closed before sending metadata: {exc}") from exc
        self._ws = ws
        self.connects += 1
        self.metadata = self._unpack(first) if self._unpack is not None and isinstance(first, bytes) else first
        return self.metadata

    def reset(self) -> None:
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:
                pass
            self._ws = None

    def request(self, payload: bytes) -> bytes | str:
        """Send one observation and return the reply frame (bytes; str means a server error text)."""
        from websockets.exceptions import WebSocketException

        if self._ws is None:
            self.connect()
        ws = self._ws
        try:
            ws.send(payload)
            return ws.recv(timeout=self.timeout_s)
        except TimeoutError as exc:
            self.reset()
            raise TransportTimeout(f"{self.uri}: no reply within {self.timeout_s:g} s") from exc
        except (WebSocketException, OSError) as exc:
            self.reset()
            raise TransportClosed(f"{self.uri}: connection lost: {exc}") from exc

    def close(self) -> None:
        self.reset()
