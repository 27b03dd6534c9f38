"""In-process links between the command-path stages of one process (command_container).

The IK and retargeting also hand their controller commands to a robot interface node of the
same process (``ControllerPublisher.sinks``), which then sends them in the same tick.

When the chunk smoother, wrist IK and hand retargeting share a process, the per-tick targets need
not go through a message, DDS and an executor wake-up twice per tick: the smoother hands them to
the other stages directly, and one timer ticks the three in order (smoother, then IK and
retargeting on the targets of that same tick). The ``command/*_targets`` topics are still
published whenever anything besides the linked stages subscribes (a monitor, a recorder, a
viewer), so the graph looks the same from outside; each stage keeps its subscription too, so a
publisher from outside still drives it, and drops the copy of a target it was already handed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from rclpy.node import Node

WristSink = Callable[[dict[str, np.ndarray], float], None]  # (side -> 4x4 target, stamp in s)
HandSink = Callable[[dict[str, np.ndarray], float], None]  # (side -> policy hand joints, stamp)


class TargetLinks:
    """The in-process consumers of a smoother's per-tick targets."""

    def __init__(self) -> None:
        self.wrist: list[WristSink] = []
        self.hand: list[HandSink] = []

    def observed(self, publisher: Any, part: str) -> bool:
        """Whether ``publisher``'s topic has subscribers besides the linked stages (which also
        subscribe it): only then is the message worth building and sending."""
        return publisher.get_subscription_count() > len(getattr(self, part))


def link_command_stages(smoother: Node | None, wrist_ik: Node | None = None,
                        hand_retarget: Node | None = None, robot_interface: Node | None = None) -> list[str]:
    """Link ``smoother`` (a ChunkSmootherNode) to the WristIkNode and HandRetargetNode of the same
    process, and tick them from one timer when their rates agree; a RobotInterfaceNode at that
    rate is ticked last, sending the commands of that same tick. Returns what was linked."""
    if smoother is None:
        return []
    linked = []
    if wrist_ik is not None:
        smoother.links.wrist.append(wrist_ik.take_targets)
        linked.append(f"wrist targets {smoother.get_name()} -> {wrist_ik.get_name()}")
    if hand_retarget is not None:
        smoother.links.hand.append(_hand_values_sink(smoother, hand_retarget))
        linked.append(f"hand targets {smoother.get_name()} -> {hand_retarget.get_name()}")
    for stage in (wrist_ik, hand_retarget):
        if stage is None or robot_interface is None:
            continue
        for pub in stage.guard.publishers:
            sink = robot_interface.command_sink(pub.output.ros_topic)
            if sink is not None:
                pub.sinks.append(sink)
                linked.append(f"{pub.output.ros_topic} {stage.get_name()} -> {robot_interface.get_name()}")
    stages = [n for n in (smoother, wrist_ik, hand_retarget) if n is not None]
    if robot_interface is not None and round(robot_interface.rate_hz, 9) == round(smoother.rate_hz, 9):
        stages.append(robot_interface)  # last: it sends what the stages just commanded
    if len(stages) > 1 and len({round(n.rate_hz, 9) for n in stages}) == 1:
        for node in stages:
            node.destroy_timer(node.tick_timer)
        ticks = [n._tick for n in stages]

        def tick() -> None:  # no argument: the events executor passes TimerInfo to one that takes it
            for each in ticks:
                each()

        smoother.tick_timer = smoother.create_timer(1.0 / smoother.rate_hz, tick)
        linked.append(f"one {smoother.rate_hz:g} Hz timer ticks {', '.join(n.get_name() for n in stages)}")
    return linked


def _hand_values_sink(smoother: Node, retarget: Node) -> HandSink:
    names = smoother.hand_names

    def sink(hand: dict[str, np.ndarray], stamp_s: float) -> None:
        retarget.take_targets({n: float(v) for side, values in hand.items()
                               for n, v in zip(names.get(side, ()), values)}, stamp_s)

    return sink
