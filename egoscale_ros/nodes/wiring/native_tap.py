"""Listening in on the maker's native DDS topics (Unitree ``rt/...``) for a recorder.

One Cyclone DDS participant on the native domain (the settings the robot interface uses) with a
best-effort reader per topic, so it never slows the robot's own traffic, and a thread that wakes
as samples arrive and hands each over serialized, stamped with its arrival time. The thread exists
because rclpy's executor cannot wait on Cyclone DDS readers; a timer polling them would stamp
arrivals late by up to its period.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from egoscale_ros.interfaces.settings import NativeSettings
from egoscale_ros.recording.native import NativeChannel, as_ros2_cdr, take_serialized

WAIT_S = 0.1  # how often the thread looks at its stop flag when nothing arrives
DEPTH = 256  # samples a reader keeps between two takes (0.5 s of a 500 Hz state stream)


class NativeTap:
    """Calls ``on_message(topic, cdr_bytes, log_time_ns)`` for every sample of ``channels``."""

    def __init__(self, settings: NativeSettings, channels: Sequence[NativeChannel],
                 on_message: Callable[[str, bytes, int], None], on_error: Callable[[str], None]):
        from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState, WaitSet

        from egoscale_ros.interfaces.dds import NativeBus

        self.channels = list(channels)
        self.on_message = on_message
        self.on_error = on_error
        self.bus = NativeBus(settings)
        self.received = {c.topic: 0 for c in self.channels}
        self._readers = [(c, self.bus.reader(c.dds_topic, c.idl_type, depth=DEPTH)) for c in self.channels]
        self._waitset = WaitSet(self.bus.participant)
        mask = SampleState.Any | ViewState.Any | InstanceState.Any
        self._conditions = [ReadCondition(reader, mask) for _, reader in self._readers]
        for condition in self._conditions:
            self._waitset.attach(condition)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="native_tap", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from cyclonedds.util import duration

        while not self._stop.is_set():
            try:
                self._waitset.wait(duration(seconds=WAIT_S))
                self.drain()
            except Exception as exc:  # report and keep going: the ROS side of the recording goes on
                self.on_error(f"native recording: {type(exc).__name__}: {exc}")
                self._stop.wait(1.0)

    def drain(self) -> None:
        now = time.time_ns()
        for channel, reader in self._readers:
            for data, _source_ns in take_serialized(reader, DEPTH):
                self.received[channel.topic] += 1
                self.on_message(channel.topic, as_ros2_cdr(data, channel.idl_type), now)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * WAIT_S + 1.0)
        self._waitset = None
        self._conditions = []
        self.bus.close()
