"""How many requests a policy-server client keeps in flight: up to the pool, fewer while they queue.

Several requests in flight hide a long round trip when the time is spent on the way (network,
transport): the replies then come back as often as observations go out. Against a server that
computes one request at a time and is slower than the node's period, extra requests only wait
in the server's queue: every reply comes back later and nothing comes back more often. So the
window starts at one request and grows by one for each round trip near the fastest seen lately
that comes back after an observation found the window full; it shrinks by one for each round
trip while most of the last few were clearly longer than the fastest (the sign of a queue), down
to one. A single long round trip (a busy computer or network for a moment) is not a queue: a
window shrunk by every such hiccup leaves observations unsent, each a gap in the chunk stream. It starts small so that
the fastest round trip is seen before any queue can form. Pure logic on round-trip times; the client feeds it.
"""

from __future__ import annotations

from collections import deque


class InFlightWindow:
    """Window of ``1..limit`` requests in flight, adapted to the round trips the client sees.

    A round trip counts as long when it exceeds ``factor`` times the shortest of the last
    ``memory`` round trips plus ``margin_ms`` (jitter of a loaded computer); requests queue when
    the median of the last ``persist`` round trips is long.
    """

    def __init__(self, limit: int, factor: float = 1.5, margin_ms: float = 20.0, memory: int = 64,
                 persist: int = 3):
        if limit < 1:
            raise ValueError(f"the window needs a limit >= 1, got {limit}")
        self.limit = int(limit)
        self.size = 1
        self.factor = float(factor)
        self.margin_ms = float(margin_ms)
        self.shrinks = 0  # how often a queued round trip shrank it
        self._recent: deque[float] = deque(maxlen=memory)
        self._last: deque[float] = deque(maxlen=max(1, persist))
        self._wanted = False  # an observation found the window full while connections were idle

    def allows(self, in_flight: int) -> bool:
        """Whether one more request may go out while ``in_flight`` are out."""
        if in_flight < self.size:
            return True
        if in_flight < self.limit:
            self._wanted = True
        return False

    def on_reply(self, round_trip_ms: float) -> None:
        """Adapt to one good reply's round trip."""
        self._recent.append(float(round_trip_ms))
        self._last.append(float(round_trip_ms))
        long = self.factor * min(self._recent) + self.margin_ms
        if sorted(self._last)[len(self._last) // 2] > long:  # most of the last few: a queue
            if self.size > 1:
                self.size -= 1
                self.shrinks += 1
        elif round_trip_ms <= long and self._wanted:
            self.size = min(self.limit, self.size + 1)
        self._wanted = False
