"""The error a remote policy request ends in, by kind (kept free of network libraries, so the
policy node can name it without importing pyzmq, msgpack or websockets)."""

from __future__ import annotations

# Counted on the policy node's diagnostics as ``server_<kind>``.
ERROR_KINDS = ("timeout", "disconnected", "server_error", "unauthorized", "bad_reply", "non_finite",
               "stale_reply", "backoff")


class RemoteError(RuntimeError):
    """A request that produced no usable chunk; ``kind`` is one of :data:`ERROR_KINDS`."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
