"""``egoscale-ros estop``: press, release or reset the e-stop of a running graph from any terminal.

Pressing publishes ``True`` on ``safety/estop`` (reliable, transient local, so a node that joins
later still latches) and calls every node's ``<node>/estop`` Trigger service, reporting which
nodes acknowledged. ``--release`` publishes ``False`` (the input is no longer pressed; the
nodes stay latched); ``--reset`` releases and then asks every node to reset (``safety/estop_reset``
and ``<node>/estop_reset``), which each node refuses while any e-stop input is still pressed.
The ROS environment (``ROS_DOMAIN_ID`` and discovery settings) is the caller's.
"""

from __future__ import annotations

import argparse
import json
import time

WAIT_S = 5.0  # longest wait for discovery to find the graph
SETTLE_S = 0.5  # after the first node is found, time for the others


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--release", action="store_true", help="release the input (nodes stay latched)")
    group.add_argument("--reset", action="store_true", help="release, then reset every node")
    parser.add_argument("--namespace", default="", help="namespace of the robot's graph")
    parser.add_argument("--wait", type=float, default=WAIT_S, help="longest wait to discover the nodes (s)")


def run(args: argparse.Namespace) -> int:
    import rclpy
    from std_msgs.msg import Bool, Empty
    from std_srvs.srv import Trigger

    from egoscale_ros.nodes.wiring.qos import LATCHED_QOS

    if not args.wait >= 0:
        print(f"egoscale-ros estop: --wait must be >= 0, got {args.wait}")
        return 2
    rclpy.init()
    node = rclpy.create_node("estop_command", namespace=args.namespace or "/")
    try:
        estop = node.create_publisher(Bool, "safety/estop", LATCHED_QOS)
        pressed = not (args.release or args.reset)
        # Discover the graph before publishing and listing services.
        _spin(node, args.wait, until=lambda: estop.get_subscription_count() > 0)
        _spin(node, SETTLE_S)
        estop.publish(Bool(data=pressed))
        if args.reset:
            reset = node.create_publisher(Empty, "safety/estop_reset", 10)
            _spin(node, min(args.wait, 0.5))
            reset.publish(Empty())
        suffix = "/estop" if pressed else ("/estop_reset" if args.reset else None)
        acknowledged: dict[str, str] = {}
        if suffix:
            for name, types in node.get_service_names_and_types():
                if name.endswith(suffix) and "std_srvs/srv/Trigger" in types:
                    acknowledged[name] = _call(node, Trigger, name)
        report = {"estop": "pressed" if pressed else ("reset" if args.reset else "released"),
                  "subscribers": estop.get_subscription_count(), "services": acknowledged}
        print(json.dumps(report))
        _spin(node, 0.2)  # let the reliable writer hand the sample over before it goes
        failed = [n for n, r in acknowledged.items() if not r.startswith("ok")]
        return 1 if failed or (pressed and not report["subscribers"] and not acknowledged) else 0
    finally:
        node.destroy_node()
        rclpy.shutdown()


def _spin(node, seconds: float, until=lambda: False) -> None:
    import rclpy

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        rclpy.spin_once(node, timeout_sec=0.05)


def _call(node, srv_type, name: str, timeout_s: float = 2.0) -> str:
    import rclpy

    client = node.create_client(srv_type, name)
    try:
        if not client.wait_for_service(timeout_sec=timeout_s):
            return "no answer"
        future = client.call_async(srv_type.Request())
        rclpy.spin_until_future_complete(node, future, timeout_sec=timeout_s)
        result = future.result()
        if result is None:
            return "no answer"
        return ("ok: " if result.success else "refused: ") + result.message
    finally:
        node.destroy_client(client)
