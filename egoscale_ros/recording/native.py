"""The maker's native messages of a robot, for recording them and reading them back as joints.

Which native topics a robot has comes from its config, through the same adapters the robot
interface uses: each controller output and feedback source that speaks the maker's DDS names its
topic and IDL type. A recorder takes their samples as the serialized bytes DDS delivered (see
:mod:`.native_schema` for why those bytes are a valid ROS 2 message); a report turns them back into
joint positions: commands through the output's motor layout, feedback through the very decoder
the robot interface runs (CRC checked, names mapped), so the plots show what reached the robot
and what it measured, in URDF joint names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from egoscale_ros.interfaces import registry
from egoscale_ros.interfaces.base import DDS, Rejected, RosJointState
from egoscale_ros.recording.native_schema import message_definition, ros_topic, ros_type_name

CDR_LE = b"\x00\x01"  # XCDR1 little-endian encapsulation: what a ROS 2 cdr channel holds


@dataclass(frozen=True)
class NativeChannel:
    """One native DDS topic and how it is recorded."""

    dds_topic: str  # e.g. rt/lowstate
    idl_type: type
    topic: str  # the recorded ROS 2 topic, e.g. /lowstate
    type_name: str  # e.g. unitree_hg/msg/LowState

    @property
    def definition(self) -> str:
        return message_definition(self.idl_type)


def native_channels(config) -> list[NativeChannel]:
    """Every DDS topic of ``config``'s outputs and feedback sources (none for a ROS-only robot)."""
    found: dict[str, type] = {}
    for out in config.adapter_outputs:
        adapter = registry.output_adapter(out, config)
        if adapter.transport == DDS:
            found.update({t: ty for t, ty in adapter.topics().items() if ty is not None})
    for src in config.feedback:
        decoder = registry.feedback_decoder(src, config)
        if decoder.transport == DDS and decoder.message_type() is not None:
            found[src.topic] = decoder.message_type()
    return [NativeChannel(t, ty, ros_topic(t), ros_type_name(ty)) for t, ty in found.items()]


def as_ros2_cdr(data: bytes, idl_type: type) -> bytes:
    """A sample's serialized bytes as a ROS 2 ``cdr`` message: as delivered when they are XCDR1
    little-endian (Unitree's and this binding's encoding of final structs), else re-encoded."""
    if bytes(data[:2]) == CDR_LE:
        return bytes(data)
    return idl_type.deserialize(bytes(data)).serialize(use_version_2=False)


def take_serialized(reader, limit: int = 256) -> list[tuple[bytes, int]]:
    """``(serialized sample, source timestamp ns)`` of every valid sample waiting on a Cyclone DDS
    reader, without decoding them (a 500 Hz state stream would cost a core to decode and encode
    again). Uses the binding's C-layer take, which its own ``take`` is built on."""
    from cyclonedds._clayer import ddspy_take
    from cyclonedds.core import InstanceState, SampleState, ViewState

    taken = ddspy_take(reader._ref, SampleState.Any | ViewState.Any | InstanceState.Any, limit)
    if isinstance(taken, int):
        raise OSError(f"take failed on {reader}: DDS return code {taken}")
    return [(bytes(data), int(info.source_timestamp)) for data, info in taken if info.valid_data]


# --- reading back --------------------------------------------------------------------------------

def decode_sample(data: bytes, idl_type: type) -> Any:
    """A recorded native message (ROS 2 cdr bytes) back into its IDL dataclass."""
    return idl_type.deserialize(bytes(data))


def command_positions(adapter, sample: Any) -> dict[str, float]:
    """Joint positions a native command carried, in URDF names (its output's joints).

    unitree_hg arm_sdk / unitree_go lowcmd: ``motor_cmd[motor_index[k]].q``; Dex3: the 7 motors
    in the joints' order; Inspire: the 12 normalised slots mapped back to angles.
    """
    joints = adapter.output.joints
    if hasattr(sample, "motor_cmd"):
        cmds = sample.motor_cmd
        index = getattr(adapter, "motor_index", range(len(joints)))
        if len(cmds) <= max(index, default=-1):
            return {}
        return {j: float(cmds[i].q) for j, i in zip(joints, index)}
    if hasattr(sample, "cmds") and hasattr(adapter, "ranges"):
        from egoscale_ros.interfaces.unitree import denormalise

        return {j: denormalise(float(c.q), lo, hi) for j, c, (lo, hi) in zip(joints, sample.cmds, adapter.ranges)}
    return {}


