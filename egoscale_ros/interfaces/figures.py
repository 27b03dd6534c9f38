"""The demo's figures of the robot's side: what the maker's topics received, feedback rates,
and what the native mocks refused (``native_errors``), including the hand-back at stop.

Reads a running graph through a monitor (counters on ``/diagnostics``) and, after the stop, the
report each native mock prints as its last line; no rclpy import here.
"""

from __future__ import annotations

import json
from typing import Any

from egoscale_ros.interfaces import registry

REPORT_PREFIX = "NATIVE_REPORT "


def _mock_of(output) -> str:
    return registry.OUTPUTS[output.type].mock


def command_counts(plan, monitor, counts: dict[str, int], elapsed: float) -> tuple[dict, dict]:
    """Commands per controller output over the window, keyed by the topic the robot receives.

    ROS outputs are counted by the monitor itself; a maker's interface by the mock at its far side
    (what arrived there, e.g. on ``rt/arm_sdk``).
    """
    published, rates = {}, {}
    for c in plan.robot.controllers:
        if c.is_ros:
            n = counts.get(c.ros_topic, 0)
            published[c.topic], rates[c.topic] = n, round(n / elapsed, 2) if elapsed else 0.0
        else:
            n, rate = monitor.counter_rate(_mock_of(c), f"received {c.topic}")
            published[c.topic], rates[c.topic] = n, round(rate, 2)
    return published, rates


def native_figures(plan, monitor) -> dict[str, Any]:
    """``feedback_rate_hz`` per feedback topic and ``native_errors`` seen by the mocks so far."""
    out: dict[str, Any] = {}
    if plan.robot.feedback:
        values = monitor.node_diagnostics("robot_interface_node")
        out["feedback_rate_hz"] = {s.topic: _number(values.get(f"feedback {s.name} rate_hz"))
                                   for s in plan.robot.feedback}
        out["feedback_rejected"] = {s.topic: int(_number(values.get(f"feedback {s.name} rejected")) or 0)
                                    for s in plan.robot.feedback}
    mocks = sorted({_mock_of(c) for c in plan.robot.adapter_outputs})
    if mocks:
        errors = [_number(monitor.node_diagnostics(m).get("native_errors")) for m in mocks]
        out["native_errors"] = int(sum(e for e in errors if e is not None)) if all(e is not None for e in errors) \
            else None
    return out


def native_reports(processes) -> dict[str, Any]:
    """The final reports of the native mocks (after the stop: the hand-back judged too)."""
    reports = {}
    for p in processes:
        try:
            lines = p.log_path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        found = [ln for ln in lines if ln.startswith(REPORT_PREFIX)]
        if found:
            reports[p.spec.name] = json.loads(found[-1][len(REPORT_PREFIX):])
    if not reports:
        return {}
    return {"native_errors": sum(r["native_errors"] for r in reports.values()), "native_reports": reports}


def _number(text) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
