"""The precompiled CDR codec writes exactly the bytes the Cyclone DDS binding writes, and reads
them back to the values the binding reads, for every Unitree message type on the wire."""

import random
import typing
from dataclasses import dataclass, field, fields

import pytest

pytest.importorskip("cyclonedds")

from cyclonedds.idl import IdlStruct
from cyclonedds.idl.annotations import final
from cyclonedds.idl.types import sequence

from egoscale_ros.interfaces import unitree_idl as idl
from egoscale_ros.interfaces.cdr_codec import Unsupported, decode, encode, install


@final
@dataclass
class _Inner(IdlStruct, typename="test.cdr_codec.Inner"):
    values: sequence[idl.HgMotorCmd] = field(default_factory=list)


@final
@dataclass
class _Outer(IdlStruct, typename="test.cdr_codec.Outer"):
    inner: _Inner = field(default_factory=_Inner)


WIRE_TYPES = [idl.HgLowCmd, idl.HgLowState, idl.HgHandCmd, idl.HgHandState, idl.GoLowCmd, idl.GoLowState,
              idl.GoMotorCmds, idl.GoMotorStates]

_RANGES = {"uint8": (0, 255), "int8": (-128, 127), "uint16": (0, 65535), "int16": (-32768, 32767),
           "uint32": (0, 2**32 - 1), "int32": (-(2**31), 2**31 - 1)}


def _random_value(hint, rng: random.Random):
    args = typing.get_args(hint)
    if args and isinstance(args[1], str):
        if args[1] in ("float32", "float64"):
            return rng.uniform(-10.0, 10.0)
        return rng.randint(*_RANGES[args[1]])
    kind = type(args[1]).__name__ if args else ""
    if kind == "array":
        return [_random_value(args[1].subtype, rng) for _ in range(args[1].length)]
    if kind == "sequence":
        return [_random_value(args[1].subtype, rng) for _ in range(rng.randint(0, 12))]
    return _random_struct(hint, rng)


def _random_struct(cls, rng: random.Random):
    hints = typing.get_type_hints(cls, include_extras=True)
    return cls(**{f.name: _random_value(hints[f.name], rng) for f in fields(cls)})


def _binding_bytes(value) -> bytes:
    return IdlStruct.serialize(value)


def _binding_value(cls, data: bytes):
    return IdlStruct.deserialize.__func__(cls, data)


@pytest.mark.parametrize("cls", WIRE_TYPES, ids=lambda c: c.__name__)
def test_bytes_and_values_match_the_binding_for_random_messages(cls):
    rng = random.Random(cls.__name__)
    for _ in range(20):
        value = _random_struct(cls, rng)
        data = _binding_bytes(value)
        assert encode(value) == data
        assert value.serialize() == data  # what DataWriter.write calls
        assert decode(cls, data) == _binding_value(cls, data)
        assert cls.deserialize(data) == _binding_value(cls, data)  # what DataReader.take calls


def test_empty_and_long_sequences_round_trip():
    for n in (0, 1, 7, 40):
        value = idl.HgHandState(motor_state=[idl.HgMotorState(q=float(i)) for i in range(n)],
                                press_sensor_state=[idl.HgPressSensorState(lost=i) for i in range(n // 2)])
        assert decode(idl.HgHandState, encode(value)) == value


def test_what_the_codec_does_not_compile_goes_to_the_binding():
    value = _random_struct(idl.HgLowCmd, random.Random(1))
    v2 = value.serialize(use_version_2=True)
    assert v2 == IdlStruct.serialize(value, use_version_2=True)
    assert idl.HgLowCmd.deserialize(v2) == _binding_value(idl.HgLowCmd, v2)


def test_a_truncated_message_is_refused_with_its_type_named():
    data = encode(idl.HgLowState())
    with pytest.raises(ValueError, match="HgLowState"):
        idl.HgLowState.deserialize(data[:-40])


def test_a_wrong_length_array_is_refused_with_its_type_named():
    cmd = idl.HgLowCmd()
    cmd.reserve = [0, 0, 0]
    with pytest.raises(ValueError, match="HgLowCmd"):
        cmd.serialize()


def test_a_sequence_inside_a_struct_is_refused_at_install():
    with pytest.raises(Unsupported):
        install(_Outer)


def test_a_sequence_longer_than_its_message_is_refused():
    data = bytearray(encode(idl.HgHandCmd(motor_cmd=[idl.HgMotorCmd()])))
    data[4:8] = (10**6).to_bytes(4, "little")
    with pytest.raises(ValueError, match="HgHandCmd"):
        idl.HgHandCmd.deserialize(bytes(data))
