"""How an injected fault is judged from what the graph published.

Inputs are plain records the demo's monitor collects: diagnostics events ``(wall time, node,
level, message)`` and controller commands ``(wall time, positions)``. A fault is *reported*
when the node that must notice it publishes a status of at least WARN whose message names it,
within :data:`DETECT_WITHIN_S` of the injection; the graph has *recovered* when the arm IK node
says ``tracking`` again after the fault ended.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from egoscale_ros.faults.spec import DETECT_WITHIN_S, MUST_RECOVER, Fault

WARN, ERROR = 1, 2


@dataclass(frozen=True)
class DiagEvent:
    t: float  # wall time (the status's header stamp)
    node: str
    level: int
    message: str


# fault -> (nodes that must notice it, pattern its status message must match)
SIGNALS: dict[str, tuple[tuple[str, ...], str]] = {
    "camera_stall": (("policy_node",), r"camera.*silent"),
    "camera_garbage": (("policy_node",), r"rejected .*image"),
    "joint_states_drop": (("wrist_ik_node", "hand_retarget_node"), r"joint_states.*(lost|gap)"),
    "joint_states_delay": (("wrist_ik_node", "hand_retarget_node"), r"joint_state.*(old|late|stale)"),
    "joint_states_foreign": (("wrist_ik_node", "hand_retarget_node", "policy_node"), r"untrusted"),
    "chunk_nan": (("chunk_smoother_node",), r"refused.*invalid"),
    "chunk_future": (("chunk_smoother_node",), r"refused.*future"),
    "chunk_names_shuffled": (("chunk_smoother_node",), r"reordered"),
    "policy_slow": (("chunk_smoother_node",), r"late|silent|stale"),  # slow chunks come late or stale
    "policy_kill": (("chunk_smoother_node",), r"wrist_chunk silent.*policy_node"),
    "node_restart": (("wrist_ik_node", "hand_retarget_node", "chunk_smoother_node", "policy_node",
                      "mock_hardware_node", "robot_interface_node"), r"silent|stale|gone"),
    "estop_at": (("wrist_ik_node", "hand_retarget_node"), r"e-stop"),
}


def detection(fault: Fault, t0: float, events: Sequence[DiagEvent]) -> tuple[float | None, str]:
    """Seconds from injection (wall time ``t0``) to the first status that reports it, and that status."""
    signal = SIGNALS.get(fault.name)
    if signal is None:
        return None, ""
    nodes, pattern = signal
    rx = re.compile(pattern)
    for e in sorted(events, key=lambda e: e.t):
        if e.t < t0 - 0.05 or e.level < WARN or not any(e.node.endswith(n) for n in nodes):
            continue
        if rx.search(e.message):
            return e.t - t0, f"{e.node}: {e.message}"
    return None, ""


def recovery(fault: Fault, t_end: float, events: Sequence[DiagEvent]) -> float | None:
    """Seconds from the fault's end until wrist_ik_node tracks again (None: not seen)."""
    for e in sorted(events, key=lambda e: e.t):
        if e.t >= t_end and e.node.endswith("wrist_ik_node") and e.message.startswith("tracking"):
            return max(0.0, e.t - t_end)
    return None


def held_during(t0: float, t1: float, events: Sequence[DiagEvent]) -> bool:
    """Whether a command node reported holding (or an e-stop) between ``t0`` and ``t1``."""
    return any(t0 <= e.t <= t1 + DETECT_WITHIN_S and ("holding" in e.message or "e-stop" in e.message)
               for e in events if e.node.endswith(("wrist_ik_node", "hand_retarget_node")))


def hold_ticks(t_stop: float, commands: Sequence[tuple[float, np.ndarray]], tol: float = 1e-12) -> int:
    """Ticks after ``t_stop`` until the commands froze: 0 = at once, 1 = one already in flight."""
    before = [q for t, q in commands if t < t_stop]
    seq = before[-1:] + [q for t, q in commands if t >= t_stop]
    moved = [i for i in range(1, len(seq)) if np.abs(seq[i] - seq[i - 1]).max() > tol]
    return moved[-1] if moved else 0


def must_recover(fault: Fault) -> bool:
    return fault.name in MUST_RECOVER
