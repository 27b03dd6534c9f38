"""Pinocchio models of a robot's body URDF, and joint-name maps turned into their configurations.

Models are built from the URDF's XML text (``pin.buildModelFromXML``), so mesh paths, which rarely
resolve on a robot's computer, never matter. Mimic joints are kept as ordinary joints in the model;
their values follow their leader (``multiplier * leader + offset``) unless they are measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pinocchio as pin

from egoscale_ros.kinematics.urdf import UrdfError, UrdfInfo, read_urdf


class KinematicsError(ValueError):
    """A URDF, joint or frame that the kinematics cannot use; the message names it."""


def parent_joint(frame: pin.Frame) -> int:
    """The joint a frame hangs on (``parentJoint`` since Pinocchio 3, ``parent`` in 2.x on ROS Humble)."""
    return frame.parentJoint if hasattr(frame, "parentJoint") else frame.parent


@lru_cache(maxsize=16)
def _load_cached(path: str, mtime_ns: int) -> pin.Model:
    text = Path(path).read_text()
    try:
        return pin.buildModelFromXML(text)
    except (RuntimeError, ValueError) as exc:
        raise KinematicsError(f"URDF {path}: Pinocchio cannot build a model from it: {exc}") from exc


def load_model(urdf: str | Path) -> pin.Model:
    """Pinocchio model of ``urdf`` (cached per file version; callers must not modify it)."""
    path = Path(urdf)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise KinematicsError(f"URDF file cannot be read: {path} ({exc})") from exc
    return _load_cached(str(path), mtime)


@dataclass(frozen=True)
class JointMotion:
    """The motion of a one-DoF joint: ``kind`` is revolute or prismatic, ``axis`` a unit vector
    in the joint's own frame."""

    kind: str
    axis: np.ndarray

    def joint_model(self) -> pin.JointModel:
        """An equivalent bounded one-DoF Pinocchio joint (continuous joints become revolute)."""
        a = self.axis
        for i, ctor in enumerate(
            (pin.JointModelRX, pin.JointModelRY, pin.JointModelRZ)
            if self.kind == "revolute"
            else (pin.JointModelPX, pin.JointModelPY, pin.JointModelPZ)
        ):
            if abs(a[i] - 1.0) < 1e-12:
                return ctor()
        if self.kind == "revolute":
            return pin.JointModelRevoluteUnaligned(float(a[0]), float(a[1]), float(a[2]))
        return pin.JointModelPrismaticUnaligned(float(a[0]), float(a[1]), float(a[2]))


def joint_motion(model: pin.Model, joint_id: int) -> JointMotion:
    """Read the motion subspace of a one-DoF joint (any Pinocchio type: aligned, unaligned,
    unbounded) from its local Jacobian column, so no joint type needs special handling."""
    jmodel = model.joints[joint_id]
    if jmodel.nv != 1:
        raise KinematicsError(
            f"joint '{model.names[joint_id]}' has {jmodel.nv} degrees of freedom; arm chains need one-DoF joints"
        )
    data = model.createData()
    q = pin.neutral(model)
    pin.computeJointJacobians(model, data, q)
    # reshaped: a one-DoF model's 6x1 Jacobian comes back from some Pinocchio builds as a vector
    jacobian = np.asarray(pin.getJointJacobian(model, data, joint_id, pin.ReferenceFrame.LOCAL)).reshape(6, -1)
    column = jacobian[:, jmodel.idx_v]
    linear, angular = column[:3], column[3:]
    if np.linalg.norm(angular) > 0.5:
        return JointMotion("revolute", angular / np.linalg.norm(angular))
    return JointMotion("prismatic", linear / np.linalg.norm(linear))


class BodyModel:
    """A body URDF's Pinocchio model plus what is needed to evaluate it from joint-name maps.

    ``defaults`` are the values of joints that a caller does not give (the robot's home pose);
    joints absent from it sit at 0, moved inside their limits when 0 is outside them.
    """

    def __init__(self, urdf: str | Path, defaults: Mapping[str, float] | None = None):
        self.urdf = Path(urdf)
        self.model = load_model(self.urdf)
        self.data = self.model.createData()
        try:
            self.info: UrdfInfo = read_urdf(self.urdf)
        except UrdfError as exc:
            raise KinematicsError(str(exc)) from exc
        self._slots: list[tuple[str, int, int]] = []  # (joint name, idx_q, nq) of every moving joint
        for jid in range(1, self.model.njoints):
            jm = self.model.joints[jid]
            if jm.nq > 0:
                self._slots.append((self.model.names[jid], jm.idx_q, jm.nq))
        self.joint_names: list[str] = [s[0] for s in self._slots]
        defaults = dict(defaults or {})
        self._defaults: dict[str, float] = {}
        for name in self.joint_names:
            value = defaults.get(name, 0.0)
            joint = self.info.joints.get(name)
            if joint is not None and name not in defaults and joint.type != "continuous":
                value = min(max(value, joint.lower), joint.upper)
            self._defaults[name] = float(value)
        self._mimics = {n: j.mimic for n, j in self.info.joints.items() if j.mimic is not None and n in self._defaults}

    def has_frame(self, name: str) -> bool:
        return self.model.existFrame(name)

    def frame_id(self, name: str) -> int:
        if not self.model.existFrame(name):
            raise KinematicsError(f"frame '{name}' is not in the URDF {self.urdf}")
        return self.model.getFrameId(name)

    def joint_id(self, name: str) -> int:
        if not self.model.existJointName(name):
            raise KinematicsError(f"joint '{name}' is not a movable joint of the URDF {self.urdf}")
        return self.model.getJointId(name)

    def values(self, joint_positions: Mapping[str, float]) -> dict[str, float]:
        """Every model joint's value: given, else a mimic of a given leader, else the default."""
        out = dict(self._defaults)
        for name, value in joint_positions.items():
            if name in out:
                out[name] = float(value)
        for name, mimic in self._mimics.items():
            if name not in joint_positions and mimic.source in joint_positions:
                out[name] = mimic.follow(float(joint_positions[mimic.source]))
        return out

    def configuration(self, joint_positions: Mapping[str, float]) -> np.ndarray:
        """Pinocchio configuration vector for a joint-name → position map (unbounded joints as cos/sin)."""
        values = self.values(joint_positions)
        q = pin.neutral(self.model)
        for name, idx, nq in self._slots:
            v = values[name]
            if not math.isfinite(v):
                raise KinematicsError(f"joint '{name}': position is not finite ({v})")
            if nq == 1:
                q[idx] = v
            elif nq == 2:
                q[idx], q[idx + 1] = math.cos(v), math.sin(v)
        return q

    def frame_placements(self, joint_positions: Mapping[str, float]) -> pin.Data:
        """Run forward kinematics for ``joint_positions``; returns the data (``oMf``, ``oMi``)."""
        pin.framesForwardKinematics(self.model, self.data, self.configuration(joint_positions))
        return self.data
