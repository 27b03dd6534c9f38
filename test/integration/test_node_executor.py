"""The executor a node process spins on: the events executor where rclpy has it, runs timers and
subscriptions and returns at shutdown; the SingleThreadedExecutor on request or without it."""

from __future__ import annotations

import threading
import time

import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from std_msgs.msg import Int32

from egoscale_ros.nodes.wiring import executor as executors
from egoscale_ros.nodes.wiring.diagnostics import Diagnostics


@pytest.fixture
def context(ros_env):
    ctx = Context()
    rclpy.init(context=ctx, domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    yield ctx
    if ctx.ok():
        rclpy.shutdown(context=ctx)


def _spin_until(node: Node, executor, context: Context, done: threading.Event) -> threading.Thread:
    executor.add_node(node)

    def stop_when_done():
        done.wait(10.0)
        rclpy.shutdown(context=context)

    stopper = threading.Thread(target=stop_when_done, daemon=True)
    stopper.start()
    with pytest.raises(ExternalShutdownException):  # as SingleThreadedExecutor.spin does
        executors.spin(executor, context)
    return stopper


@pytest.mark.parametrize("choice", ["events", "single"])
def test_timers_subscriptions_and_diagnostics_run_and_spin_returns_at_shutdown(context, monkeypatch, choice):
    monkeypatch.setenv(executors.ENV, choice)
    node = Node("executor_spec", context=context)
    executor = executors.create(context)
    expected = "events" if choice == "events" and executors.events_available() else "single"
    assert executors.kind(executor) == expected
    pub = node.create_publisher(Int32, "executor_spec/ticks", 10)
    ticks, received, done = [], [], threading.Event()

    def tick():  # a 100 Hz timer publishing to a subscription of the same process
        ticks.append(1)
        pub.publish(Int32(data=len(ticks)))

    def on_message(msg: Int32):
        received.append(msg.data)
        if len(received) >= 20:
            done.set()

    node.create_timer(0.01, tick)
    node.create_subscription(Int32, "executor_spec/ticks", on_message, 10)
    # Diagnostics' periodic timer calls a method with an optional argument: the events executor
    # must not hand it a TimerInfo.
    diagnostics = Diagnostics(node, lambda: {"ticks": len(ticks)}, period_s=0.01)
    _spin_until(node, executor, context, done).join(5.0)
    assert done.is_set(), f"{len(ticks)} ticks, {len(received)} messages before shutdown"
    assert received[:3] == [1, 2, 3]
    assert diagnostics is not None
    node.destroy_node()


def test_an_unknown_executor_choice_is_refused_by_name(context, monkeypatch):
    monkeypatch.setenv(executors.ENV, "fastest")
    with pytest.raises(ValueError, match=executors.ENV):
        executors.create(context)


def test_multi_threaded_when_threads_are_asked_for(context):
    assert executors.kind(executors.create(context, threads=2)) == "multi"


def test_the_nodes_of_a_process_share_one_level_watch_that_outlives_its_first_node(context):
    """A change of level shows within a watch period for every node of a process, from one timer;
    when the node holding that timer is destroyed, the others' watch moves to one of them."""
    from rclpy.executors import SingleThreadedExecutor

    from egoscale_ros.nodes.wiring.diagnostics import DiagnosticStatus

    levels = {"first": DiagnosticStatus.OK, "second": DiagnosticStatus.OK}
    nodes = {name: Node(f"watch_spec_{name}", context=context) for name in levels}
    # Periodic reports far apart: what shows within the test comes from the watch.
    reports = {name: Diagnostics(node, dict, lambda n=name: (levels[n], f"{n} level"), period_s=60.0)
               for name, node in nodes.items()}
    timers = sum(1 for n in nodes.values() for _ in n.timers)
    assert timers == 3  # a periodic timer each, one watch for both
    heard: list[tuple[str, int]] = []
    probe = Node("watch_spec_probe", context=context)
    probe.create_subscription(DiagnosticArray, "/diagnostics",
                              lambda m: heard.extend((s.message, s.level[0]) for s in m.status), 50)
    executor = SingleThreadedExecutor(context=context)
    for node in (*nodes.values(), probe):
        executor.add_node(node)

    def spin_until(condition, timeout_s=3.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not condition():
            executor.spin_once(timeout_sec=0.02)
        return condition()

    levels["second"] = DiagnosticStatus.ERROR
    assert spin_until(lambda: ("second level", 2) in heard)
    executor.remove_node(nodes["first"])
    nodes["first"].destroy_node()  # it held the shared watch
    reports["second"].publish()  # what its periodic report does: it takes the watch over
    heard.clear()
    levels["second"] = DiagnosticStatus.WARN
    assert spin_until(lambda: ("second level", 1) in heard)
    for node in (nodes["second"], probe):
        node.destroy_node()
