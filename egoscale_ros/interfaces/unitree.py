"""Adapters for Unitree's native DDS interfaces (G1 / H1-2 arm_sdk, H1 lowcmd, Dex3, Inspire).

Outputs start only once the robot's own state has been measured, from exactly that pose, and
move toward the targets no faster than ``max_velocity``:

- ``unitree_hg_arm_sdk`` (G1, H1-2 on ``rt/arm_sdk``): unitree_hg LowCmd with mode, q, kp, kd
  per arm motor, ``mode_machine`` copied from ``rt/lowstate``, the blend weight in
  ``motor_cmd[blend_index].q`` ramped 0 -> 1 at start (q = the measured pose meanwhile) and
  1 -> 0 on release (q held), and the CRC computed last. Motors in ``hold_motor_index`` (the
  waist) are held at the pose measured when we took over.
- ``unitree_go_lowcmd`` (H1 on ``rt/lowcmd``, robot in debug mode): unitree_go LowCmd with the
  header Unitree's examples send (head 0xFE 0xEF, level_flag 0xFF), servo mode 0x0A on the
  commanded motors, arms right then left as the motor indices in config say, CRC last.
- ``unitree_dex3`` (``rt/dex3/{side}/cmd``): HandCmd with 7 MotorCmd; ``mode`` packs the motor id,
  status and timeout bits.
- ``unitree_inspire`` (``rt/inspire/cmd``): unitree_go MotorCmds_ with 12 slots, right hand first,
  each q = (upper - position) / (upper - lower) in [0, 1], 1 = open.

Feedback decoders check what they can (CRC, array lengths, finite values) and refuse the rest.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from egoscale_ros.interfaces import unitree_idl as idl
from egoscale_ros.interfaces.base import (
    DDS,
    FeedbackDecoder,
    JointSample,
    OutputAdapter,
    Packet,
    Rejected,
    WireSample,
)
from egoscale_ros.interfaces.blend import BlendRamp
from egoscale_ros.interfaces.crc import unitree_crc
from egoscale_ros.interfaces.fixed_cdr import pack
from egoscale_ros.interfaces.flat_message import FlatMessage
from egoscale_ros.interfaces.joint_targets import MAX_DT, Stepper
from egoscale_ros.interfaces.options import Options

HG_MOTORS = 35
GO_MOTORS = 20
HG_ARM_MODE = 1  # enable, as Unitree's arm_sdk examples send
GO_SERVO_MODE = 0x0A
GO_HEAD = (0xFE, 0xEF)
GO_LEVEL_LOW = 0xFF
DEX3_MOTORS = 7
INSPIRE_SLOTS = 12


def _finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in values)


class _Stepper(Stepper):
    """The joint positions an output sends: start at the measured pose, then step toward targets."""

    def start(self, measured: dict[str, float]) -> bool:
        if self.sent is None and all(j in measured for j in self.joints):
            self.sent = [measured[j] for j in self.joints]
        return self.sent is not None

    def follow(self, measured: dict[str, float]) -> None:
        """Track the measured pose (while the robot's controller still owns the joints)."""
        if all(j in measured for j in self.joints):
            self.sent = [measured[j] for j in self.joints]

    def dt(self, now: float) -> float:
        return self.elapsed(now)

    def step(self, dt: float) -> list[float]:
        assert self.sent is not None
        self.advance(dt)
        return self.sent


class _UnitreeOutput(OutputAdapter):
    transport = DDS

    def set_target(self, position: dict[str, float], now: float) -> None:
        values = [position.get(j, math.nan) for j in self.output.joints]
        if not _finite(values):
            self.count_error("invalid_target")
            return
        self.stepper.target = values

    def diagnostics(self) -> dict[str, Any]:
        values: dict[str, Any] = {"started": self.stepper.sent is not None}
        values.update({f"error {k}": v for k, v in self.errors.items()})
        return values


class _LowCmdOutput(_UnitreeOutput):
    """A body LowCmd of ``motors`` MotorCmd_ structs (``motor_cmd_type``): the output's joints on
    their motors (``motor_index``, ``kp``/``kd``, ``mode``), stepped toward the targets at
    ``max_velocity`` (rad/s, 2.0), and the motors in ``hold_motor_index`` (``hold_kp``/``hold_kd``)
    held at the pose measured when the output started. A subclass reads its own options, then
    calls ``options.done()``."""

    def __init__(self, output, config, motors: int, motor_cmd_type: type, mode: int) -> None:
        super().__init__(output, config)
        self.options = o = Options(output, config)
        self.motor_cmd_type = motor_cmd_type
        self.motor_index = o.indices("motor_index", None, motors)
        self.kp = o.numbers("kp", lo=0.0, hi=500.0)
        self.kd = o.numbers("kd", lo=0.0, hi=50.0)
        self.mode = o.integer("mode", mode)
        self.stepper = _Stepper(output.joints, o.number("max_velocity", 2.0, 1e-3, 50.0))
        hold = o.data.get("hold_motor_index", [])
        self.hold_index = o.indices("hold_motor_index", len(hold) if isinstance(hold, list) else 0, motors, [])
        self.hold_kp = o.numbers("hold_kp", len(self.hold_index), [0.0] * len(self.hold_index), 0.0, 500.0)
        self.hold_kd = o.numbers("hold_kd", len(self.hold_index), [0.0] * len(self.hold_index), 0.0, 50.0)
        self.measured: dict[str, float] = {}
        self.motor_q: Sequence[float] | None = None  # every motor's measured q (rt/lowstate)
        self.hold_q: list[float] | None = None

    def on_feedback(self, position: dict[str, float], extra: dict[str, Any]) -> None:
        self.measured = position
        if "motor_q" in extra:
            self.motor_q = extra["motor_q"]

    def fill(self, motor_cmd: list, q: Sequence[float]) -> None:
        """The commanded motors at ``q``, the held ones at their held pose."""
        for i, qi, kp, kd in zip(self.motor_index, q, self.kp, self.kd):
            motor_cmd[i] = self.motor_cmd_type(mode=self.mode, q=qi, dq=0.0, tau=0.0, kp=kp, kd=kd)
        for i, qi, kp, kd in zip(self.hold_index, self.hold_q or [], self.hold_kp, self.hold_kd):
            motor_cmd[i] = self.motor_cmd_type(mode=self.mode, q=qi, dq=0.0, tau=0.0, kp=kp, kd=kd)


class _LowCmdLayout:
    """A LowCmd packed from numbers: the slots of the commanded and held motors' fields in the flat
    message, filled as :meth:`_LowCmdOutput.fill` fills the objects (other motors all zero), and
    the CRC computed over the C layout last, as :meth:`HgArmSdkOutput.encode` does."""

    def __init__(self, template: Any, motor_index: Sequence[int], hold_index: Sequence[int]):
        self.message = m = FlatMessage(template)
        self.zero = list(m.values)

        def slots(i: int) -> tuple[int, int, int, int]:
            return tuple(m.slot("motor_cmd", i, key) for key in ("mode", "q", "kp", "kd"))  # type: ignore[return-value]

        self.commanded = [slots(i) for i in motor_index]
        self.held = [slots(i) for i in hold_index]
        self.crc_slot = m.slot("crc")

    def fill(self, output: _LowCmdOutput, q: Sequence[float]) -> list:
        """Fresh values with ``output``'s motors at ``q`` and its held motors at their held pose."""
        values = self.message.values = list(self.zero)
        mode = output.mode
        motors = (zip(self.commanded, q, output.kp, output.kd),
                  zip(self.held, output.hold_q or [], output.hold_kp, output.hold_kd))
        for (s_mode, s_q, s_kp, s_kd), qi, kp, kd in itertools.chain(*motors):
            values[s_mode], values[s_q], values[s_kp], values[s_kd] = mode, qi, kp, kd
        return values

    def cdr(self) -> bytes:
        self.message.set_crc(self.crc_slot)
        return self.message.cdr()


# --- unitree_hg LowCmd on rt/arm_sdk (G1, H1-2) --------------------------------------------------

class HgArmSdkOutput(_LowCmdOutput):
    """Options: ``motor_index`` (per joint), ``blend_index``, ``kp``/``kd`` (per joint or one value),
    ``mode`` (1), ``blend_rate_per_s`` (0.5: a 2 s hand-over), ``release_rate_per_s`` (the hand-back
    at a clean stop; default the hand-over's), ``max_velocity`` (rad/s, 2.0),
    ``hold_motor_index`` / ``hold_kp`` / ``hold_kd`` (motors held where they were, e.g. the waist).
    """

    kind = "unitree_hg_arm_sdk"

    def __init__(self, output, config) -> None:
        super().__init__(output, config, HG_MOTORS, idl.HgMotorCmd, HG_ARM_MODE)
        o = self.options
        self.blend_index = o.integer("blend_index", None, 0, HG_MOTORS - 1)
        blend_rate = o.number("blend_rate_per_s", 0.5, 1e-3, 10.0)
        self.ramp = BlendRamp(blend_rate, MAX_DT, o.number("release_rate_per_s", blend_rate, 1e-3, 10.0))
        o.done()
        clash = set(self.motor_index) & ({self.blend_index} | set(self.hold_index))
        if clash or set(self.hold_index) & {self.blend_index}:
            raise o.fail("motor_index", f"motor(s) {sorted(clash) or [self.blend_index]} used twice")
        self.mode_machine: int | None = None
        self.releasing = False
        self.done = False
        self.sent_messages = 0
        self._flat = _LowCmdLayout(idl.HgLowCmd(), self.motor_index, self.hold_index)
        self._mode_machine_slot = self._flat.message.slot("mode_machine")
        self._weight_slot = self._flat.message.slot("motor_cmd", self.blend_index, "q")

    def topics(self) -> dict[str, type | None]:
        return {self.output.topic: idl.HgLowCmd}

    def on_feedback(self, position: dict[str, float], extra: dict[str, Any]) -> None:
        super().on_feedback(position, extra)
        if "mode_machine" in extra:
            self.mode_machine = int(extra["mode_machine"])

    def tick(self, now: float) -> list[Packet]:
        if self.done or self.mode_machine is None:
            return []  # nothing safe to send before the robot has told its state
        if self.stepper.sent is None:
            if not self.stepper.start(self.measured) or (self.hold_index and self.motor_q is None):
                return []
            self.hold_q = [float(self.motor_q[i]) for i in self.hold_index] if self.hold_index else []
            self.ramp.engage()
        dt = self.stepper.dt(now)
        if not self.ramp.engaged and not self.releasing:
            self.stepper.follow(self.measured)  # q = the measured pose until the hand-over is complete
            q = self.stepper.sent
        elif self.releasing:
            q = self.stepper.sent  # held while the weight goes back to 0
        else:
            q = self.stepper.step(dt)
        weight = self.ramp.step(dt)
        msg = WireSample(idl.HgLowCmd, self.encode_cdr(q, weight))
        if self.releasing and self.ramp.idle:
            self.done = True  # this message carries weight 0: the robot's controller has the arms
        self.sent_messages += 1
        return [Packet(self.output.topic, msg)]

    def encode(self, q: Sequence[float], weight: float) -> idl.HgLowCmd:
        msg = idl.HgLowCmd(mode_pr=0, mode_machine=self.mode_machine or 0)
        self.fill(msg.motor_cmd, q)
        msg.motor_cmd[self.blend_index].q = weight
        msg.crc = unitree_crc(pack(msg)[:-4])
        return msg

    def encode_cdr(self, q: Sequence[float], weight: float) -> bytes:
        """The wire bytes of :meth:`encode`, packed straight from the numbers (no message objects)."""
        values = self._flat.fill(self, q)
        values[self._mode_machine_slot] = self.mode_machine or 0
        values[self._weight_slot] = weight
        return self._flat.cdr()

    def release(self) -> None:
        self.releasing = True
        self.ramp.release()
        if self.stepper.sent is None:
            self.done = True

    @property
    def released(self) -> bool:
        return self.done

    def diagnostics(self) -> dict[str, Any]:
        values = super().diagnostics()
        values.update({"blend_weight": round(self.ramp.weight, 4), "releasing": self.releasing,
                       "mode_machine": self.mode_machine if self.mode_machine is not None else "unknown"})
        return values


# --- unitree_go LowCmd on rt/lowcmd (H1) ---------------------------------------------------------

class GoLowCmdOutput(_LowCmdOutput):
    """Options: ``motor_index`` (per joint: H1 arms 12-15 right, 16-19 left), ``kp``/``kd``,
    ``mode`` (0x0A servo), ``max_velocity`` (rad/s, 2.0), ``hold_motor_index``/``hold_kp``/``hold_kd``.
    """

    kind = "unitree_go_lowcmd"

    def __init__(self, output, config) -> None:
        super().__init__(output, config, GO_MOTORS, idl.GoMotorCmd, GO_SERVO_MODE)
        self.options.done()
        if set(self.motor_index) & set(self.hold_index):
            raise self.options.fail("hold_motor_index", "a commanded motor cannot also be held")
        self.done = False

    def topics(self) -> dict[str, type | None]:
        return {self.output.topic: idl.GoLowCmd}

    def tick(self, now: float) -> list[Packet]:
        if self.done:
            return []
        if self.stepper.sent is None:
            if self.motor_q is None or not self.stepper.start(self.measured):
                return []
            self.hold_q = [float(self.motor_q[i]) for i in self.hold_index]
        q = self.stepper.step(self.stepper.dt(now))
        return [Packet(self.output.topic, self.encode(q))]

    def encode(self, q: Sequence[float]) -> idl.GoLowCmd:
        msg = idl.GoLowCmd(head=list(GO_HEAD), level_flag=GO_LEVEL_LOW)
        self.fill(msg.motor_cmd, q)
        msg.crc = unitree_crc(pack(msg)[:-4])
        return msg

    def release(self) -> None:
        # No blend weight on rt/lowcmd: the last command stands (see the README for H1's release).
        self.done = True


# --- Dex3 HandCmd on rt/dex3/{side}/cmd ----------------------------------------------------------

def _hand_options(owner, config, role: str, slots: int, what: str) -> Options:
    """The options of a hand's output or state source (``role``), its joints checked first: one per
    motor slot of the message, in the slots' order."""
    options = Options(owner, config, role)
    if len(owner.joints) != slots:
        raise options.fail("joints", f"{what}, got {len(owner.joints)} joints")
    return options


def dex3_mode(motor_id: int, status: int = 0x01, timeout: bool = False) -> int:
    """The Dex3 ``mode`` byte: motor id (bits 0-3), status (bits 4-6), timeout (bit 7)."""
    return (motor_id & 0x0F) | ((status & 0x07) << 4) | (0x80 if timeout else 0)


class _HandOutput(_UnitreeOutput):
    """A hand's command, its motors stepped from where the hand is toward the targets
    (``max_velocity``, rad/s, 6.0); a subclass reads its own options, then calls ``options.done()``."""

    message_type: type

    def __init__(self, output, config, slots: int, what: str) -> None:
        super().__init__(output, config)
        self.options = _hand_options(output, config, "controller", slots, what)
        self.stepper = _Stepper(output.joints, self.options.number("max_velocity", 6.0, 1e-3, 50.0))
        self.measured: dict[str, float] = {}

    def topics(self) -> dict[str, type | None]:
        return {self.output.topic: self.message_type}

    def on_feedback(self, position: dict[str, float], extra: dict[str, Any]) -> None:
        self.measured = position

    def tick(self, now: float) -> list[Packet]:
        if self.stepper.sent is None and not self.stepper.start(self.measured):
            return []
        return [Packet(self.output.topic, self.sample(self.stepper.step(self.stepper.dt(now))))]

    def message(self, q: list[float]) -> Any:
        raise NotImplementedError

    def sample(self, q: list[float]) -> Any:
        """What :meth:`tick` sends for ``q``: the message, or its bytes where they are packed directly."""
        return self.message(q)


class Dex3Output(_HandOutput):
    """Options: ``kp`` (1.5), ``kd`` (0.2), ``max_velocity`` (rad/s, 6.0). Joints in motor order."""

    kind = "unitree_dex3"
    message_type = idl.HgHandCmd

    def __init__(self, output, config) -> None:
        super().__init__(output, config, DEX3_MOTORS, f"Dex3 has {DEX3_MOTORS} motors")
        o = self.options
        self.kp = o.numbers("kp", default=[1.5] * DEX3_MOTORS, lo=0.0, hi=10.0)
        self.kd = o.numbers("kd", default=[0.2] * DEX3_MOTORS, lo=0.0, hi=5.0)
        o.done()
        # Everything but q is the same in every command: packed from a template, q put in its slots.
        self._flat = FlatMessage(self.message([0.0] * DEX3_MOTORS))
        self._template = list(self._flat.values)
        self._q_slots = [self._flat.slot("motor_cmd", i, "q") for i in range(DEX3_MOTORS)]

    def message(self, q: list[float]) -> idl.HgHandCmd:
        return idl.HgHandCmd(motor_cmd=[idl.HgMotorCmd(mode=dex3_mode(i), q=qi, dq=0.0, tau=0.0, kp=kp, kd=kd)
                                        for i, (qi, kp, kd) in enumerate(zip(q, self.kp, self.kd))])

    def sample(self, q: list[float]) -> WireSample:
        """The wire bytes of :meth:`message`, packed straight from ``q``."""
        if len(q) != DEX3_MOTORS:
            return WireSample(idl.HgHandCmd, self.message(q).serialize())
        values = self._flat.values = list(self._template)
        for slot, qi in zip(self._q_slots, q):
            values[slot] = qi
        return WireSample(idl.HgHandCmd, self._flat.cdr())


# --- Inspire MotorCmds_ on rt/inspire/cmd --------------------------------------------------------

def inspire_ranges(owner, config, o: Options) -> list[tuple[float, float]]:
    """Per slot (lower, upper) of the normalisation: config ``ranges`` or the URDF limits."""
    if "ranges" in o.data:
        o.seen.add("ranges")
        raw = o.data["ranges"]
        if not (isinstance(raw, list) and len(raw) == len(owner.joints)
                and all(isinstance(r, list) and len(r) == 2 and _finite(r) and r[0] < r[1] for r in raw)):
            raise o.fail("ranges", f"expected {len(owner.joints)} [lower, upper] pairs with lower < upper")
        return [(float(a), float(b)) for a, b in raw]
    return [(config.joint_info(j).lower, config.joint_info(j).upper) for j in owner.joints]


def normalise(q: float, lower: float, upper: float) -> float:
    """Joint angle -> Inspire command in [0, 1], 1 = open (the joint at its lower limit)."""
    return min(max((upper - q) / (upper - lower), 0.0), 1.0)


def denormalise(v: float, lower: float, upper: float) -> float:
    return upper - min(max(v, 0.0), 1.0) * (upper - lower)


class InspireOutput(_HandOutput):
    """Joints: the 12 slots in order (right hand first; per hand pinky, ring, middle, index, thumb
    bend, thumb rotation). Options: ``ranges`` ([lower, upper] per slot; default the URDF limits),
    ``max_velocity`` (rad/s, 6.0).
    """

    kind = "unitree_inspire"
    message_type = idl.GoMotorCmds

    def __init__(self, output, config) -> None:
        super().__init__(output, config, INSPIRE_SLOTS,
                         f"the Inspire command has {INSPIRE_SLOTS} slots (right hand first)")
        self.ranges = inspire_ranges(output, config, self.options)
        self.options.done()

    def message(self, q: list[float]) -> idl.GoMotorCmds:
        return idl.GoMotorCmds(cmds=[idl.GoMotorCmd(q=normalise(qi, lo, hi)) for qi, (lo, hi) in zip(q, self.ranges)])


# --- feedback ------------------------------------------------------------------------------------

class _LowStateFeedback(FeedbackDecoder):
    transport = DDS
    motors = HG_MOTORS
    type_ = idl.HgLowState

    def __init__(self, source, config) -> None:
        super().__init__(source, config)
        o = Options(source, config, "feedback")
        self.motor_index = o.indices("motor_index", None, self.motors)
        self.verify_crc = o.flag("verify_crc", True)
        o.done()
        self._flat: FlatMessage | None = None  # made on the first decode_cdr

    def message_type(self) -> type:
        return self.type_

    def decode_cdr(self, data: bytes) -> JointSample:
        """:meth:`decode` of the message's wire bytes, read as a flat message (no objects): the
        same checks, the same sample."""
        flat = self._flat
        if flat is None:
            flat = self._flat = FlatMessage(self.type_())
            self._slots = {name: [flat.slot("motor_state", i, name) for i in range(self.motors)]
                           for name in ("q", "dq", "tau_est")}
            self._crc_slot = flat.slot("crc")
            self._extra_slots = {name: flat.slot(name) for name in self.extra_fields}
        try:
            flat.load(data)
        except ValueError as exc:
            raise Rejected("malformed", str(exc)) from exc
        values = flat.values
        if self.verify_crc:
            expected = unitree_crc(flat.c_layout()[:-4])
            crc = values[self._crc_slot]
            if crc != expected:
                raise Rejected("bad_crc", f"crc 0x{crc:08x}, computed 0x{expected:08x}")
        q = [values[s] for s in self._slots["q"]]
        picked = [q[i] for i in self.motor_index]
        if not _finite(picked):
            raise Rejected("non_finite", "a measured motor position is NaN or inf")
        dq = [values[s] for s in self._slots["dq"]]
        tau = [values[s] for s in self._slots["tau_est"]]
        joints = self.source.joints
        sample = JointSample(dict(zip(joints, picked)), dict(zip(joints, (dq[i] for i in self.motor_index))),
                             dict(zip(joints, (tau[i] for i in self.motor_index))), {"motor_q": q})
        for name, slot in self._extra_slots.items():
            sample.extra[name] = int(values[slot])
        return sample

    def decode(self, message: Any) -> JointSample:
        states = message.motor_state
        if len(states) != self.motors:
            raise Rejected("wrong_length", f"{len(states)} motor states, expected {self.motors}")
        if self.verify_crc:
            expected = unitree_crc(pack(message)[:-4])
            if message.crc != expected:
                raise Rejected("bad_crc", f"crc 0x{message.crc:08x}, computed 0x{expected:08x}")
        q = [float(s.q) for s in states]
        dq = [float(s.dq) for s in states]
        tau = [float(s.tau_est) for s in states]
        picked = [q[i] for i in self.motor_index]
        if not _finite(picked):
            raise Rejected("non_finite", "a measured motor position is NaN or inf")
        joints = self.source.joints
        sample = JointSample(dict(zip(joints, picked)), dict(zip(joints, (dq[i] for i in self.motor_index))),
                             dict(zip(joints, (tau[i] for i in self.motor_index))), {"motor_q": q})
        self.extra(message, sample)
        return sample

    #: scalar fields the message also reports, for the output adapters
    extra_fields: tuple[str, ...] = ()

    def extra(self, message: Any, sample: JointSample) -> None:
        for name in self.extra_fields:
            sample.extra[name] = int(getattr(message, name))


class HgLowStateFeedback(_LowStateFeedback):
    """unitree_hg LowState on ``rt/lowstate``. Options: ``motor_index`` (per joint), ``verify_crc``."""

    kind = "unitree_hg_lowstate"
    extra_fields = ("mode_machine",)


class GoLowStateFeedback(_LowStateFeedback):
    """unitree_go LowState on ``rt/lowstate`` (H1). Options: ``motor_index``, ``verify_crc``."""

    kind = "unitree_go_lowstate"
    motors = GO_MOTORS
    type_ = idl.GoLowState


def _hand_q(states: Sequence[Any], slots: int) -> list[float]:
    """``q`` of a hand's motor states; the message is refused unless there is one per slot, all finite."""
    if len(states) != slots:
        raise Rejected("wrong_length", f"{len(states)} motor states, expected {slots}")
    q = [float(s.q) for s in states]
    if not _finite(q):
        raise Rejected("non_finite", "a measured motor q is NaN or inf")
    return q


class Dex3StateFeedback(FeedbackDecoder):
    """Dex3 HandState on ``rt/dex3/{side}/state``: 7 motor states in the joints' order."""

    kind = "unitree_dex3_state"
    transport = DDS

    def __init__(self, source, config) -> None:
        super().__init__(source, config)
        _hand_options(source, config, "feedback", DEX3_MOTORS, f"Dex3 reports {DEX3_MOTORS} motors").done()

    def message_type(self) -> type:
        return idl.HgHandState

    def decode(self, message: Any) -> JointSample:
        states = message.motor_state
        joints = self.source.joints
        q = _hand_q(states, DEX3_MOTORS)
        return JointSample(dict(zip(joints, q)), dict(zip(joints, (float(s.dq) for s in states))))


class InspireStateFeedback(FeedbackDecoder):
    """Inspire MotorStates_ on ``rt/inspire/state``: 12 normalised slots, right hand first.

    Options: ``ranges`` as for the command (default: the URDF limits).
    """

    kind = "unitree_inspire_state"
    transport = DDS

    def __init__(self, source, config) -> None:
        super().__init__(source, config)
        o = _hand_options(source, config, "feedback", INSPIRE_SLOTS, f"the Inspire state has {INSPIRE_SLOTS} slots")
        self.ranges = inspire_ranges(source, config, o)
        o.done()

    def message_type(self) -> type:
        return idl.GoMotorStates

    def decode(self, message: Any) -> JointSample:
        v = _hand_q(message.states, INSPIRE_SLOTS)
        if any(x < -0.05 or x > 1.05 for x in v):
            raise Rejected("out_of_range", f"normalised values outside [0, 1]: {v}")
        return JointSample({j: denormalise(x, lo, hi) for j, x, (lo, hi) in zip(self.source.joints, v, self.ranges)})
