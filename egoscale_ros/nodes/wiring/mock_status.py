"""What the native mock robot nodes share: the ``place`` parameter, diagnostics (what the mock
received, refused and why) and the final report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus

from egoscale_ros.interfaces.figures import REPORT_PREFIX


def report_values(report: dict[str, Any]) -> dict[str, Any]:
    """Key/values of a mock's report (MockUnitree / MockRosRobot ``report()``)."""
    values: dict[str, Any] = {"native_errors": report["native_errors"], "last_error": report["last_error"] or "none"}
    values.update({f"received {t}": n for t, n in report["received"].items()})
    values.update({f"refused {t}": n for t, n in report["refused"].items()})
    values.update({f"error {k}": n for k, n in report["errors"].items()})
    return values


def level(mock) -> tuple[int, str]:
    """WARN while the mock has refused commands (naming the last refusal), else OK."""
    if mock.native_errors():
        return DiagnosticStatus.WARN, f"refused commands: {mock.last_error}"
    return DiagnosticStatus.OK, "ok"


def hand_in(report: dict[str, Any], path: str = "") -> None:
    """The mock's final report: to ``path`` as JSON when one is given, and as the last line of its
    output, which the demo reads."""
    if path:
        Path(path).write_text(json.dumps(report, indent=2))
    print(REPORT_PREFIX + json.dumps(report), flush=True)


def parse_place(text: str) -> tuple[str, float] | None:
    """Parameter ``place`` ("joint=value": report that joint there) as (joint, value); '' = none."""
    if not text:
        return None
    name, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"parameter place: expected 'joint=value', got '{text}'")
    return name.strip(), float(value)
