"""Fault specifications: ``camera_stall:2,chunk_nan`` -> a schedule of :class:`Fault` objects.

Each fault class names what it does to the running graph, the kind of its argument, and how the
stack must show it on ``/diagnostics`` (which node, a word of its status message, how soon).
Faults start ``start_s`` into the measurement window; a fault with a duration ends after it (the
graph must then recover), an event happens once (or repeats while it lasts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# name -> (argument kind, default argument, help)
#   seconds / ms / fraction / node / none
CLASSES: dict[str, tuple[str, object, str]] = {
    "camera_stall": ("seconds", 2.0, "the camera process stops for S s (SIGSTOP), then continues"),
    "camera_garbage": ("none", None, "a second publisher sends undecodable images on the camera topic"),
    "joint_states_drop": ("fraction", 0.5, "a fraction P of joint_states messages is lost"),
    "joint_states_delay": ("ms", 300.0, "joint_states arrive MS late (their stamps unchanged)"),
    "joint_states_foreign": ("none", None, "a second joint_states publisher with other values"),
    "chunk_nan": ("none", None, "chunks with NaN values from a second publisher"),
    "chunk_future": ("seconds", 10.0, "a chunk stamped S s in the future"),
    "chunk_names_shuffled": ("none", None, "hand chunks with their joint names (and columns) reordered"),
    "policy_slow": ("ms", 300.0, "the policy process is paused MS ms in every cycle"),
    "policy_kill": ("none", None, "the policy process is killed (SIGKILL) and stays dead"),
    "node_restart": ("node", "wrist_ik_node", "a node is killed and started again"),
    "estop_at": ("seconds", 2.0, "an e-stop from a volatile publisher S s into the window"),
    "sigint_at": ("seconds", 3.0, "SIGINT to the demo S s into the window"),
}
# Faults whose end the graph must recover from without restarting the rest.
MUST_RECOVER = ("camera_stall", "policy_slow", "node_restart")
# When the stack must have shown a fault on /diagnostics.
DETECT_WITHIN_S = 0.5


class FaultSpecError(ValueError):
    """An ``--inject`` list that names an unknown fault or a bad argument."""


@dataclass(frozen=True)
class Fault:
    name: str
    arg: float | str | None
    start_s: float  # into the measurement window
    duration_s: float  # 0 for a one-off event

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def label(self) -> str:
        return self.name if self.arg is None else f"{self.name}:{self.arg:g}" if isinstance(
            self.arg, float) else f"{self.name}:{self.arg}"


def parse_faults(text: str, window_s: float, nodes: list[str] | tuple[str, ...] = ()) -> list[Fault]:
    """Parse ``FAULT[:ARG][,FAULT[:ARG]…]`` for a window of ``window_s`` seconds.

    Faults start at a quarter of the window (at most 3 s in); a fault without a duration of its
    own lasts a third of the window (at most 4 s), so recovery is seen before the window ends.
    ``estop_at``/``sigint_at`` happen at their own time. ``nodes``: the graph's node names, for
    ``node_restart``.
    """
    if not text.strip():
        return []
    start = min(3.0, window_s / 4.0)
    span = min(4.0, window_s / 3.0)
    out: list[Fault] = []
    for item in (p.strip() for p in text.split(",")):
        name, _, raw = item.partition(":")
        if name not in CLASSES:
            raise FaultSpecError(f"--inject: unknown fault '{name}' (known: {', '.join(CLASSES)})")
        kind, default, _ = CLASSES[name]
        arg = _argument(name, kind, raw, default, nodes)
        if any(f.name == name for f in out):
            raise FaultSpecError(f"--inject: '{name}' given twice")
        if name in ("estop_at", "sigint_at"):
            if arg >= window_s:
                raise FaultSpecError(f"--inject {name}:{arg:g}: must lie inside the {window_s:g} s window")
            out.append(Fault(name, arg, float(arg), 0.0))
        elif name == "camera_stall":
            out.append(Fault(name, arg, start, float(arg)))
        elif name in ("policy_kill", "node_restart"):
            out.append(Fault(name, arg, start, 0.0))
        else:
            out.append(Fault(name, arg, start, span))
    return out


def _argument(name: str, kind: str, raw: str, default, nodes) -> float | str | None:
    if kind == "none":
        if raw:
            raise FaultSpecError(f"--inject {name}: takes no argument (got '{raw}')")
        return None
    if kind == "node":
        node = raw or str(default)
        if nodes and node not in nodes:
            raise FaultSpecError(f"--inject {name}:{node}: not a node of this graph ({', '.join(nodes)})")
        return node
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise FaultSpecError(f"--inject {name}:{raw}: not a number") from None
    if not math.isfinite(value) or value < 0 or (kind == "fraction" and value > 1) or (
            kind != "fraction" and value == 0):
        bounds = "in [0, 1]" if kind == "fraction" else "a positive number"
        raise FaultSpecError(f"--inject {name}:{raw}: must be {bounds}")
    return value
