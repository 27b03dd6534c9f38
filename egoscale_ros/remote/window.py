"""How many requests a policy-server client keeps in flight: up to the pool, fewer while they queue.

Several requests in flight hide a long round trip when the time is spent on the way (network,
transport): the replies then come back as often as observations go out. Against a server that
computes one request at a time and is slower than the node's period, extra requests only wait
in the server's queue: every reply comes back later and nothing comes back more often. So the
window starts at one request and, with each round trip near the fastest seen lately, grows to as
many as keep up with the observations (:meth:`InFlightWindow.needed`: the longest recent such
round trip over the observations' period), or by one when an observation found it full; it shrinks by one for each round
trip while most of the last few were clearly longer than the fastest (the sign of a queue), down
to one. A single long round trip (a busy computer or network for a moment) is not a queue: a
window shrunk by every such hiccup leaves observations unsent, each a gap in the chunk stream. It starts small so that
the fastest round trip is seen before any queue can form. Pure logic on round-trip times; the client feeds it.
"""

from __future__ import annotations

import math
from collections import deque
from statistics import median_high


class InFlightWindow:
    """Window of ``1..limit`` requests in flight, adapted to the round trips the client sees.

    A round trip counts as long when it exceeds ``factor`` times the shortest of the last
    ``memory`` round trips plus ``margin_ms`` (jitter of a loaded computer); requests queue when
    the median of the last ``persist`` round trips is long.
    """

    def __init__(self, limit: int, factor: float = 1.5, margin_ms: float = 20.0, memory: int = 64,
                 persist: int = 3, forget_queue_after: int = 90):
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
        self._periods: deque[float] = deque(maxlen=16)  # seconds between observations
        self._last_observation: float | None = None
        # Grown at once no further than below the size at which requests last queued (a server
        # that computes one request at a time looks pipelinable until a second one waits), until
        # ``forget_queue_after`` observations (3 s at 30 Hz) came since: a computer loaded for a
        # moment also lengthens round trips, and must not keep the window small for good.
        self._ceiling = self.limit
        self.forget_queue_after = int(forget_queue_after)
        self._since_queue = 0
        self._busy: deque[float] = deque(maxlen=16)  # connection times of recent unqueued replies
        self._replies: deque[float] = deque(maxlen=9)  # when the last replies came

    def allows(self, in_flight: int, now_s: float | None = None) -> bool:
        """Whether one more request may go out while ``in_flight`` are out; ``now_s`` (a monotonic
        clock) is when the observation came, which tells the window how often they come."""
        self._since_queue += 1
        if now_s is not None:
            if self._last_observation is not None and now_s > self._last_observation:
                self._periods.append(now_s - self._last_observation)
            self._last_observation = now_s
        if in_flight < self.size:
            return True
        if in_flight < self.limit:
            self._wanted = True
        return False

    def on_reply(self, round_trip_ms: float, busy_ms: float | None = None, now_s: float | None = None) -> None:
        """Adapt to one good reply's round trip; ``busy_ms``: how long its connection was taken
        (the round trip plus building the request and reading the reply; the round trip if not
        given); ``now_s``: when it came (the clock of :meth:`allows`)."""
        self._recent.append(float(round_trip_ms))
        self._last.append(float(round_trip_ms))
        if now_s is not None:
            self._replies.append(float(now_s))
        long = self.factor * min(self._recent) + self.margin_ms
        if median_high(self._last) > long and self._replies_lag():  # a queue
            if self.size > 1:
                self._ceiling = self.size - 1
                self._since_queue = 0
                self.size -= 1
                self.shrinks += 1
        elif round_trip_ms <= long:
            self._busy.append(float(round_trip_ms if busy_ms is None else max(busy_ms, round_trip_ms)))
            if self._since_queue >= self.forget_queue_after:
                self._ceiling = self.limit  # long without a queue: what queued then says little now
            if self._wanted:
                self.size = min(self.limit, self.size + 1)
                self._ceiling = max(self._ceiling, self.size)
            self.size = max(self.size, min(self._ceiling, self.needed()))
        self._wanted = False

    def _replies_lag(self) -> bool:
        """Whether replies come back more slowly than observations go out, as they do from a queue
        (a server slower than the observations answers at its own pace, however many wait). Long
        round trips of a computer loaded for a moment come back in a bunch at the pace they left.
        True when the times are not known (round trips alone then decide)."""
        if len(self._replies) < self._replies.maxlen or len(self._periods) < 3:
            return True
        times = list(self._replies)
        return median_high(b - a for a, b in zip(times, times[1:])) > 1.2 * self._period_s()

    def _period_s(self) -> float:
        """How often observations come: the median of the recent intervals (seconds)."""
        return median_high(self._periods)

    def needed(self) -> int:
        """Requests in flight that keep up with the observations when every connection is taken as
        long as the longest of the recent replies that did not queue (plus the margin): one
        observation each period goes out while the earlier ones are still out, and one more for a
        reply that comes back later than those. Grown to this at once,
        the window leaves no observation unsent as the round trips lengthen (each unsent one is a
        chunk missing from the stream, which the smoother's blend feels)."""
        if len(self._periods) < 3 or not self._busy:
            return 1
        period_ms = self._period_s() * 1e3
        if period_ms <= 0:
            return 1
        # One more than the pace needs: a reply that comes back late (a loaded computer for a
        # moment) still finds the next observation a connection.
        return math.ceil((max(self._busy) + self.margin_ms) / period_ms) + 1
