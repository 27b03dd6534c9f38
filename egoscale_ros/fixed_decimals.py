"""Figures as text with fixed decimals, for every summary a person reads (demo, report).

``124.37665462493896`` reads as ``124.4``; a figure the run did not produce reads as ``missing``
rather than ``None``; integers and words pass through unchanged.
"""

from __future__ import annotations

from typing import Any


def fixed(value: Any, digits: int = 1, missing: str = "n/a") -> str:
    """``value`` with ``digits`` decimals if it is a float, ``missing`` if None, else ``str(value)``."""
    if value is None:
        return missing
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)
