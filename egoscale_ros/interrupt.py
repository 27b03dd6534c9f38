"""SIGINT/SIGTERM as a request to stop, for commands that run a graph (``egoscale-ros demo``).

The first signal sets a flag that the command's wait loops poll, so it stops its nodes in order
and still reports what it measured; a second signal falls through to the default (an immediate
KeyboardInterrupt / termination), for an operator who really wants out.
"""

from __future__ import annotations

import signal
import threading
import time


class StopRequest:
    """Installed as the process's SIGINT/SIGTERM handler between :meth:`install` and :meth:`restore`."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name = ""
        self.at: float | None = None  # monotonic time of the request
        self._previous: dict[int, object] = {}

    def install(self) -> StopRequest:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum, _frame) -> None:
        if self._event.is_set():  # second signal: the default behaviour
            self.restore()
            signal.raise_signal(signum)
            return
        self.signal_name = signal.Signals(signum).name
        self.at = time.monotonic()
        self._event.set()

    def request(self, why: str = "requested") -> None:
        """Ask for a stop from inside the process (e.g. an injected ``sigint_at`` fault)."""
        if not self._event.is_set():
            self.signal_name = why
            self.at = time.monotonic()
            self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when a stop was requested meanwhile."""
        return self._event.wait(max(0.0, seconds))
