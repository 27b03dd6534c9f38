"""A node spinning on its own thread in a private rclpy context, for tools that drive a graph.

The demo's monitor and the reaching evaluation's driver both need a node that runs beside their
main thread. ``close()`` stops the spin loop and joins the thread *before* the node and context
are torn down: destroying them under a spinning executor aborts the process. Likewise an entity
of a spinning node is destroyed on the spin thread (:func:`on_spin_thread`), never from another.
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


def on_spin_thread(node: Node, fn: Callable[..., object], *args: object, timeout_s: float = 2.0) -> bool:
    """Run ``fn(*args)`` on the thread that spins ``node`` and wait for it; False if it did not
    run within ``timeout_s`` (nobody spinning). Directly when no executor holds the node.

    Why: rclpy's executor marks each waitable (a subscription's event handlers) in use and then
    enters it again to add it to the wait set; a destroy requested from another thread in between
    makes that second entry raise InvalidHandle, which ends the spin thread.
    """
    executor = node.executor
    if executor is None:
        fn(*args)
        return True
    done = threading.Event()
    executor.create_task(fn, *args).add_done_callback(lambda _task: done.set())
    return done.wait(timeout_s)


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
