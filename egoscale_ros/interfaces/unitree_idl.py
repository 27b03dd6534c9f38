"""Unitree's DDS message types, declared for the Cyclone DDS Python binding.

These are the plain IDL structs Unitree robots exchange (type names ``unitree_hg::msg::dds_::
LowCmd_`` etc.), written from their published field lists: unitree_hg for G1 / H1-2 (LowCmd,
LowState, Dex3 HandCmd / HandState), unitree_go for H1 (LowCmd, LowState) and for the Inspire
hand's ``MotorCmds_`` / ``MotorStates_``. All are XTypes *final* structs, as Unitree's are, so a
robot's C++ participants and these match on the wire. ``fixed_cdr.c_size`` gives the C layout
the CRC runs over (hg LowCmd 1004 bytes, go LowCmd 812).
(No ``from __future__ import annotations`` here: the binding resolves the annotations at run time.)
"""

from dataclasses import dataclass, field

from cyclonedds.idl import IdlStruct
from cyclonedds.idl.annotations import final
from cyclonedds.idl.types import array, float32, int8, int16, int32, sequence, uint8, uint16, uint32

from egoscale_ros.interfaces.cdr_codec import install


def _zeros(n: int):
    return field(default_factory=lambda: [0] * n)


def _floats(n: int):
    return field(default_factory=lambda: [0.0] * n)


# --- unitree_hg (G1, H1-2, Dex3) ---------------------------------------------------------------

@final
@dataclass
class HgMotorCmd(IdlStruct, typename="unitree_hg.msg.dds_.MotorCmd_"):
    mode: uint8 = 0
    q: float32 = 0.0
    dq: float32 = 0.0
    tau: float32 = 0.0
    kp: float32 = 0.0
    kd: float32 = 0.0
    reserve: uint32 = 0


@final
@dataclass
class HgLowCmd(IdlStruct, typename="unitree_hg.msg.dds_.LowCmd_"):
    mode_pr: uint8 = 0
    mode_machine: uint8 = 0
    motor_cmd: array[HgMotorCmd, 35] = field(default_factory=lambda: [HgMotorCmd() for _ in range(35)])
    reserve: array[uint32, 4] = _zeros(4)
    crc: uint32 = 0


@final
@dataclass
class HgImuState(IdlStruct, typename="unitree_hg.msg.dds_.IMUState_"):
    quaternion: array[float32, 4] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0])
    gyroscope: array[float32, 3] = _floats(3)
    accelerometer: array[float32, 3] = _floats(3)
    rpy: array[float32, 3] = _floats(3)
    temperature: int16 = 0


@final
@dataclass
class HgMotorState(IdlStruct, typename="unitree_hg.msg.dds_.MotorState_"):
    mode: uint8 = 0
    q: float32 = 0.0
    dq: float32 = 0.0
    ddq: float32 = 0.0
    tau_est: float32 = 0.0
    temperature: array[int16, 2] = _zeros(2)
    vol: float32 = 0.0
    sensor: array[uint32, 2] = _zeros(2)
    motorstate: uint32 = 0
    reserve: array[uint32, 4] = _zeros(4)


@final
@dataclass
class HgLowState(IdlStruct, typename="unitree_hg.msg.dds_.LowState_"):
    version: array[uint32, 2] = _zeros(2)
    mode_pr: uint8 = 0
    mode_machine: uint8 = 0
    tick: uint32 = 0
    imu_state: HgImuState = field(default_factory=HgImuState)
    motor_state: array[HgMotorState, 35] = field(default_factory=lambda: [HgMotorState() for _ in range(35)])
    wireless_remote: array[uint8, 40] = _zeros(40)
    reserve: array[uint32, 4] = _zeros(4)
    crc: uint32 = 0


@final
@dataclass
class HgHandCmd(IdlStruct, typename="unitree_hg.msg.dds_.HandCmd_"):
    motor_cmd: sequence[HgMotorCmd] = field(default_factory=list)
    reserve: array[uint32, 4] = _zeros(4)


@final
@dataclass
class HgPressSensorState(IdlStruct, typename="unitree_hg.msg.dds_.PressSensorState_"):
    pressure: array[float32, 12] = _floats(12)
    temperature: array[float32, 12] = _floats(12)
    lost: uint32 = 0
    reserve: uint32 = 0


@final
@dataclass
class HgHandState(IdlStruct, typename="unitree_hg.msg.dds_.HandState_"):
    motor_state: sequence[HgMotorState] = field(default_factory=list)
    press_sensor_state: sequence[HgPressSensorState] = field(default_factory=list)
    imu_state: HgImuState = field(default_factory=HgImuState)
    power_v: float32 = 0.0
    power_a: float32 = 0.0
    system_v: float32 = 0.0
    device_v: float32 = 0.0
    error: array[uint32, 2] = _zeros(2)
    reserve: array[uint32, 2] = _zeros(2)


