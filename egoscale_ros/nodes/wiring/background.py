"""A node spinning on its own thread in a private rclpy context, for tools that drive a graph.

The demo's monitor and the reaching evaluation's driver both need a node that runs beside their
main thread. ``close()`` stops the spin loop and joins the thread *before* the node and context
are torn down: destroying them under a spinning executor aborts the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

NodeT = TypeVar("NodeT", bound=Node)


class BackgroundNode(Generic[NodeT]):
    """``make_node(context)`` built in a new context on ``domain_id`` and spun on a thread named ``name``."""

    def __init__(self, make_node: Callable[[Context], NodeT], domain_id: int, name: str):
        self.context = Context()
        rclpy.init(args=[], context=self.context, domain_id=domain_id)
        self.node: NodeT = make_node(self.context)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set() and self.context.ok():
            self._executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._executor.remove_node(self.node)
        self._executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
