"""Liveness of an upstream stage, named on diagnostics: which topic went silent, for how long,
and which node it came from — gone (no longer publishing it: died) or still there (stalled).

The silence itself is judged by the caller on the input's own stamp (or, for a stream whose
stamp is an observation time, on the arrival of the last accepted message).
"""

from __future__ import annotations

from rclpy.node import Node


def publishers_of(node: Node, topic: str) -> list[str]:
    """Names of the nodes publishing ``topic`` (resolved in ``node``'s namespace)."""
    name = node.resolve_topic_name(topic)
    return sorted({info.node_name for info in node.get_publishers_info_by_topic(name)})


class UpstreamWatch:
    """Remembers who published ``topic`` while it was alive, to name them once it falls silent."""

    def __init__(self, node: Node, topic: str, timeout_s: float) -> None:
        if not timeout_s > 0:
            raise ValueError(f"{topic}: timeout must be > 0 (got {timeout_s})")
        self.node, self.topic, self.timeout_s = node, topic, float(timeout_s)
        self.known: list[str] = []
        self.silent_events = 0
        self._was_silent = False

    def check(self, age_s: float | None) -> str | None:
        """None while fresh (or never heard: nothing to miss yet), else the ERROR text."""
        if age_s is None or age_s <= self.timeout_s:
            if age_s is not None and not self.known:
                self.known = publishers_of(self.node, self.topic)
            self._was_silent = False
            return None
        if not self._was_silent:
            self.silent_events += 1
            self._was_silent = True
        now = publishers_of(self.node, self.topic)
        gone = [n for n in self.known if n not in now]
        if gone:
            who = f"{', '.join(gone)} gone (no longer publishing)"
        elif now:
            # A killed process's endpoints stay in the graph until its lease ends: dead or stalled.
            who = f"{', '.join(now)} dead or stalled"
        else:
            who = "no publisher"
        return f"{self.topic} silent for {age_s:.2f} s: {who}"
