"""Specification: the demo refuses a window that is not a positive time, and a SIGINT/SIGTERM is
a request to stop (the demo then stops its nodes in order and still reports)."""

from __future__ import annotations

import os
import signal

import pytest

from egoscale_ros.cli import build_parser
from egoscale_ros.demo import run
from egoscale_ros.interrupt import StopRequest


@pytest.mark.parametrize("seconds", ["-1", "0", "nan", "inf"])
def test_demo_refuses_a_window_that_is_not_a_positive_time(seconds, capsys):
    args = build_parser().parse_args(["demo", "--seconds", seconds])
    assert run(args) == 2  # refused before anything starts
    assert "--seconds" in capsys.readouterr().err


def test_a_first_sigint_is_a_stop_request_not_an_exception():
    before = signal.getsignal(signal.SIGINT)
    stop = StopRequest().install()
    try:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.sleep(1.0)  # wakes at once
        assert stop.requested and stop.signal_name == "SIGINT" and stop.at is not None
    finally:
        stop.restore()
    assert signal.getsignal(signal.SIGINT) is before  # the previous handler is back


def test_a_second_sigint_falls_through_to_the_previous_handler():
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, whatever ran before
    stop = StopRequest().install()
    try:
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            stop.sleep(1.0)
    finally:
        stop.restore()
        signal.signal(signal.SIGINT, outer)


def test_sigterm_is_a_stop_request_too():
    stop = StopRequest().install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.sleep(1.0) and stop.signal_name == "SIGTERM"
    finally:
        stop.restore()
