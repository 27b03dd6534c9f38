"""The executor a node process spins on: the events executor where rclpy has it, runs timers and
subscriptions and returns at shutdown; the SingleThreadedExecutor on request or without it."""

from __future__ import annotations

import threading

import pytest
import rclpy
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