def blend_weight(adapter, sample: Any) -> float | None:
    """The arm_sdk blend weight a command carried (None for an output without one)."""
    index = getattr(adapter, "blend_index", None)
    if index is None or not hasattr(sample, "motor_cmd"):
        return None
    return float(sample.motor_cmd[index].q)


def ros_command_positions(output, msg: Any) -> dict[str, float]:
    """Positions of a maker's ROS JointState command (Galaxea, Sharpa): read by index in the
    output's joint order, as those controllers do (their names may be absent or unprefixed)."""
    positions = [float(p) for p in msg.position]
    if len(positions) != len(output.joints):
        return {}
    return dict(zip(output.joints, positions))


def feedback_positions(decoder, message: Any) -> dict[str, float]:
    """Measured joints of one feedback message through the robot interface's own decoder;
    {} for a message it refuses (bad CRC, wrong length, NaN), as the robot interface does."""
    if decoder.transport != DDS:  # a decoded ROS JointState: hand it over as the shell would
        message = RosJointState(tuple(message.name), tuple(float(p) for p in message.position))
    try:
        sample = decoder.decode(message)
    except (Rejected, ValueError, IndexError):
        return {}
    return {j: v for j, v in sample.position.items() if math.isfinite(v)}


def recorded_topic(dds_or_ros_topic: str, transport: str) -> str:
    """Where a maker's topic is in a recording: a DDS topic under its ROS 2 name, a ROS topic as is."""
    return ros_topic(dds_or_ros_topic) if transport == DDS else dds_or_ros_topic


Samples = list[tuple[int, dict[str, float]]]


def native_topics(config) -> list[str]:
    """Where ``config``'s maker's topics (outputs, then feedback) are in a recording."""
    topics = [recorded_topic(o.topic, registry.output_class(o.type).transport) for o in config.adapter_outputs]
    topics += [recorded_topic(s.topic, registry.feedback_class(s.type).transport) for s in config.feedback]
    return list(dict.fromkeys(topics))


def read_native(rec, config) -> tuple[dict[str, Samples], dict[str, Samples]]:
    """From a recording (:class:`.reader.Recording`): per output topic the positions its native
    commands carried, and per feedback topic the measured joints, as ``(log_ns, positions)``.
    Topics the recording lacks are left out (an older recording, a ROS-only robot)."""
    commands: dict[str, Samples] = {}
    for out in config.adapter_outputs:
        adapter = registry.output_adapter(out, config)
        idl_type = adapter.topics().get(out.topic)
        topic = rec.topic(recorded_topic(out.topic, adapter.transport))
        if topic is None:
            continue
        if adapter.transport == DDS and idl_type is not None:
            samples = [(t, command_positions(adapter, decode_sample(d, idl_type))) for t, d in rec.serialized(topic)]
        else:
            samples = [(t, ros_command_positions(out, m)) for t, m in rec.decode(topic)]
        commands[topic] = [(t, p) for t, p in samples if p]
    feedback: dict[str, Samples] = {}
    for src in config.feedback:
        decoder = registry.feedback_decoder(src, config)
        topic = rec.topic(recorded_topic(src.topic, decoder.transport))
        if topic is None:
            continue
        if decoder.transport == DDS:
            samples = [(t, feedback_positions(decoder, decode_sample(d, decoder.message_type())))
                       for t, d in rec.serialized(topic)]
        else:
            samples = [(t, feedback_positions(decoder, m)) for t, m in rec.decode(topic)]
        feedback[topic] = [(t, p) for t, p in samples if p]
    return commands, feedback
