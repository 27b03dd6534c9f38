"""mock_unitree_node: a mock Unitree robot on the native DDS domain (the far side of the adapters).

Subscribes the robot config's Unitree command topics (``rt/arm_sdk`` or ``rt/lowcmd``, the Dex3
and Inspire topics) over Cyclone DDS, checks every message (``egoscale_ros.interfaces.
mock_unitree``), moves its joints and publishes ``rt/lowstate`` and the hands' states. Its
diagnostics (on ROS) count what it received, refused and why (``native_errors``).

On SIGINT it keeps serving for up to ``linger_s`` while commands still arrive, so it sees the
other side's hand-back (the blend weight ramped to 0) and judges it, then writes its report
(JSON) to ``report_path`` when one is given.

Parameters: ``robot``, ``urdf``, ``rate_hz`` (state publishing and simulation), ``native_domain_id``,
``native_interface``, ``native_loopback``, ``mode_machine``, ``place`` ("joint=value": report that
joint there, even outside its limits), ``corrupt_crc_every`` (N: every Nth lowstate has a bad
CRC), ``report_path``, ``linger_s``.
"""

from __future__ import annotations

import threading
import time

from rclpy.node import Node

from egoscale_ros.interfaces import settings
from egoscale_ros.interfaces.dds import NativeBus
from egoscale_ros.interfaces.mock_unitree import MockUnitree
from egoscale_ros.nodes.robot_interface_node import native_settings_from_parameters
from egoscale_ros.nodes.wiring import mock_status
from egoscale_ros.nodes.wiring.diagnostics import Diagnostics
from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare, robot_config_from_parameters


class MockUnitreeNode(Node):
    def __init__(self) -> None:
        super().__init__("mock_unitree_node")
        self.config = robot_config_from_parameters(self)
        rate = float(declare(self, "rate_hz", min(self.config.mock.rate_hz, 100.0)))
        self.native = native_settings_from_parameters(self, self.config)
        self.mock = MockUnitree(self.config, mode_machine=int(declare(self, "mode_machine", 5)))
        placed = mock_status.parse_place(str(declare(self, "place", "")))
        if placed:
            self.mock.place(*placed)
        self.mock.corrupt_crc_every = int(declare(self, "corrupt_crc_every", 0))
        self.report_path = str(declare(self, "report_path", ""))
        self.linger_s = float(declare(self, "linger_s", 4.0))
        self.bus = NativeBus(self.native)
        for topic, idl_type in self.mock.types.items():
            self.bus.reader(topic, idl_type, depth=256)  # a stalled mock must not lose commands
        for topic, idl_type in self.mock.state_types().items():
            self.bus.writer(topic, idl_type)
        self._last = time.monotonic()
        self._last_command = -1.0
        # The robot's loop runs on a thread of its own, paced by sleeping: it touches only the
        # native bus, and an executor wake-up per step (100 a second) would cost more than the step.
        # Diagnostics read the mock under the same lock; a failure of the loop fails the node.
        self._lock = threading.Lock()
        self._period = 1.0 / rate
        self._stop = threading.Event()
        self._loop_error: BaseException | None = None
        self._loop = threading.Thread(target=self._run_loop, name="mock_robot_loop", daemon=True)
        self.create_timer(1.0, self._check_loop)
        self.diagnostics = Diagnostics(self, self._locked(self._diag_values),
                                       self._locked(lambda: mock_status.level(self.mock)))
        self._loop.start()
        self.get_logger().info(
            f"mock Unitree robot for {self.config.name} on {settings.describe(self.native)}: takes "
            f"{', '.join(self.mock.types)}; publishes {', '.join(self.mock.state_types())} at {rate:g} Hz"
        )

    def _serve(self) -> None:
        now = time.monotonic()
        for topic in self.mock.types:
            for data in self.bus.take_cdr(topic):  # read from the bytes: no message objects
                self._last_command = now
                if not self.mock.on_cdr(topic, data, now):
                    self.get_logger().warn(f"refused {self.mock.last_error}", throttle_duration_sec=2.0)
        self.mock.step(min(now - self._last, 0.1))
        self._last = now
        for topic, data in self.mock.states_cdr():  # the same bytes as states(), without objects
            self.bus.write_cdr(topic, data)

    def _run_loop(self) -> None:
        due = time.monotonic()
        try:
            while not self._stop.is_set():
                with self._lock:
                    self._serve()
                due += self._period
                now = time.monotonic()
                if now > due + self._period:
                    due = now  # fell behind (a stalled computer): no burst to catch up
                self._stop.wait(max(due - now, 0.0))
        except Exception as exc:  # reported by _check_loop, on the executor
            self._loop_error = exc

    def _check_loop(self) -> None:
        if self._loop_error is not None:
            raise RuntimeError(f"mock robot loop failed: {self._loop_error!r}") from self._loop_error

    def _locked(self, fn):
        def call():
            with self._lock:
                return fn()
        return call

    def close(self) -> None:
        """Serve on while the other side hands back, then write the report."""
        self._stop.set()
        self._loop.join(timeout=2.0)
        deadline = time.monotonic() + self.linger_s
        while time.monotonic() < deadline:
            self._serve()
            released = all(r.get("released", True) for k, r in self.mock.report().items() if k.startswith("blend "))
            quiet = time.monotonic() - self._last_command > 0.5
            if released and quiet:
                break
            time.sleep(0.01)
        report = self.mock.report()
        mock_status.hand_in(report, self.report_path)
        self.bus.close()

    def _diag_values(self) -> dict:
        rep = self.mock.report()
        values = {"native": settings.describe(self.native), **mock_status.report_values(rep)}
        for key, blend in rep.items():
            if key.startswith("blend "):
                values[f"{key} weight"] = blend["blend_weight_last"] if blend["blend_weight_last"] is not None else 0.0
        return values


def main(args: list[str] | None = None) -> int:
    return run(MockUnitreeNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
