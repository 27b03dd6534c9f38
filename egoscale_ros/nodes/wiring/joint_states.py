"""The latest measured joint positions of ``joint_states``, as a thread-safe listener."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState

from egoscale_ros.nodes.wiring.joint_state_view import JointStateView
from egoscale_ros.nodes.wiring.log import warning
from egoscale_ros.nodes.wiring.params import declare
from egoscale_ros.nodes.wiring.stamps import (
    FUTURE_TOLERANCE_S,
    now_sec,
    stamp_to_sec,
)
from egoscale_ros.robot.spec import RobotConfig
from egoscale_ros.safety.arrival_flow import ArrivalFlow


class JointStateListener:
    """The node's view of the measured joints: whole, fresh, consistent messages from one source.

    ``joints``: what the node needs; a message lacking any of them is refused (never merged with
    another publisher's part). ``max_speed`` (per joint, rad/s) bounds how far the joints may
    have moved between two accepted messages. The publishers of ``topic`` are checked against
    ``source`` (a node name; '' = exactly one publisher) at ``check_period_s``; while they do not
    match, :attr:`source_problem` says why and the command path holds.

    ``view``: take the newest message when a tick asks (a command node); without, the node's own
    subscription hands every message to :meth:`offer` (the policy, which looks states up by stamp).
    """

    def __init__(self, node: Node, joints: Iterable[str] = (), max_speed: np.ndarray | None = None,
                 topic: str = "joint_states", source: str = "", check_period_s: float = 0.1,
                 view: bool = True):
        from egoscale_ros.safety.feedback import FeedbackFilter

        joints = list(joints)
        speed = np.full(len(joints), 10.0) if max_speed is None else np.asarray(max_speed, dtype=float)
        self._lock = threading.Lock()
        self._node = node
        self.topic = topic
        self.source = source
        self.filter = FeedbackFilter(joints, speed, future_tolerance_s=FUTURE_TOLERANCE_S)
        self._received_s = -math.inf  # local monotonic arrival time of the last accepted message
        self.source_problem = ""
        self._flow = ArrivalFlow(400)  # (node clock, stamp) of the messages accepted
        # Taken when a tick asks, from the process's one subscription: no callback per message.
        self._view = JointStateView.shared(node, topic) if view else None
        self._seen = 0
        self._check_period_s = check_period_s
        self._next_check = -math.inf
        if self._view is None:
            node.create_timer(check_period_s, self.check_source)
        # With a view, the node's ticks poll it every tick: the source is checked there when due
        # (no timer wake-up of its own, and never older than a check period when a tick reads).

    def check_source(self) -> str:
        """Compare the topic's publishers with the declared source now; returns the problem ('' = ok)."""
        from egoscale_ros.safety.feedback import source_verdict

        if self._view is not None:  # one lookup per check period for the whole process
            pubs = self._view.publishers(self._node, self._check_period_s)
        else:
            name = self._node.resolve_topic_name(self.topic)
            pubs = [i.node_name for i in self._node.get_publishers_info_by_topic(name)]
        problem = source_verdict(pubs, self.source)
        if problem == "no publisher":
            problem = ""  # silence is the stale-state watchdog's to judge
        if problem and not self.source_problem:
            self._node.get_logger().error(f"{self.topic}: {problem}; holding, no start or resume from it")
            with self._lock:
                self.filter.forget()  # nothing heard while two sources mixed counts
        self.source_problem = problem
        return problem

    def poll(self) -> None:
        """Check the source when due, then offer the newest joint state this node has not seen
        yet to its checks."""
        if self._view is None:
            return
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self._check_period_s
            self.check_source()
        taken = self._view.newest()
        if taken is None or taken.seq == self._seen:
            return
        self._seen = taken.seq
        self.offer_values(taken.names, taken.position, taken.stamp_s, taken.received_s)

    @property
    def received_s(self) -> float:
        self.poll()
        return self._received_s

    def offer(self, msg: JointState, received_s: float | None = None) -> bool:
        """Judge one message (whole, fresh, consistent); True when it became the node's view."""
        return self.offer_values(list(msg.name), list(msg.position), stamp_to_sec(msg.header.stamp), received_s)

    def offer_values(self, names: Sequence[str], position: Sequence[float], stamp_s: float,
                     received_s: float | None = None) -> bool:
        """:meth:`offer` of a message's names, positions and stamp (seconds)."""
        with self._lock:
            ok = self.filter.offer(names, position, stamp_s, now_sec(self._node))
            if ok:
                self._received_s = time.monotonic() if received_s is None else received_s
                # When it reached this process (it may have waited in the queue until a tick took it).
                arrival = now_sec(self._node) - (time.monotonic() - self._received_s)
                self._flow.record(arrival, self.filter.stamp_s)
        if not ok:
            warning(self._node)(f"{self.topic} refused: {self.filter.last_reason}",
                                throttle_duration_sec=2.0)
        return ok

    def flow_problem(self, window_s: float = 0.5, late_s: float = 0.05, lost: float = 0.2) -> str:
        """'' while the feedback flows as usual, else what is wrong with it now: messages arriving
        late by their own stamps, or a share of them lost (judged against the usual period)."""
        now = now_sec(self._node)
        with self._lock:
            return self._flow.problem(self.topic, now, window_s, late_s, lost)

    @property
    def rejected(self) -> int:
        return self.filter.counters.rejected()

    @property
    def stamp_s(self) -> float:
        self.poll()
        return self.filter.stamp_s

    @property
    def positions(self) -> dict[str, float]:
        return self.snapshot()

    def snapshot(self) -> dict[str, float]:
        self.poll()
        with self._lock:
            return dict(self.filter.positions)

    def age_s(self) -> float:
        return time.monotonic() - self.received_s

    def has(self, joints: Iterable[str]) -> bool:
        self.poll()
        with self._lock:
            return all(j in self.filter.positions for j in joints)

    def diagnostics(self) -> dict[str, Any]:
        c = self.filter.counters
        return {"joint_state_accepted": c.accepted, "joint_state_partial": c.partial,
                "joint_state_inconsistent": c.inconsistent, "joint_state_future": c.future,
                "joint_state_out_of_order": c.out_of_order, "joint_state_malformed": c.malformed,
                "joint_state_source": self.source_problem or "ok"}


def joint_state_listener(node: Node, config: RobotConfig, joints: list[str], view: bool = True) -> JointStateListener:
    """The listener a command node needs for ``joints``; parameter ``joint_state_source`` names the
    one node allowed to publish ``joint_states`` ('' = any single publisher)."""
    source = str(declare(node, "joint_state_source", ""))
    speed = [config.joint_info(j).velocity for j in joints]
    # Physical bound for the consistency check: the URDF's velocity (10 rad/s where it gives none).
    speed = np.array([v if math.isfinite(v) and v > 0 else 10.0 for v in speed])
    return JointStateListener(node, joints, speed, source=source, view=view)
