"""The standard ``main()`` of a node process: init, build, spin until SIGINT or shutdown, clean up."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

import rclpy
from rclpy.node import Node

from egoscale_ros.nodes.wiring import executor as executors


def run(node_factory: Callable[[], Node | list[Node]], args: list[str] | None = None, threads: int = 1) -> int:
    """Standard ``main()``: init, build the node (or a container's nodes), spin them on one
    executor until SIGINT/shutdown, clean up.

    A node that fails to start (bad config, missing model, unopenable camera) prints one clear
    line naming what is wrong and exits with status 1.

    After a stop the process exits at once (:func:`exit_now`): every node has been closed (the
    robot handed back) and destroyed and rclpy shut down; what remains is the interpreter's
    teardown of native libraries, which took 0.8 s of a busy computer's time and must not eat
    into the 2 s a SIGINT is given to end every process.
    """
    # Installed before rclpy.init, which chains its own SIGINT handler to this one: a SIGINT can
    # surface inside rclpy's C++ calls as some other exception, and this flag tells it apart.
    stop_requested = threading.Event()

    def on_sigint(signum, frame):
        stop_requested.set()
        raise KeyboardInterrupt

    def on_sigterm(signum, frame):
        # The graph stops its nodes with SIGINT; a SIGTERM came from elsewhere: say so in the log,
        # else the clean exit that follows reads as a node that ended for no reason.
        print(f"[pid {os.getpid()}] SIGTERM received: stopping", file=sys.stderr, flush=True)
        on_sigint(signum, frame)

    signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGTERM, on_sigterm)
    rclpy.init(args=args if args is not None else sys.argv)
    nodes: list[Node] = []
    try:
        try:
            built = node_factory()
            nodes = built if isinstance(built, list) else [built]
        except KeyboardInterrupt:  # stopped while starting (e.g. while the policy is prepared)
            return 0
        except Exception as exc:
            print(f"[FATAL] {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            return 1
        executor = executors.create(nodes[0].context, threads)
        for node in nodes:
            executor.add_node(node)
        try:
            executors.spin(executor, nodes[0].context)
        except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
            stop_requested.set()  # SIGINT, or rclpy's own handler of SIGTERM shut the context down
        except Exception:
            # A SIGINT arriving inside a take or publish surfaces as that call's error, and one
            # racing the context teardown likewise. Only an error with no stop requested fails.
            if nodes[0].context.ok() and not stop_requested.is_set():
                raise
        return 0
    finally:
        for node in nodes:
            close = getattr(node, "close", None)
            if callable(close):
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
        if stop_requested.is_set():
            exit_now(0)


def exit_now(code: int) -> None:
    """End the process now, its output flushed, without the interpreter's teardown."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
