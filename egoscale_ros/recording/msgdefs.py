"""ROS 2 message definitions in the ``ros2msg`` schema encoding that MCAP files carry.

A reader of an MCAP file decodes each channel with the schema stored in the file, so the file
must hold the full definition of every recorded type: the type's ``.msg`` text, then the text of
every type it uses, each after a line of 80 ``=`` and ``MSG: package/Type`` (the layout
``ros2 bag`` writes). The ``.msg`` files come from the installed message packages
(``share/<package>/msg``, found through ``AMENT_PREFIX_PATH`` or this Python's prefix).
"""

from __future__ import annotations

import os
import re
import sys
from functools import cache
from pathlib import Path

SEPARATOR = "=" * 80
PRIMITIVES = frozenset({
    "bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
    "uint32", "int64", "uint64", "string", "wstring",
})
_FIELD = re.compile(r"^\s*([A-Za-z0-9_/]+)(?:<=\d+)?(?:\[[^\]]*\])?\s+([A-Za-z0-9_]+)")


class MessageDefinitionNotFound(LookupError):
    """No ``.msg`` file for a type in any installed share directory."""


def split_type(type_name: str) -> tuple[str, str]:
    """``sensor_msgs/msg/Image`` or ``sensor_msgs/Image`` -> (``sensor_msgs``, ``Image``)."""
    parts = type_name.split("/")
    if len(parts) == 3 and parts[1] == "msg":
        return parts[0], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError(f"not a ROS 2 message type name: {type_name!r} (expected package/msg/Type)")


def share_roots() -> list[Path]:
    roots = [Path(p) / "share" for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    roots.append(Path(sys.prefix) / "share")
    return roots


@cache
def msg_text(package: str, name: str) -> str:
    """The ``.msg`` text of ``package/name``; raises :class:`MessageDefinitionNotFound`."""
    for root in share_roots():
        path = root / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path.read_text()
    raise MessageDefinitionNotFound(
        f"no definition of {package}/msg/{name}: {package}/msg/{name}.msg is in none of "
        f"{[str(r) for r in share_roots()]}")


def dependencies(package: str, text: str) -> list[tuple[str, str]]:
    """Complex field types used by a ``.msg`` text, in order of appearance (constants are primitive)."""
    found: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        m = _FIELD.match(line)
        if m is None:
            continue
        base = m.group(1)
        if base in PRIMITIVES:
            continue
        dep = split_type(base) if "/" in base else (package, base)
        if dep not in found:
            found.append(dep)
    return found


@cache
def message_definition(type_name: str) -> str:
    """The full ``ros2msg`` schema text of ``type_name`` (e.g. ``sensor_msgs/msg/Image``)."""
    package, name = split_type(type_name)
    parts = [msg_text(package, name).rstrip("\n")]
    seen = {(package, name)}
    queue = dependencies(package, parts[0])
    while queue:
        dep = queue.pop(0)
        if dep in seen:
            continue
        seen.add(dep)
        text = msg_text(*dep).rstrip("\n")
        parts.append(f"{SEPARATOR}\nMSG: {dep[0]}/{dep[1]}\n{text}")
        queue.extend(d for d in dependencies(dep[0], text) if d not in seen)
    return "\n".join(parts) + "\n"
