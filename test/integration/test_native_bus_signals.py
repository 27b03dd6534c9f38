"""Specification: a SIGINT never crashes a process that takes samples from the maker's DDS.

A node stops on SIGINT by raising KeyboardInterrupt; one that arrived while the Cyclone DDS binding
was taking samples killed the process with SIGSEGV (seen once as a robot interface that died in its
stop, its robot left without the hand-back). Here a reader takes samples as fast as it can while a
writer floods it and SIGINTs come every fraction of a millisecond; it must end on its own, with
every interrupt caught.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytest.importorskip("cyclonedds")

PEER = textwrap.dedent("""
    import signal, sys, time
    from egoscale_ros.interfaces import unitree_idl as idl
    from egoscale_ros.interfaces.dds import NativeBus
    from egoscale_ros.interfaces.settings import NativeSettings

    role, seconds, tag = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    bus = NativeBus(NativeSettings(229, "lo", False, ("127.0.0.1",), tag))
    end = time.monotonic() + seconds
    if role == "writer":
        bus.writer("rt/lowstate", idl.HgLowState)
        data = idl.HgLowState().serialize()
        while time.monotonic() < end:
            for _ in range(50):
                bus.write_cdr("rt/lowstate", data)
            time.sleep(0.0005)
        sys.exit(0)

    done = False

    def stop(signum, frame):
        if not done:  # once finished, the SIGINTs still on their way are let go
            raise KeyboardInterrupt

    bus.reader("rt/lowstate", idl.HgLowState, depth=64)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)
    taken = interrupts = 0
    while not done:
        try:
            while not done:
                taken += len(bus.take_cdr("rt/lowstate", 64))
                done = time.monotonic() > end
        except KeyboardInterrupt:
            interrupts += 1
    print(f"taken {taken} interrupts {interrupts}", flush=True)
""")


def test_sigints_while_taking_samples_are_caught_and_never_crash_the_process(tmp_path):
    script = tmp_path / "peer.py"
    script.write_text(PEER)
    tag = f"sigint-{os.getpid()}"
    writer = subprocess.Popen([sys.executable, str(script), "writer", "12", tag])
    reader = None
    try:
        time.sleep(1.0)
        reader = subprocess.Popen([sys.executable, str(script), "reader", "6", tag], stdout=subprocess.PIPE, text=True)
        assert reader.stdout.readline().strip() == "ready"  # its handler is in place
        time.sleep(0.5)  # discovered the writer, taking
        sent = 0
        while reader.poll() is None:
            reader.send_signal(signal.SIGINT)
            sent += 1
            time.sleep(0.0003)
        out = reader.stdout.read()
        assert reader.returncode == 0, f"reader ended with {reader.returncode} after {sent} SIGINTs: {out!r}"
        taken, interrupts = (int(w) for w in out.split()[1::2])  # "taken N interrupts M"
        assert taken > 0 and interrupts > 0  # it was taking, and the interrupts reached it
    finally:
        for p in (writer, reader):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
