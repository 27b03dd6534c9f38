"""A maker's DDS types as ROS 2 message types, so a recording can carry them as ROS 2 channels.

Unitree's DDS types follow the ROS 2 naming of DDS types: ``unitree_hg::msg::dds_::LowCmd_`` is
the DDS name of the ROS 2 message ``unitree_hg/msg/LowCmd``, and ``rt/lowstate`` is the DDS name
of the ROS 2 topic ``/lowstate`` (Unitree's own ROS 2 packages read them so). Their samples on
the wire are plain little-endian CDR (XCDR1, final structs), which is what a ROS 2 MCAP channel
with ``cdr`` encoding holds. So a native sample is recorded byte for byte, under its ROS 2 topic
and type name, with a ``ros2msg`` schema written here from the IDL dataclass itself: ``ros2 bag``,
``rosbags``, ``mcap-ros2-support`` and Foxglove decode it like any other ROS 2 message, without
Unitree's packages installed.
"""

from __future__ import annotations

import typing
from dataclasses import fields
from functools import cache

from egoscale_ros.recording.msgdefs import SEPARATOR

# IDL primitive annotation -> ros2msg primitive (same names, except IDL's octet/char spellings)
_PRIMITIVES = {"uint8": "uint8", "int8": "int8", "uint16": "uint16", "int16": "int16", "uint32": "uint32",
               "int32": "int32", "uint64": "uint64", "int64": "int64", "float32": "float32",
               "float64": "float64", "byte": "byte", "char": "char", "bool": "bool"}
DDS_TOPIC_PREFIX = "rt/"


def ros_type_name(idl_type: type) -> str:
    """``unitree_hg.msg.dds_.LowCmd_`` (the IDL type's DDS name) -> ``unitree_hg/msg/LowCmd``."""
    dds_name = idl_type.__idl_typename__.replace("::", ".")
    parts = dds_name.split(".")
    if len(parts) == 4 and parts[1] == "msg" and parts[2] == "dds_" and parts[3].endswith("_"):
        return f"{parts[0]}/msg/{parts[3][:-1]}"
    raise ValueError(f"{dds_name} is not a ROS 2 style DDS type name (package.msg.dds_.Name_)")


def ros_topic(dds_topic: str) -> str:
    """``rt/dex3/left/cmd`` -> ``/dex3/left/cmd`` (``rt/`` marks a ROS 2 topic in DDS)."""
    name = dds_topic[len(DDS_TOPIC_PREFIX):] if dds_topic.startswith(DDS_TOPIC_PREFIX) else dds_topic
    return "/" + name.strip("/")


def _field_type(hint, package: str) -> tuple[str, type | None]:
    """(ros2msg spelling of one field's type, the nested IDL struct it uses or None)."""
    args = typing.get_args(hint)
    if not args:  # a nested struct
        return _short_name(hint, package), hint
    spec = args[1]
    if isinstance(spec, str):
        if spec not in _PRIMITIVES:
            raise TypeError(f"IDL primitive {spec!r} has no ROS 2 counterpart")
        return _PRIMITIVES[spec], None
    kind = type(spec).__name__
    if kind in ("array", "sequence"):
        element, nested = _field_type(spec.subtype, package)
        if kind == "array":
            return f"{element}[{spec.length}]", nested
        bound = f"<={spec.max_length}" if spec.max_length else ""
        return f"{element}[{bound}]", nested
    raise TypeError(f"unsupported IDL field type {hint!r}")


def _short_name(idl_type: type, package: str) -> str:
    pkg, _, name = ros_type_name(idl_type).split("/")
    return name if pkg == package else f"{pkg}/{name}"


def _msg_text(idl_type: type) -> tuple[str, list[type]]:
    package = ros_type_name(idl_type).split("/")[0]
    hints = typing.get_type_hints(idl_type, include_extras=True)
    lines, nested = [], []
    for f in fields(idl_type):
        spelled, sub = _field_type(hints[f.name], package)
        lines.append(f"{spelled} {f.name}")
        if sub is not None and sub not in nested:
            nested.append(sub)
    return "\n".join(lines), nested


@cache
def message_definition(idl_type: type) -> str:
    """The full ``ros2msg`` schema of ``idl_type``: its fields, then each nested type after a
    separator line and ``MSG: package/Type`` (the layout ``ros2 bag`` writes)."""
    text, queue = _msg_text(idl_type)
    parts, seen = [text], {idl_type}
    while queue:
        sub = queue.pop(0)
        if sub in seen:
            continue
        seen.add(sub)
        sub_text, more = _msg_text(sub)
        pkg, _, name = ros_type_name(sub).split("/")
        parts.append(f"{SEPARATOR}\nMSG: {pkg}/{name}\n{sub_text}")
        queue.extend(m for m in more if m not in seen)
    return "\n".join(parts) + "\n"
