"""Specification of the in-flight window of a policy-server client: the whole pool while the
time is spent on the way, fewer while requests queue at the server."""

import pytest

from egoscale_ros.remote.window import InFlightWindow


def _fill(window: InFlightWindow) -> int:
    """Requests out once the node has offered one more observation than the window takes."""
    in_flight = 0
    while window.allows(in_flight):
        in_flight += 1
    return in_flight


def test_it_starts_at_one_and_steady_round_trips_open_it_to_the_whole_pool():
    window = InFlightWindow(6)
    assert _fill(window) == 1
    for k in range(100):
        _fill(window)
        window.on_reply(150.0 + (k % 7))  # network latency with a little jitter
    assert window.size == 6 and window.shrinks == 0
    assert window.allows(5) and not window.allows(6)


def test_queueing_at_a_one_at_a_time_server_shrinks_the_window_to_what_it_serves():
    """A server computing 60 ms per request, asked every 33 ms: with n in flight a reply waits for
    the n - 1 before it, so its round trip is about n x 60 ms."""
    window = InFlightWindow(6)
    for _ in range(200):
        window.on_reply(60.0 * _fill(window))  # the node always has a new observation
    assert window.size <= 2 and window.shrinks >= 4


def test_the_window_grows_back_when_the_queue_is_gone_and_more_is_wanted():
    window = InFlightWindow(4)
    for _ in range(4):
        _fill(window)
        window.on_reply(50.0)
    assert window.size == 4
    for _ in range(4):
        window.on_reply(400.0)  # queued replies: the second of them shows the queue
    assert window.size == 1
    for _ in range(5):
        _fill(window)  # an observation found the window full
        window.on_reply(52.0)
    assert window.size == 4


def test_no_growth_without_demand_and_never_below_one():
    window = InFlightWindow(3)
    for _ in range(3):
        _fill(window)
        window.on_reply(10.0)
    for _ in range(10):
        window.on_reply(500.0)
    assert window.size == 1
    window.on_reply(10.0)  # nothing was held back: stays
    assert window.size == 1
    with pytest.raises(ValueError, match="limit"):
        InFlightWindow(0)


def test_a_single_long_round_trip_now_and_then_is_no_queue():
    """A loaded computer or network delays one reply in a while; shrinking for it would leave
    observations unsent, each a gap in the chunk stream."""
    window = InFlightWindow(6)
    for k in range(200):
        _fill(window)
        window.on_reply(400.0 if k % 5 == 4 else 150.0 + (k % 7))
    assert window.size == 6 and window.shrinks == 0


def _offer(window: InFlightWindow, now_s: float) -> int:
    """Like :func:`_fill`, the observations stamped with the time they came."""
    in_flight = 0
    while window.allows(in_flight, now_s):
        in_flight += 1
    return in_flight


def test_a_long_round_trip_opens_the_window_at_once_to_what_keeps_up_with_the_observations():
    """Observations every 33 ms and a 165 ms network round trip: six requests must be out at once.
    Grown one by one, each step would cost an unsent observation, a chunk missing from the stream."""
    window = InFlightWindow(8)
    for k in range(4):
        _offer(window, k / 30)
    window.on_reply(165.0)
    assert window.size == 7  # ceil((165 + 20 margin) / 33.3) + 1 for a late reply
    assert window.needed() == 7


def test_opened_at_once_only_below_the_size_that_queued():
    """A server computing 60 ms per request looks like a 60 ms network at first; once a second
    request waited behind the first, the window is not opened that far again by the round trips."""
    window = InFlightWindow(6)
    sizes = []
    for k in range(300):
        window.on_reply(60.0 * _offer(window, k / 30))
        sizes.append(window.size)
    assert max(sizes[100:]) <= 2  # needed() alone would say 4: ceil((60 + 20) / 33.3) + 1


def test_after_a_moment_of_load_it_opens_again_to_what_keeps_up():
    """Round trips lengthened by a loaded computer for a moment look like a queue and shrink the
    window; some seconds of observations later it opens at once to what the round trips need."""
    window = InFlightWindow(12)
    t = 0.0

    def observation_and_reply(round_trip_ms, busy_ms=None):
        nonlocal t
        t += 1 / 30
        window.allows(6, t)  # a 175 ms connection time at 33 ms: five or six out when the next comes
        window.on_reply(round_trip_ms, busy_ms)

    for _ in range(10):
        observation_and_reply(165.0, 175.0)
    assert window.size == 7  # ceil((175 + 20) / 33.3) + 1
    for _ in range(4):
        window.on_reply(700.0)
    assert window.size < 7
    for _ in range(120):  # four seconds of observations
        observation_and_reply(165.0, 175.0)
    assert window.size == 7


def test_round_trips_lengthened_by_a_busy_moment_do_not_shrink_it_when_replies_keep_pace():
    """A 15 ms server and a client computer busy now and then: three replies in a row take 70 ms,
    but replies still come back as often as observations go out; nothing queues at the server."""
    window = InFlightWindow(6)
    t = 0.0
    for k in range(200):
        t += 1 / 30
        window.allows(0 if window.size > 1 else 1, t)
        window.on_reply(70.0 if k % 20 in (10, 11, 12) else 15.0, now_s=t + 0.015)
    assert window.shrinks == 0 and window.size >= 2


def test_a_server_slower_than_the_observations_still_shrinks_it():
    """A server computing 60 ms per request answers every 60 ms however many wait; observations
    come every 33 ms; with n in flight a round trip is about n x 60 ms."""
    window = InFlightWindow(6)
    t, reply_at = 0.0, 0.0
    for _ in range(300):
        t += 1 / 30
        in_flight = _offer(window, t)
        reply_at = max(reply_at, t) + 0.060
        window.on_reply(60.0 * in_flight, now_s=reply_at)
    assert window.shrinks >= 2 and window.size <= 2
