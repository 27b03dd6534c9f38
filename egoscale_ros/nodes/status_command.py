"""``egoscale-ros status``: every node's state from ``/diagnostics`` as a table, refreshed.

Listens on ``/diagnostics`` of the caller's ROS environment (``ROS_DOMAIN_ID`` and discovery
settings) and redraws the table every ``--interval`` seconds until Ctrl-C. ``--once`` listens for
``--wait`` seconds, prints the table once and exits with status 1 when no node reported or any
node is in ERROR or STALE (for scripts and health checks).
"""

from __future__ import annotations

import argparse
import sys
import time

CLEAR = "\x1b[H\x1b[2J"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="print one table after --wait seconds and exit")
    parser.add_argument("--wait", type=float, default=3.0, help="seconds to listen before the first table")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    parser.add_argument("--stale", type=float, default=3.0, help="a node silent this long is STALE (s)")


def run(args: argparse.Namespace) -> int:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray

    from egoscale_ros.status_table import STALE, StatusBoard, render

    for name in ("wait", "interval", "stale"):
        if not getattr(args, name) > 0:
            print(f"egoscale-ros status: --{name} must be > 0, got {getattr(args, name)}", file=sys.stderr)
            return 2
    board = StatusBoard(stale_s=args.stale)

    def on_diagnostics(msg: DiagnosticArray) -> None:
        now = time.monotonic()
        for status in msg.status:
            level = status.level[0] if isinstance(status.level, (bytes, bytearray)) else int(status.level)
            board.update(status.name.lstrip("/") or status.hardware_id, level, status.message,
                         {kv.key: kv.value for kv in status.values}, now)

    rclpy.init()
    node = rclpy.create_node("egoscale_status")
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 50)
    interactive = sys.stdout.isatty() and not args.once
    try:
        next_draw = time.monotonic() + args.wait
        while True:
            rclpy.spin_once(node, timeout_sec=0.05)
            now = time.monotonic()
            if now < next_draw:
                continue
            table = render(board, now)
            print((CLEAR if interactive else "") + table + ("" if interactive else "\n"), flush=True)
            if args.once:
                worst = board.worst(now)
                return 1 if worst is None or worst >= 2 or worst == STALE else 0
            next_draw = now + args.interval
    except KeyboardInterrupt:
        return 0
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
