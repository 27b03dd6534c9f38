"""A robot hand as retargeting sees it: actuated joints, mimic joints, and named points.

Built from a URDF (the package's own or the maker's, full-body files included): the joints the
config names are the variables, mimic joints follow them (``multiplier × actuated + offset``), every
other movable joint of the file is locked at zero, and named points (fingertips, keypoints) are
frames of the file plus a fixed offset. Positions are always expressed in the hand's root frame.

Two forward kinematics of the same model: Pinocchio (numeric, for sources and checks) and CasADi
expressions (for the optimisers) from the kinematics package's one builder
(``kinematics.casadi_fk.tree_poses``) over the Pinocchio model's joint placements and axes; they
agree to rounding error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import casadi as ca
import numpy as np
import pinocchio as pin

from egoscale_ros.kinematics.casadi_fk import tree_poses
from egoscale_ros.kinematics.pinocchio_model import JointMotion, joint_motion, load_model, parent_joint
from egoscale_ros.kinematics.urdf import Mimic, UrdfError, read_urdf
from egoscale_ros.retarget.compiled import BufferedFunction


class HandModelError(ValueError):
    """A hand description that does not fit its URDF (the message names the joint or frame)."""


@dataclass(frozen=True)
class FramePoint:
    """A point rigidly attached to a URDF frame (link or joint): ``frame`` origin + ``offset``."""

    frame: str
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)


def _joint_motions(model: pin.Model) -> list[JointMotion]:
    """Per joint of ``model`` after the universe: its motion, as the kinematics package reads it."""
    out = []
    for jid in range(1, model.njoints):
        short = model.joints[jid].shortname()
        if model.joints[jid].nv != 1 or not short.startswith(("JointModelR", "JointModelP")) or "Unbounded" in short:
            raise HandModelError(f"joint '{model.names[jid]}' is {short}: hands need revolute or prismatic joints")
        out.append(joint_motion(model, jid))
    return out


class HandModel:
    """Kinematics of one hand: actuated joints (in command order), mimic joints, named points.

    ``joint_names``: actuated joints, the optimisation variables, in command order.
    ``points``: name -> :class:`FramePoint`; ``root_frame``: the frame positions are given in.
    ``mimic``: extra or overriding mimic relations; those in the URDF's ``<mimic>`` tags are used
    for every joint of the file whose source is actuated.
    """

    def __init__(
        self,
        urdf_path: str | Path,
        root_frame: str,
        joint_names: list[str] | tuple[str, ...],
        points: dict[str, FramePoint],
        mimic: list[Mimic] | None = None,
    ):
        self.urdf_path = Path(urdf_path)
        self.root_frame = root_frame
        self.joint_names: list[str] = list(joint_names)
        self.point_names: list[str] = list(points)
        where = str(self.urdf_path)
        try:
            info = read_urdf(self.urdf_path)
        except UrdfError as exc:
            raise HandModelError(str(exc)) from exc
        if len(set(self.joint_names)) != len(self.joint_names):
            raise HandModelError(f"{where}: duplicate actuated joint names {self.joint_names}")
        for name in self.joint_names:
            joint = info.joints.get(name)
            if joint is None:
                raise HandModelError(f"joint '{name}' is not in the URDF {where}")
            if joint.type not in ("revolute", "prismatic"):
                raise HandModelError(f"joint '{name}' in {where} is '{joint.type}', not revolute or prismatic")

        # Mimic relations: URDF tags first, explicit ones override.
        relations: dict[str, Mimic] = {}
        for joint in info.joints.values():
            if joint.mimic_joint and joint.mimic_joint in self.joint_names and joint.name not in self.joint_names:
                relations[joint.name] = joint.mimic
        for m in mimic or []:
            if m.joint not in info.joints:
                raise HandModelError(f"mimic joint '{m.joint}' is not in the URDF {where}")
            if m.source not in self.joint_names:
                raise HandModelError(f"mimic joint '{m.joint}' follows '{m.source}', which is not an actuated joint")
            if m.joint in self.joint_names:
                raise HandModelError(f"joint '{m.joint}' cannot be both actuated and a mimic joint")
            relations[m.joint] = m
        self.mimics: list[Mimic] = list(relations.values())
        self.mimic_joint_names = [m.joint for m in self.mimics]
        self.full_joint_names = self.joint_names + self.mimic_joint_names

        self._build_pinocchio(info)
        self._resolve_points(points)
        self._limits(info)
        self._casadi_points_fn: ca.Function | None = None

    # --- construction ---------------------------------------------------------------------

    def _build_pinocchio(self, info) -> None:
        where = str(self.urdf_path)
        full = load_model(self.urdf_path)  # cached per file version, shared with the other kinematics
        if not full.existFrame(self.root_frame):
            raise HandModelError(f"root frame '{self.root_frame}' is not in the URDF {where}")
        hand = set(self.full_joint_names)
        lock_ids, lock_q = [], pin.neutral(full)
        for jid in range(1, full.njoints):
            name = full.names[jid]
            if name not in hand:
                lock_ids.append(jid)
                idx = full.joints[jid].idx_q
                for k in range(full.joints[jid].nq):
                    lock_q[idx + k] = min(max(0.0, full.lowerPositionLimit[idx + k]), full.upperPositionLimit[idx + k])
        # A point may only depend on hand joints below the root: anything else would be silently locked.
        root_support = set(full.supports[parent_joint(full.frames[full.getFrameId(self.root_frame)])])
        self._full_model = full
        self._root_support = root_support
        self._hand_set = hand
        model = pin.buildReducedModel(full, lock_ids, lock_q) if lock_ids else full
        self.model = model
        self.data = model.createData()
        root_id = model.getFrameId(self.root_frame)
        if parent_joint(model.frames[root_id]) != 0:
            raise HandModelError(
                f"root frame '{self.root_frame}' moves with joint '{model.names[parent_joint(model.frames[root_id])]}' "
                f"in {where}: the root must be upstream of every hand joint"
            )
        pin.framesForwardKinematics(model, self.data, pin.neutral(model))
        self._root_inv = self.data.oMf[root_id].inverse()
        # Map actuated/mimic joints to the reduced model's configuration vector.
        self._q_index: dict[str, int] = {}
        for name in self.full_joint_names:
            jid = model.getJointId(name)
            if jid >= model.njoints or model.joints[jid].nq != 1:
                raise HandModelError(f"joint '{name}' in {where} is not a 1-DoF joint")
            self._q_index[name] = model.joints[jid].idx_q
        self._joint_motions = _joint_motions(model)

    def _resolve_points(self, points: dict[str, FramePoint]) -> None:
        full, model = self._full_model, self.model
        self._point_joint: list[int] = []
        self._point_local: list[np.ndarray] = []
        for name, fp in points.items():
            if not full.existFrame(fp.frame):
                raise HandModelError(f"point '{name}': frame '{fp.frame}' is not in the URDF {self.urdf_path}")
            support = full.supports[parent_joint(full.frames[full.getFrameId(fp.frame)])]
            for jid in support[1:]:
                jname = full.names[jid]
                if jid not in self._root_support and jname not in self._hand_set:
                    raise HandModelError(
                        f"point '{name}' (frame '{fp.frame}') moves with joint '{jname}', which is neither an "
                        f"actuated joint of the hand config nor a mimic of one ({self.urdf_path})"
                    )
            frame = model.frames[model.getFrameId(fp.frame)]
            self._point_joint.append(parent_joint(frame))
            self._point_local.append(frame.placement.act(np.asarray(fp.offset, dtype=float)))

    def _limits(self, info) -> None:
        n = len(self.joint_names)
        lower = np.array([info.joints[j].lower for j in self.joint_names], dtype=float)
        upper = np.array([info.joints[j].upper for j in self.joint_names], dtype=float)
        velocity = np.array([info.joints[j].velocity for j in self.joint_names], dtype=float)
        # A mimic joint's own limits bound its source: l <= m q + o <= u.
        for m in self.mimics:
            i = self.joint_names.index(m.source)
            j = info.joints[m.joint]
            if m.multiplier == 0:
                continue
            lo, hi = m.source_range(j.lower, j.upper)
            lower[i], upper[i] = max(lower[i], lo), min(upper[i], hi)
            if math.isfinite(j.velocity):
                velocity[i] = min(velocity[i], j.velocity / abs(m.multiplier))
        bad = [self.joint_names[i] for i in range(n) if not lower[i] <= upper[i]]
        if bad:
            raise HandModelError(f"{self.urdf_path}: empty position range for {bad} (joint and mimic limits disagree)")
        self.lower, self.upper, self.velocity = lower, upper, velocity
        self._mimic_rows = np.array([self.joint_names.index(m.source) for m in self.mimics], dtype=int)
        self._mimic_mul = np.array([m.multiplier for m in self.mimics], dtype=float)
        self._mimic_off = np.array([m.offset for m in self.mimics], dtype=float)

    # --- numeric kinematics ---------------------------------------------------------------

    @property
    def nq(self) -> int:
        return len(self.joint_names)

    def clip(self, q: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(q, dtype=float), self.lower, self.upper)

    def full_positions(self, q: np.ndarray) -> np.ndarray:
        """Actuated then mimic joint positions (order of :attr:`full_joint_names`)."""
        q = np.asarray(q, dtype=float)
        return np.concatenate([q, q[self._mimic_rows] * self._mimic_mul + self._mimic_off])

    def _model_q(self, q: np.ndarray) -> np.ndarray:
        qm = pin.neutral(self.model)
        for name, value in zip(self.full_joint_names, self.full_positions(q)):
            qm[self._q_index[name]] = value
        return qm

    def point_positions(self, q: np.ndarray) -> np.ndarray:
        """(n_points, 3) positions of the named points in the root frame (Pinocchio)."""
        q = np.asarray(q, dtype=float)
        if q.shape != (self.nq,):
            raise ValueError(f"expected {self.nq} joint positions, got shape {q.shape}")
        pin.forwardKinematics(self.model, self.data, self._model_q(q))
        out = np.empty((len(self.point_names), 3))
        for k, (jid, local) in enumerate(zip(self._point_joint, self._point_local)):
            out[k] = self._root_inv.act(self.data.oMi[jid].act(local))
        return out

    # --- symbolic kinematics --------------------------------------------------------------

    def casadi_points(self, q: ca.SX) -> ca.SX:
        """(n_points, 3) CasADi expression of the named points in the root frame."""
        model = self.model
        qm: list = [0.0] * model.nq
        for i, name in enumerate(self.joint_names):
            qm[self._q_index[name]] = q[i]
        for m in self.mimics:
            qm[self._q_index[m.joint]] = m.follow(q[self.joint_names.index(m.source)])
        # Joint jid of the model is entry jid - 1 of the tree (the universe is the base).
        joints = range(1, model.njoints)
        poses = tree_poses([model.parents[jid] - 1 for jid in joints],
                           [(ca.DM(model.jointPlacements[jid].rotation), ca.DM(model.jointPlacements[jid].translation))
                            for jid in joints],
                           self._joint_motions, [qm[model.joints[jid].idx_q] for jid in joints])
        rot = [ca.DM.eye(3)] + [r for r, _ in poses]
        pos = [ca.DM.zeros(3)] + [t for _, t in poses]
        r_root = ca.DM(self._root_inv.rotation)
        p_root = ca.DM(self._root_inv.translation)
        rows = [
            (r_root @ (rot[jid] @ ca.DM(local) + pos[jid]) + p_root).T
            for jid, local in zip(self._point_joint, self._point_local)
        ]
        return ca.vertcat(*rows)

    def casadi_points_function(self) -> ca.Function:
        """CasADi Function ``q -> (n_points, 3)`` (built once)."""
        if self._casadi_points_fn is None:
            q = ca.SX.sym("q", self.nq)
            self._casadi_points_fn = ca.Function("hand_points", [q], [self.casadi_points(q)])
        return self._casadi_points_fn

    def fast_points(self, name: str = "hand_points", compile: str = "auto") -> Callable[[np.ndarray], np.ndarray]:
        """``q -> (n_points, 3)`` like :meth:`point_positions`, through a buffered (and, when a C
        compiler is available, compiled) CasADi function: the per-frame path of a hand source."""
        q = ca.SX.sym("q", self.nq)
        flat = ca.reshape(self.casadi_points(q).T, -1, 1)
        fn = BufferedFunction(ca.Function(name, [q], [flat]), compile)
        n = len(self.point_names)
        return lambda qv: fn(qv)[0].reshape(n, 3)