# --- unitree_go (H1, Inspire hand) -------------------------------------------------------------

@final
@dataclass
class GoMotorCmd(IdlStruct, typename="unitree_go.msg.dds_.MotorCmd_"):
    mode: uint8 = 0
    q: float32 = 0.0
    dq: float32 = 0.0
    tau: float32 = 0.0
    kp: float32 = 0.0
    kd: float32 = 0.0
    reserve: array[uint32, 3] = _zeros(3)


@final
@dataclass
class GoBmsCmd(IdlStruct, typename="unitree_go.msg.dds_.BmsCmd_"):
    off: uint8 = 0
    reserve: array[uint8, 3] = _zeros(3)


@final
@dataclass
class GoLowCmd(IdlStruct, typename="unitree_go.msg.dds_.LowCmd_"):
    head: array[uint8, 2] = _zeros(2)
    level_flag: uint8 = 0
    frame_reserve: uint8 = 0
    sn: array[uint32, 2] = _zeros(2)
    version: array[uint32, 2] = _zeros(2)
    bandwidth: uint16 = 0
    motor_cmd: array[GoMotorCmd, 20] = field(default_factory=lambda: [GoMotorCmd() for _ in range(20)])
    bms_cmd: GoBmsCmd = field(default_factory=GoBmsCmd)
    wireless_remote: array[uint8, 40] = _zeros(40)
    led: array[uint8, 12] = _zeros(12)
    fan: array[uint8, 2] = _zeros(2)
    gpio: uint8 = 0
    reserve: uint32 = 0
    crc: uint32 = 0


@final
@dataclass
class GoImuState(IdlStruct, typename="unitree_go.msg.dds_.IMUState_"):
    quaternion: array[float32, 4] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0])
    gyroscope: array[float32, 3] = _floats(3)
    accelerometer: array[float32, 3] = _floats(3)
    rpy: array[float32, 3] = _floats(3)
    temperature: int8 = 0


@final
@dataclass
class GoMotorState(IdlStruct, typename="unitree_go.msg.dds_.MotorState_"):
    mode: uint8 = 0
    q: float32 = 0.0
    dq: float32 = 0.0
    ddq: float32 = 0.0
    tau_est: float32 = 0.0
    q_raw: float32 = 0.0
    dq_raw: float32 = 0.0
    ddq_raw: float32 = 0.0
    temperature: int8 = 0
    lost: uint32 = 0
    reserve: array[uint32, 2] = _zeros(2)


@final
@dataclass
class GoBmsState(IdlStruct, typename="unitree_go.msg.dds_.BmsState_"):
    version_high: uint8 = 0
    version_low: uint8 = 0
    status: uint8 = 0
    soc: uint8 = 0
    current: int32 = 0
    cycle: uint16 = 0
    bq_ntc: array[int8, 2] = _zeros(2)
    mcu_ntc: array[int8, 2] = _zeros(2)
    cell_vol: array[uint16, 15] = _zeros(15)


@final
@dataclass
class GoLowState(IdlStruct, typename="unitree_go.msg.dds_.LowState_"):
    head: array[uint8, 2] = _zeros(2)
    level_flag: uint8 = 0
    frame_reserve: uint8 = 0
    sn: array[uint32, 2] = _zeros(2)
    version: array[uint32, 2] = _zeros(2)
    bandwidth: uint16 = 0
    imu_state: GoImuState = field(default_factory=GoImuState)
    motor_state: array[GoMotorState, 20] = field(default_factory=lambda: [GoMotorState() for _ in range(20)])
    bms_state: GoBmsState = field(default_factory=GoBmsState)
    foot_force: array[int16, 4] = _zeros(4)
    foot_force_est: array[int16, 4] = _zeros(4)
    tick: uint32 = 0
    wireless_remote: array[uint8, 40] = _zeros(40)
    bit_flag: uint8 = 0
    adc_reel: float32 = 0.0
    temperature_ntc1: int8 = 0
    temperature_ntc2: int8 = 0
    power_v: float32 = 0.0
    power_a: float32 = 0.0
    fan_frequency: array[uint16, 4] = _zeros(4)
    reserve: uint32 = 0
    crc: uint32 = 0


@final
@dataclass
class GoMotorCmds(IdlStruct, typename="unitree_go.msg.dds_.MotorCmds_"):
    cmds: sequence[GoMotorCmd] = field(default_factory=list)


@final
@dataclass
class GoMotorStates(IdlStruct, typename="unitree_go.msg.dds_.MotorStates_"):
    states: sequence[GoMotorState] = field(default_factory=list)


# The message types on the wire (de)serialise through precompiled formats, not field by field.
for _message in (HgLowCmd, HgLowState, HgHandCmd, HgHandState, GoLowCmd, GoLowState, GoMotorCmds, GoMotorStates):
    install(_message)
