"""The state of every node of a running graph, from ``/diagnostics``, as a fixed-width table.

Each node publishes one DiagnosticStatus a second; the board keeps the newest per node and marks
a node STALE when it has been silent longer than ``stale_s`` (a dead or hung node). No rclpy
here: ``egoscale-ros status`` feeds the board from its subscription and prints :func:`render`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LEVELS = {0: "OK", 1: "WARN", 2: "ERROR", 3: "STALE"}
STALE = 3
#: diagnostic keys shown as columns when a node reports them (first match per column)
COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rate Hz", ("rate_hz", "tick_rate_hz", "publish_rate_hz")),
    ("cpu %", ("cpu_percent",)),
    ("holding", ("holding",)),
    ("e-stop", ("estop",)),
)


@dataclass
class NodeState:
    name: str
    level: int
    message: str
    values: dict[str, str]
    received_s: float


@dataclass
class StatusBoard:
    stale_s: float = 3.0
    nodes: dict[str, NodeState] = field(default_factory=dict)

    def update(self, name: str, level: int, message: str, values: dict[str, str], now_s: float) -> None:
        self.nodes[name] = NodeState(name, int(level), message, dict(values), now_s)

    def level(self, state: NodeState, now_s: float) -> int:
        return STALE if now_s - state.received_s > self.stale_s else state.level

    def worst(self, now_s: float) -> int | None:
        """The worst level over all nodes (None when no node has reported)."""
        return max((self.level(s, now_s) for s in self.nodes.values()), default=None)


def _cell(value: str) -> str:
    try:
        return f"{float(value):.1f}"
    except ValueError:
        return value


def render(board: StatusBoard, now_s: float, width: int = 120) -> str:
    """One line per node, sorted by name: level, age of its last status, key figures, message."""
    if not board.nodes:
        return "no node has published on /diagnostics yet (is the graph running on this ROS_DOMAIN_ID?)"
    header = ["node", "level", "age s", *[c for c, _ in COLUMNS], "message"]
    rows = []
    for name in sorted(board.nodes):
        state = board.nodes[name]
        figures = []
        for _, keys in COLUMNS:
            value = next((state.values[k] for k in keys if k in state.values), "")
            figures.append(_cell(value) if value else "–")
        rows.append([name, LEVELS.get(board.level(state, now_s), str(state.level)),
                     f"{now_s - state.received_s:.1f}", *figures, state.message])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        text = "  ".join(cell.ljust(w) if i == 0 or i == 1 else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(row, widths)))
        lines.append(f"{text}  {row[-1]}"[:width])
    return "\n".join(lines)
