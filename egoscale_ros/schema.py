"""The one strict reader of the project's YAML files: robot configs, hand configs, policy manifests.

Every config module builds its typed dataclasses through :class:`Fields`, so every file is held to
the same rules: an unknown key is refused with its path (``g1_dex3.yaml.arms.left: unknown
field(s) ee_frmae``), a value of the wrong type names the field and the file, and
:func:`load_yaml` refuses a mapping that states a key twice, naming both lines (plain
``yaml.safe_load`` silently keeps the last one).

Facts more than one schema needs (the sides, the supported hand types) are defined here, once.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

SIDES = ("left", "right")
HAND_TYPES = ("sharpa_wave", "dex3", "inspire")


class ConfigError(ValueError):
    """A config file that is malformed or disagrees with what it refers to (message names file and field)."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys in a mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in first_line:
            raise ConfigError(
                f"{loader.name}: duplicate key '{key}' at lines {first_line[key]} and {line}"
            )
        first_line[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, name: str, error: type[ConfigError] = ConfigError) -> Any:
    """Parse YAML ``text`` (``name`` labels errors), refusing duplicate keys."""
    loader = _StrictLoader(text)
    loader.name = name
    try:
        return loader.get_single_data()
    except ConfigError as exc:
        raise error(str(exc)) from exc
    except yaml.YAMLError as exc:
        raise error(f"{name}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def load_yaml(path: str | Path, error: type[ConfigError] = ConfigError) -> Any:
    """Read and parse a YAML file strictly; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc}") from exc
    return parse_yaml(text, path.name, error)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)


class Fields:
    """Strict typed access to one YAML mapping at path ``where``; :meth:`done` refuses unread keys.

    ``error`` is the ConfigError subclass raised, so callers keep their own exception type.
    """

    def __init__(self, data: Any, where: str, error: type[ConfigError] = ConfigError):
        if not isinstance(data, dict):
            raise error(f"{where}: expected a mapping, got {type(data).__name__}")
        self.data, self.where, self.error, self.seen = data, where, error, set()

    def get(self, key: str, kind: type | tuple[type, ...] | None = None, default: Any = None,
            required: bool = False) -> Any:
        """``data[key]`` checked against ``kind`` (a float field takes ints and must be finite)."""
        self.seen.add(key)
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.error(f"{self.where}.{key}: missing (required)")
            return default
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise self.error(f"{self.where}.{key}: expected a finite number, got {value!r}")
            return float(value)
        if kind is int and isinstance(value, bool):
            raise self.error(f"{self.where}.{key}: expected int, got {value!r}")
        if kind is not None and not isinstance(value, kind):
            raise self.error(f"{self.where}.{key}: expected {_kind_name(kind)}, got {value!r}")
        return value

    def req(self, key: str, kind: type | tuple[type, ...] | None = None) -> Any:
        return self.get(key, kind, required=True)

    def opt(self, key: str, kind: type | tuple[type, ...] | None = None, default: Any = None) -> Any:
        return self.get(key, kind, default)

    def number(self, key: str, default: float, low: float = -math.inf, high: float = math.inf) -> float:
        value = self.get(key, float, default)
        if not low <= value <= high:
            raise self.error(f"{self.where}.{key}: must be in [{low}, {high}], got {value}")
        return value

    def positive(self, key: str, default: float) -> float:
        value = self.get(key, float, default)
        if value <= 0:
            raise self.error(f"{self.where}.{key}: must be > 0, got {value}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.get(key, str, default, required=default is None)
        if value not in choices:
            raise self.error(f"{self.where}.{key}: '{value}' is not one of {', '.join(choices)}")
        return value

    def sub(self, key: str, required: bool = False) -> Fields:
        return Fields(self.get(key, dict, {}, required), f"{self.where}.{key}", self.error)

    def items(self, key: str) -> list[Fields]:
        """A list of mappings, each as Fields at ``where.key[i]``."""
        return [Fields(v, f"{self.where}.{key}[{i}]", self.error) for i, v in enumerate(self.get(key, list, []))]

    def names(self, key: str, required: bool = True) -> tuple[str, ...]:
        value = self.get(key, list, [], required)
        if not all(isinstance(v, str) and v for v in value):
            raise self.error(f"{self.where}.{key}: expected a list of names, got {value!r}")
        if len(set(value)) != len(value):
            raise self.error(f"{self.where}.{key}: duplicate names in {value!r}")
        return tuple(value)

    def vector(self, key: str, n: int, default: Any = None) -> tuple[float, ...]:
        value = self.get(key, list, default, default is None)
        try:
            out = tuple(float(v) for v in value)
        except (TypeError, ValueError) as exc:
            raise self.error(f"{self.where}.{key}: expected {n} numbers, got {value!r}") from exc
        if len(out) != n or not all(math.isfinite(v) for v in out):
            raise self.error(f"{self.where}.{key}: expected {n} finite numbers, got {value!r}")
        return out

    def done(self) -> None:
        extra = sorted(str(k) for k in set(self.data) - self.seen)
        if extra:
            raise self.error(f"{self.where}: unknown field(s) {', '.join(extra)}")
