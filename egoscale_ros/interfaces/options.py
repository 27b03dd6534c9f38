"""Typed reading of one output's or feedback source's ``options`` (every adapter's settings).

Each reader marks its key as seen; :meth:`Options.done` then refuses what no reader asked for, so a
misspelt option fails at start instead of being ignored. Every error names the config file, the
owner and the field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


class Options:
    """The ``options`` of ``owner`` (an output or a feedback source of ``config``), read by type."""

    def __init__(self, owner, config, what: str = "controller"):
        from egoscale_ros.schema import ConfigError

        self._error = ConfigError
        self.data = dict(owner.options)
        self.where = f"{config.path.name}: {what} '{owner.name}'.options"
        self.n = len(owner.joints)
        self.seen: set[str] = set()

    def fail(self, key: str, text: str) -> Exception:
        return self._error(f"{self.where}.{key}: {text}")

    def flag(self, key: str, default: bool) -> bool:
        self.seen.add(key)
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def number(self, key: str, default: float | None = None, lo: float = -math.inf, hi: float = math.inf) -> float:
        """A finite number in [lo, hi]; required when ``default`` is None."""
        self.seen.add(key)
        value = self.data.get(key, default)
        if value is None:
            raise self.fail(key, "missing (required)")
        if not _is_number(value):
            raise self.fail(key, f"expected a number, got {value!r}")
        if not lo <= value <= hi:
            raise self.fail(key, f"must be in [{lo}, {hi}], got {value}")
        return float(value)

    def integer(self, key: str, default: int | None = None, lo: int = 0, hi: int = 255) -> int:
        value = self.number(key, default, lo, hi)
        if value != int(value):
            raise self.fail(key, f"expected an integer, got {value}")
        return int(value)

    def numbers(self, key: str, n: int | None = None, default: Sequence[float] | None = None,
                lo: float = -math.inf, hi: float = math.inf) -> list[float]:
        """A list of ``n`` numbers (default: one per joint); a single number is repeated."""
        self.seen.add(key)
        n = self.n if n is None else n
        value = self.data.get(key, default)
        if value is None:
            raise self.fail(key, "missing (required)")
        values = self._per_joint(key, value, n, f"{n} numbers")
        if not all(_is_number(v) and lo <= v <= hi for v in values):
            raise self.fail(key, f"every value must be a number in [{lo}, {hi}], got {value!r}")
        return [float(v) for v in values]

    def positive_per_joint(self, key: str) -> tuple[float, ...] | None:
        """None when absent; else one value per joint (a single number is repeated), each > 0."""
        self.seen.add(key)
        value = self.data.get(key)
        if value is None:
            return None
        values = self._per_joint(key, value, self.n, f"a number or {self.n} numbers")
        if not all(_is_number(v) and v > 0 for v in values):
            raise self.fail(key, f"every value must be a positive number (a speed, never signed), got {value!r}")
        return tuple(float(v) for v in values)

    def indices(self, key: str, n: int | None, limit: int, default: Sequence[int] | None = None) -> list[int]:
        """``n`` distinct motor indices in [0, limit)."""
        values = self.numbers(key, n, default, 0, limit - 1)
        if any(v != int(v) for v in values):
            raise self.fail(key, f"expected motor indices, got {values}")
        ints = [int(v) for v in values]
        if len(set(ints)) != len(ints):
            raise self.fail(key, f"duplicate motor indices {ints}")
        return ints

    def _per_joint(self, key: str, value, n: int, expected: str) -> list:
        """``value`` as a list of ``n`` items; a single number stands for ``n`` copies of itself."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return [value] * n
        if not isinstance(value, list) or len(value) != n:
            raise self.fail(key, f"expected {expected}, got {value!r}")
        return value

    def done(self) -> None:
        extra = sorted(set(self.data) - self.seen)
        if extra:
            raise self._error(f"{self.where}: unknown field(s) {', '.join(extra)}")


def _is_number(value) -> bool:
    """A finite int or float (YAML's true/false are bools, not numbers)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
