"""The executor a node process spins on: rclpy's events executor where the distribution has it.

rclpy's SingleThreadedExecutor rebuilds its wait set in Python on every wake-up (every entity of
every node: timers, subscriptions, the parameter services...) and inspects each timer callback's
signature before calling it; on a 50 Hz command node that bookkeeping costs more CPU than the
node's own work. ``rclpy.experimental.EventsExecutor`` (Jazzy and later) keeps the entities in
C++ and wakes only for what is ready. Humble lacks it: there the SingleThreadedExecutor is used.

``EGOSCALE_ROS_EXECUTOR=single`` forces the SingleThreadedExecutor (to compare, or to rule the
events executor out when chasing a problem).

The events executor's ``spin()`` is not used: on Kilted it neither runs timers nor returns at
shutdown. ``spin_once`` with a timeout works, so :func:`spin` loops over it while the context is
up; the timeout also bounds how late a SIGINT is seen (the handler runs between calls).
"""

from __future__ import annotations

import os
from typing import Any

from rclpy.context import Context

ENV = "EGOSCALE_ROS_EXECUTOR"
SLICE_S = 0.2  # longest single wait of the events executor (a SIGINT is handled between waits)


def single_threaded(context: Context | None = None) -> Any:
    from rclpy.executors import SingleThreadedExecutor

    return SingleThreadedExecutor(context=context)


def events_available() -> bool:
    try:
        from rclpy.experimental import EventsExecutor  # noqa: F401
    except ImportError:
        return False
    return True


def create(context: Context | None = None, threads: int = 1) -> Any:
    """The executor for a node process: multi-threaded when asked for ``threads`` > 1, else the
    events executor where it exists (and is not switched off by ``EGOSCALE_ROS_EXECUTOR``)."""
    if threads > 1:
        from rclpy.executors import MultiThreadedExecutor

        return MultiThreadedExecutor(num_threads=threads, context=context)
    choice = os.environ.get(ENV, "events").strip().lower()
    if choice not in ("events", "single"):
        raise ValueError(f"{ENV}={choice!r}: expected 'events' or 'single'")
    if choice == "events" and events_available():
        from rclpy.experimental import EventsExecutor

        return EventsExecutor(context=context)
    return single_threaded(context)


def kind(executor: Any) -> str:
    """'events' | 'single' | 'multi' — what a node reports on diagnostics."""
    name = type(executor).__name__
    if "Events" in name:
        return "events"
    return "multi" if "Multi" in name else "single"


def spin(executor: Any, context: Context) -> None:
    """Spin until the context shuts down, then raise rclpy's ExternalShutdownException (as
    ``SingleThreadedExecutor.spin`` does), or until a KeyboardInterrupt leaves the call."""
    from rclpy.executors import ExternalShutdownException

    if kind(executor) != "events":
        executor.spin()
        return
    while context.ok():
        executor.spin_once(timeout_sec=SLICE_S)
    raise ExternalShutdownException()
