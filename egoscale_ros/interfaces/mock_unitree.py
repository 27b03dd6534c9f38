"""A mock Unitree robot: the far side of the native interfaces, for tests and the demo.

It takes what a robot takes — unitree_hg LowCmd on ``rt/arm_sdk``, unitree_go LowCmd on
``rt/lowcmd``, Dex3 HandCmd, Inspire MotorCmds_ — and checks every message the way the robot
would need it to be: the CRC, ``mode_machine``, each commanded motor's mode and gains as the
robot config states them, positions inside the URDF limits, steps no larger than the configured
speed allows, the arm_sdk blend weight starting from 0, moving at most its rate, monotone in and
monotone out, and never changing while the commanded pose differs from the measured one. A
message failing any check is refused (the joints hold) and counted by reason. Accepted commands
move simulated joints (first-order lag, speed cap); the arm_sdk blend mixes them with the pose
the robot's own controller holds. It publishes ``rt/lowstate`` (with its CRC) and the hands'
states. ``place()`` puts a joint anywhere — outside its limits too — to test preflight.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import fields
from typing import Any, NamedTuple

from egoscale_ros.interfaces import registry
from egoscale_ros.interfaces import unitree as u
from egoscale_ros.interfaces import unitree_idl as idl
from egoscale_ros.interfaces.base import WireSample
from egoscale_ros.interfaces.crc import unitree_crc
from egoscale_ros.interfaces.fixed_cdr import pack
from egoscale_ros.interfaces.flat_message import FlatMessage
from egoscale_ros.interfaces.mock_body import MockBody

GAIN_TOL = 1e-4  # float32 round trip
LIMIT_TOL = 1e-3
POSE_TOL = 0.05  # rad: "q equal to the measured pose" while the blend weight changes
WEIGHT_TOL = 1e-6
_COUNT = struct.Struct("<I")  # a sequence's element count in CDR (little-endian)


class _Check:
    """Verification state of one output (its topic, its options as the config states them)."""

    def __init__(self, mock: MockUnitree, adapter):
        self.mock = mock
        self.a = adapter
        self.out = adapter.output
        self.prev_t: float | None = None
        self.prev_q: list[float] | None = None
        self.weight: float | None = None
        self.weight_max = 0.0
        self.releasing = False
        self.weights: list[float] = []

    def limits_ok(self, q: list[float], errors: list[str]) -> None:
        for j, v in zip(self.out.joints, q):
            if not math.isfinite(v):
                errors.append("non_finite")
                return
            lo, hi = self.mock.limits[j]
            if v < lo - LIMIT_TOL or v > hi + LIMIT_TOL:
                errors.append("limit")
                return

    def step_ok(self, q: list[float], now: float, errors: list[str]) -> None:
        """First command at the measured pose; later ones within the configured speed."""
        if self.prev_q is None:
            actual = [self.mock.position(j) for j in self.out.joints]
            if any(abs(a - b) > POSE_TOL for a, b in zip(q, actual)):
                errors.append("jump")
            return
        dt = max(now - (self.prev_t or now), 0.0)
        reach = self.a.stepper.max_velocity * (dt + u.MAX_DT) + 1e-4
        if any(abs(a - b) > reach for a, b in zip(q, self.prev_q)):
            errors.append("step")

    def gains_ok(self, cmds, index, kp, kd, mode, errors: list[str]) -> None:
        for i, p, d in zip(index, kp, kd):
            c = cmds[i]
            if c.mode != mode:
                errors.append("mode")
                return
            if abs(c.kp - p) > GAIN_TOL * max(1.0, p) or abs(c.kd - d) > GAIN_TOL * max(1.0, d):
                errors.append("gains")
                return

    def crc_ok(self, msg, errors: list[str]) -> None:
        packed = msg.c_layout() if isinstance(msg, _CommandView) else pack(msg)
        if msg.crc != unitree_crc(packed[:-4]):
            errors.append("bad_crc")

    def judge(self, q: list[float], now: float, errors: list[str]) -> list[str]:
        """Add the limit and step checks of ``q`` to ``errors``; with none, take ``q`` as the command."""
        self.limits_ok(q, errors)
        self.step_ok(q, now, errors)
        if not errors:
            self.accept(q, now)
            self.mock.command(self.out.joints, q, 1.0)
        return errors

    def accept(self, q: list[float], now: float) -> None:
        self.prev_q, self.prev_t = q, now


class _HgArmSdkCheck(_Check):
    def verify(self, msg: idl.HgLowCmd, now: float) -> list[str]:
        errors: list[str] = []
        a = self.a
        self.crc_ok(msg, errors)
        if msg.mode_machine != self.mock.mode_machine:
            errors.append("mode_machine")
        self.gains_ok(msg.motor_cmd, a.motor_index, a.kp, a.kd, a.mode, errors)
        self.gains_ok(msg.motor_cmd, a.hold_index, a.hold_kp, a.hold_kd, a.mode, errors)
        q = [float(msg.motor_cmd[i].q) for i in a.motor_index]
        self.limits_ok(q, errors)
        w = float(msg.motor_cmd[a.blend_index].q)
        if not 0.0 <= w <= 1.0:
            errors.append("blend_range")
        prev = 0.0 if self.weight is None else self.weight
        dt = 0.0 if self.prev_t is None else max(now - self.prev_t, 0.0)
        rate = a.ramp.release_rate_per_s if w < prev else a.ramp.rate_per_s
        if abs(w - prev) > rate * (dt + u.MAX_DT) + WEIGHT_TOL:
            errors.append("ramp_rate")
        if self.releasing and w > prev + WEIGHT_TOL:
            errors.append("ramp_monotone")
        if abs(w - prev) > WEIGHT_TOL and w < 1.0 and not self.releasing:
            actual = [self.mock.position(j) for j in self.out.joints]
            if any(abs(x - y) > POSE_TOL for x, y in zip(q, actual)):
                errors.append("ramp_jump")  # weight changing while q differs from the measured pose
        if self.prev_q is not None and w >= 1.0 and prev >= 1.0:
            self.step_ok(q, now, errors)
        if not errors:
            if w < prev - WEIGHT_TOL:
                self.releasing = True
            self.weight = w
            self.weight_max = max(self.weight_max, w)
            self.weights.append(w)
            self.accept(q, now)
            self.mock.command(self.out.joints, q, w)
        return errors

    def report(self) -> dict[str, Any]:
        # released: the weight is back at 0 (or was never raised); handed_back: it went to 1 and back.
        return {"blend_weight_max": self.weight_max, "blend_weight_last": self.weight,
                "released": self.weight is None or self.weight == 0.0,
                "handed_back": bool(self.weight_max >= 1.0 and self.weight == 0.0)}


class _GoLowCmdCheck(_Check):
    def verify(self, msg: idl.GoLowCmd, now: float) -> list[str]:
        errors: list[str] = []
        a = self.a
        self.crc_ok(msg, errors)
        if tuple(msg.head) != u.GO_HEAD or msg.level_flag != u.GO_LEVEL_LOW:
            errors.append("header")
        self.gains_ok(msg.motor_cmd, a.motor_index, a.kp, a.kd, a.mode, errors)
        self.gains_ok(msg.motor_cmd, a.hold_index, a.hold_kp, a.hold_kd, a.mode, errors)
        q = [float(msg.motor_cmd[i].q) for i in a.motor_index]
        return self.judge(q, now, errors)


class _Dex3Check(_Check):
    def verify(self, msg: idl.HgHandCmd, now: float) -> list[str]:
        errors: list[str] = []
        a = self.a
        if len(msg.motor_cmd) != u.DEX3_MOTORS:
            return ["wrong_length"]
        for i, c in enumerate(msg.motor_cmd):
            if c.mode & 0x0F != i:
                errors.append("mode")
                break
        for c, p, d in zip(msg.motor_cmd, a.kp, a.kd):
            if abs(c.kp - p) > GAIN_TOL * max(1.0, p) or abs(c.kd - d) > GAIN_TOL * max(1.0, d):
                errors.append("gains")
                break
        q = [float(c.q) for c in msg.motor_cmd]
        return self.judge(q, now, errors)


class _InspireCheck(_Check):
    def verify(self, msg: idl.GoMotorCmds, now: float) -> list[str]:
        if len(msg.cmds) != u.INSPIRE_SLOTS:
            return ["wrong_length"]
        values = [float(c.q) for c in msg.cmds]
        if not all(math.isfinite(v) for v in values):
            return ["non_finite"]
        if any(v < -WEIGHT_TOL or v > 1.0 + WEIGHT_TOL for v in values):
            return ["out_of_range"]
        q = [u.denormalise(v, lo, hi) for v, (lo, hi) in zip(values, self.a.ranges)]
        errors: list[str] = []
        self.step_ok(q, now, errors)
        if not errors:
            self.accept(q, now)
            self.mock.command(self.out.joints, q, 1.0)
        return errors


_CHECKS = {"unitree_hg_arm_sdk": _HgArmSdkCheck, "unitree_go_lowcmd": _GoLowCmdCheck,
           "unitree_dex3": _Dex3Check, "unitree_inspire": _InspireCheck}


class _Motor(NamedTuple):
    mode: int
    q: float
    kp: float
    kd: float


class _CommandLayout:
    """Where the checked fields of one command type sit in its wire bytes (a fixed layout:
    arm_sdk's LowCmd, or a HandCmd with ``motors`` motor commands)."""

    def __init__(self, template: Any, motors: int, sequence: bool):
        self.flat = FlatMessage(template)
        self.motors = [_Motor(*(self.flat.slot("motor_cmd", i, k) for k in _Motor._fields)) for i in range(motors)]
        names = {f.name for f in fields(template)}
        self.crc = self.flat.slot("crc") if "crc" in names else None
        self.mode_machine = self.flat.slot("mode_machine") if "mode_machine" in names else None
        self.length = motors if sequence else None  # a HandCmd's motor_cmd is a sequence: its count leads

    def read(self, data: bytes) -> _CommandView | None:
        """The command in ``data``, or None when its layout differs (the message is decoded instead)."""
        if self.length is not None and (len(data) < 8 or _COUNT.unpack_from(data, 4)[0] != self.length):
            return None
        try:
            self.flat.load(data)
        except ValueError:
            return None
        return _CommandView(self, self.flat.values)


class _CommandView:
    """A command read from its wire bytes: the fields the checks read, without the message objects."""

    def __init__(self, layout: _CommandLayout, values: list):
        self._layout, self._values = layout, values
        self.motor_cmd = _MotorsView(layout.motors, values)

    @property
    def crc(self) -> int:
        return self._values[self._layout.crc]

    @property
    def mode_machine(self) -> int:
        return self._values[self._layout.mode_machine]

    def c_layout(self) -> bytes:
        flat = self._layout.flat
        flat.values = self._values
        return flat.c_layout()


class _MotorsView(Sequence):
    """The motor commands of a :class:`_CommandView`, each read once, when a check first asks."""

    def __init__(self, slots: list[_Motor], values: list):
        self._slots, self._values = slots, values
        self._read: dict[int, _Motor] = {}

    def __len__(self) -> int:
        return len(self._slots)

    def __getitem__(self, i):  # an index only: the checks read motors one by one
        motor = self._read.get(i)
        if motor is None:
            v = self._values
            mode, q, kp, kd = self._slots[i]
            motor = self._read[i] = _Motor(v[mode], v[q], v[kp], v[kd])
        return motor

    def __iter__(self):
        return iter([self[i] for i in range(len(self._slots))])


class _FlatState:
    """One feedback source's message as a :class:`FlatMessage` and the slots each state writes."""

    TYPES = ("unitree_hg_lowstate", "unitree_go_lowstate", "unitree_dex3_state", "unitree_inspire_state")

    def __init__(self, src, decoder, mock: MockUnitree):
        zeros = [0.0] * len(src.joints)
        self.ranges = None
        self.tick = self.crc = self.mode_machine = None
        if src.type in ("unitree_hg_lowstate", "unitree_go_lowstate"):
            if src.type == "unitree_hg_lowstate":
                msg = idl.HgLowState(mode_machine=mock.mode_machine)
            else:
                msg = idl.GoLowState(head=list(u.GO_HEAD), level_flag=u.GO_LEVEL_LOW)
            self.message = FlatMessage(msg)
            self.q = [self.message.slot("motor_state", i, "q") for i in decoder.motor_index]
            self.tick, self.crc = self.message.slot("tick"), self.message.slot("crc")
            if src.type == "unitree_hg_lowstate":
                self.mode_machine = self.message.slot("mode_machine")
        elif src.type == "unitree_dex3_state":
            self.message = FlatMessage(idl.HgHandState(motor_state=[idl.HgMotorState(q=v) for v in zeros]))
            self.q = [self.message.slot("motor_state", k, "q") for k in range(len(zeros))]
        elif src.type == "unitree_inspire_state":
            self.message = FlatMessage(idl.GoMotorStates(states=[idl.GoMotorState(q=v) for v in zeros]))
            self.q = [self.message.slot("states", k, "q") for k in range(len(zeros))]
            self.ranges = decoder.ranges
        else:
            raise ValueError(f"{src.topic}: no mock state for feedback type {src.type}")


class MockUnitree(MockBody):
    """The simulated robot behind one robot config's Unitree outputs and feedback sources."""

    def __init__(self, config, lag_s: float | None = None, max_velocity: float | None = None,
                 mode_machine: int = 5):
        self.config = config
        self.mode_machine = mode_machine
        unitree_sources = [s for s in config.feedback if s.type.startswith("unitree_")]
        names = list(dict.fromkeys(j for s in unitree_sources for j in s.joints))
        super().__init__(config, names, lag_s, max_velocity)
        self.own_pose = self.joints.positions()  # what the robot's own controller holds
        self.checks: dict[str, _Check] = {}
        self.types: dict[str, type] = {}
        for out in config.adapter_outputs:
            if out.type in _CHECKS:
                adapter = registry.output_adapter(out, config)
                self.checks[out.topic] = _CHECKS[out.type](self, adapter)
                self.types.update(adapter.topics())
        self.sources = [(s, registry.feedback_decoder(s, config)) for s in unitree_sources]
        self.received: dict[str, int] = {t: 0 for t in self.checks}
        self.refused: dict[str, int] = {t: 0 for t in self.checks}
        self.errors: dict[str, int] = {}
        self.last_error = ""
        self.corrupt_crc_every = 0
        self._published = 0
        self._tick = 0
        self._flat: dict[str, _FlatState] = {}  # feedback topic -> its message kept flat
        self._layouts: dict[str, _CommandLayout] = {}  # command topic -> where its checked fields sit
        for topic, check in self.checks.items():
            if isinstance(check, _HgArmSdkCheck):
                self._layouts[topic] = _CommandLayout(idl.HgLowCmd(), u.HG_MOTORS, sequence=False)
            elif isinstance(check, _Dex3Check):
                motors = [idl.HgMotorCmd() for _ in range(u.DEX3_MOTORS)]
                self._layouts[topic] = _CommandLayout(idl.HgHandCmd(motor_cmd=motors), u.DEX3_MOTORS, sequence=True)

    # -- commands -------------------------------------------------------------------------------
    def command(self, joints, q, weight: float) -> None:
        targets = {j: weight * v + (1.0 - weight) * self.own_pose[j] for j, v in zip(joints, q)}
        self.joints.set_command(targets)

    def on_message(self, topic: str, msg: Any, now: float) -> bool:
        """Check one command; True when accepted (joints move), False when refused (joints hold)."""
        if isinstance(msg, WireSample):
            return self.on_cdr(topic, msg.data, now)
        check = self.checks[topic]
        self.received[topic] += 1
        errors = check.verify(msg, now)
        for reason in dict.fromkeys(errors):
            self.errors[reason] = self.errors.get(reason, 0) + 1
        if errors:
            self.refused[topic] += 1
            self.last_error = f"{topic}: {', '.join(dict.fromkeys(errors))}"
        return not errors

    def on_cdr(self, topic: str, data: bytes, now: float) -> bool:
        """:meth:`on_message` of a command's wire bytes: arm_sdk and Dex3 commands are read in place
        (the same checks on the same values), any other command or layout is decoded first."""
        layout = self._layouts.get(topic)
        msg = layout.read(data) if layout is not None else None
        return self.on_message(topic, self.types[topic].deserialize(data) if msg is None else msg, now)

    # -- states ---------------------------------------------------------------------------------
    def states(self) -> list[tuple[str, Any]]:
        """(topic, message) of every feedback source, as the robot would publish them now."""
        self._tick += 1
        out = []
        for src, decoder in self.sources:
            q = [self.position(j) for j in src.joints]
            if src.type == "unitree_hg_lowstate":
                msg = idl.HgLowState(mode_machine=self.mode_machine, tick=self._tick)
                self._fill(msg.motor_state, decoder.motor_index, q, idl.HgMotorState)
                msg.crc = self._crc(msg)
            elif src.type == "unitree_go_lowstate":
                msg = idl.GoLowState(head=list(u.GO_HEAD), level_flag=u.GO_LEVEL_LOW, tick=self._tick)
                self._fill(msg.motor_state, decoder.motor_index, q, idl.GoMotorState)
                msg.crc = self._crc(msg)
            elif src.type == "unitree_dex3_state":
                msg = idl.HgHandState(motor_state=[idl.HgMotorState(q=v) for v in q])
            elif src.type == "unitree_inspire_state":
                msg = idl.GoMotorStates(states=[idl.GoMotorState(q=u.normalise(v, lo, hi))
                                                for v, (lo, hi) in zip(q, decoder.ranges)])
            else:
                continue
            out.append((src.topic, msg))
        self._published += 1
        return out

    def states_cdr(self) -> list[tuple[str, bytes]]:
        """:meth:`states` as the wire bytes (the same bytes), without building message objects:
        each source's message is kept flat and only its positions, tick and CRC are written."""
        self._tick += 1
        out = []
        for src, decoder in self.sources:
            if src.type not in _FlatState.TYPES:
                continue  # as states() does
            flat = self._flat.get(src.topic)
            if flat is None:
                flat = self._flat[src.topic] = _FlatState(src, decoder, self)
            values = flat.message.values
            for slot, joint in zip(flat.q, src.joints):
                values[slot] = self.position(joint)
            if flat.ranges is not None:  # Inspire: normalised positions
                for slot, (lo, hi) in zip(flat.q, flat.ranges):
                    values[slot] = u.normalise(values[slot], lo, hi)
            if flat.crc is not None:
                values[flat.tick] = self._tick
                if flat.mode_machine is not None:
                    values[flat.mode_machine] = self.mode_machine
                flat.message.set_crc(flat.crc, corrupt=bool(self.corrupt_crc_every
                                                            and self._tick % self.corrupt_crc_every == 0))
            out.append((src.topic, flat.message.cdr()))
        self._published += 1
        return out

    @staticmethod
    def _fill(states, index, q, cls) -> None:
        for i, v in zip(index, q):
            states[i] = cls(q=v)

    def _crc(self, msg) -> int:
        crc = unitree_crc(pack(msg)[:-4])
        if self.corrupt_crc_every and self._tick % self.corrupt_crc_every == 0:
            crc ^= 0x1  # a transmission error, for tests of the receiving side
        return crc

    def state_types(self) -> dict[str, type]:
        return {s.topic: d.message_type() for s, d in self.sources}

    # -- report ---------------------------------------------------------------------------------
    def native_errors(self) -> int:
        return sum(self.errors.values())

    def report(self) -> dict[str, Any]:
        rep: dict[str, Any] = {"received": dict(self.received), "refused": dict(self.refused),
                               "native_errors": self.native_errors(), "errors": dict(self.errors),
                               "last_error": self.last_error}
        for topic, check in self.checks.items():
            if isinstance(check, _HgArmSdkCheck):
                rep[f"blend {topic}"] = check.report()
        return rep
