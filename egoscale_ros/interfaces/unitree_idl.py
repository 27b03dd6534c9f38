"""Unitree's DDS message types, declared for the Cyclone DDS Python binding.

These are the plain IDL structs Unitree robots exchange (type names ``unitree_hg::msg::dds_::
LowCmd_`` etc.), written from their published field lists: unitree_hg for G1 / H1-2 (LowCmd,
LowState, Dex3 HandCmd / HandState), unitree_go for H1 (LowCmd, LowState) and for the Inspire
hand's ``MotorCmds_`` / ``MotorStates_``. All are XTypes *final* structs, as Unitree's are, so a
robot's C++ participants and these match on the wire. ``fixed_cdr.c_size`` gives the C layout
the CRC runs over (hg LowCmd 1004 bytes, go LowCmd 812).

The two packages repeat the same groups of fields (a motor command, the start of a motor state
and of an IMU state, unitree_go's frame header), so each group is written once below and each
struct lists its groups and its own fields, in wire order. :func:`_struct` makes the struct: a
dataclass whose fields all default to zero (an IMU quaternion to the identity).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any

from cyclonedds.idl import IdlStruct
from cyclonedds.idl.annotations import final
from cyclonedds.idl.types import array, float32, int8, int16, int32, sequence, uint8, uint16, uint32

from egoscale_ros.interfaces.cdr_codec import install

Fields = dict[str, Any]  # field name -> IDL type, in wire order


def _zero(hint) -> Any:
    """A field's default: zero, a list of zeros, a zeroed struct, an empty sequence."""
    if isinstance(hint, type):
        return field(default_factory=hint)
    kind = typing.get_args(hint)[1]
    if isinstance(kind, str):
        return 0.0 if kind.startswith("float") else 0
    if isinstance(kind, array):
        element = kind.subtype
        if isinstance(element, type):
            return field(default_factory=lambda: [element() for _ in range(kind.length)])
        zero = _zero(element)
        return field(default_factory=lambda: [zero] * kind.length)
    return field(default_factory=list)


def _struct(name: str, typename: str, *groups: Fields, defaults: dict[str, tuple] | None = None, **own: Any) -> type:
    """The final IDL struct ``typename`` (class ``name``): the fields of ``groups``, then ``own``;
    ``defaults`` replaces the zero default of a list field."""
    layout = {key: hint for fields in (*groups, own) for key, hint in fields.items()}

    def body(namespace: dict) -> None:
        namespace["__module__"] = __name__
        for key, hint in layout.items():
            namespace["__annotations__"][key] = hint
            value = (defaults or {}).get(key)
            namespace[key] = _zero(hint) if value is None else field(default_factory=lambda v=value: list(v))

    return final(dataclass(types.new_class(name, (IdlStruct,), {"typename": typename}, body)))


# --- groups both packages share ------------------------------------------------------------------

MOTOR_CMD: Fields = {"mode": uint8, "q": float32, "dq": float32, "tau": float32, "kp": float32, "kd": float32}
MOTOR_STATE: Fields = {"mode": uint8, "q": float32, "dq": float32, "ddq": float32, "tau_est": float32}
IMU_STATE: Fields = {"quaternion": array[float32, 4], "gyroscope": array[float32, 3],
                     "accelerometer": array[float32, 3], "rpy": array[float32, 3]}
IMU_IDENTITY = {"quaternion": (1.0, 0.0, 0.0, 0.0)}  # w, x, y, z: an IMU state at rest
GO_HEADER: Fields = {"head": array[uint8, 2], "level_flag": uint8, "frame_reserve": uint8,
                     "sn": array[uint32, 2], "version": array[uint32, 2], "bandwidth": uint16}

# --- unitree_hg (G1, H1-2, Dex3) -----------------------------------------------------------------

HgMotorCmd = _struct("HgMotorCmd", "unitree_hg.msg.dds_.MotorCmd_", MOTOR_CMD, reserve=uint32)
HgLowCmd = _struct("HgLowCmd", "unitree_hg.msg.dds_.LowCmd_", mode_pr=uint8, mode_machine=uint8,
                   motor_cmd=array[HgMotorCmd, 35], reserve=array[uint32, 4], crc=uint32)
HgImuState = _struct("HgImuState", "unitree_hg.msg.dds_.IMUState_", IMU_STATE, defaults=IMU_IDENTITY, temperature=int16)
HgMotorState = _struct("HgMotorState", "unitree_hg.msg.dds_.MotorState_", MOTOR_STATE,
                       temperature=array[int16, 2], vol=float32, sensor=array[uint32, 2], motorstate=uint32,
                       reserve=array[uint32, 4])
HgLowState = _struct("HgLowState", "unitree_hg.msg.dds_.LowState_", version=array[uint32, 2], mode_pr=uint8,
                     mode_machine=uint8, tick=uint32, imu_state=HgImuState, motor_state=array[HgMotorState, 35],
                     wireless_remote=array[uint8, 40], reserve=array[uint32, 4], crc=uint32)
HgHandCmd = _struct("HgHandCmd", "unitree_hg.msg.dds_.HandCmd_", motor_cmd=sequence[HgMotorCmd],
                    reserve=array[uint32, 4])
HgPressSensorState = _struct("HgPressSensorState", "unitree_hg.msg.dds_.PressSensorState_",
                             pressure=array[float32, 12], temperature=array[float32, 12], lost=uint32,
                             reserve=uint32)
HgHandState = _struct("HgHandState", "unitree_hg.msg.dds_.HandState_", motor_state=sequence[HgMotorState],
                      press_sensor_state=sequence[HgPressSensorState], imu_state=HgImuState, power_v=float32,
                      power_a=float32, system_v=float32, device_v=float32, error=array[uint32, 2],
                      reserve=array[uint32, 2])

# --- unitree_go (H1, Inspire hand) ---------------------------------------------------------------

GoMotorCmd = _struct("GoMotorCmd", "unitree_go.msg.dds_.MotorCmd_", MOTOR_CMD, reserve=array[uint32, 3])
GoBmsCmd = _struct("GoBmsCmd", "unitree_go.msg.dds_.BmsCmd_", off=uint8, reserve=array[uint8, 3])
GoLowCmd = _struct("GoLowCmd", "unitree_go.msg.dds_.LowCmd_", GO_HEADER, motor_cmd=array[GoMotorCmd, 20],
                   bms_cmd=GoBmsCmd, wireless_remote=array[uint8, 40], led=array[uint8, 12], fan=array[uint8, 2],
                   gpio=uint8, reserve=uint32, crc=uint32)
GoImuState = _struct("GoImuState", "unitree_go.msg.dds_.IMUState_", IMU_STATE, defaults=IMU_IDENTITY, temperature=int8)
GoMotorState = _struct("GoMotorState", "unitree_go.msg.dds_.MotorState_", MOTOR_STATE, q_raw=float32,
                       dq_raw=float32, ddq_raw=float32, temperature=int8, lost=uint32, reserve=array[uint32, 2])
GoBmsState = _struct("GoBmsState", "unitree_go.msg.dds_.BmsState_", version_high=uint8, version_low=uint8,
                     status=uint8, soc=uint8, current=int32, cycle=uint16, bq_ntc=array[int8, 2],
                     mcu_ntc=array[int8, 2], cell_vol=array[uint16, 15])
GoLowState = _struct("GoLowState", "unitree_go.msg.dds_.LowState_", GO_HEADER, imu_state=GoImuState,
                     motor_state=array[GoMotorState, 20], bms_state=GoBmsState, foot_force=array[int16, 4],
                     foot_force_est=array[int16, 4], tick=uint32, wireless_remote=array[uint8, 40],
                     bit_flag=uint8, adc_reel=float32, temperature_ntc1=int8, temperature_ntc2=int8,
                     power_v=float32, power_a=float32, fan_frequency=array[uint16, 4], reserve=uint32,
                     crc=uint32)
GoMotorCmds = _struct("GoMotorCmds", "unitree_go.msg.dds_.MotorCmds_", cmds=sequence[GoMotorCmd])
GoMotorStates = _struct("GoMotorStates", "unitree_go.msg.dds_.MotorStates_", states=sequence[GoMotorState])

# The message types on the wire (de)serialise through precompiled formats, not field by field.
for _message in (HgLowCmd, HgLowState, HgHandCmd, HgHandState, GoLowCmd, GoLowState, GoMotorCmds, GoMotorStates):
    install(_message)
