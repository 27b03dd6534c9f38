"""One arm as a small serial model of its own joints, expressed in the robot's base frame.

A maker's full-body URDF has legs, a waist, hands, fixed and mimic joints; IK needs only the arm.
The chain model holds the arm's joints and nothing else: the root of the chain model *is* the base
frame, each joint's placement folds in everything between it and the previous arm joint (fixed
joints, and movable joints outside the arm, locked at given values), and the end-effector frame
folds in the links after the last arm joint plus the configured offset. Locked values (waist,
torso, a maker's extra wrist joint) can be updated from measurements at any time without
rebuilding anything: only those placements are recomputed.

Forward kinematics and Jacobians then run on a model of n joints in Pinocchio's C++, which is what
keeps an IK iteration in the microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pinocchio as pin

from egoscale_ros.kinematics.pinocchio_model import BodyModel, JointMotion, KinematicsError, joint_motion, parent_joint

_LWA = pin.ReferenceFrame.LOCAL_WORLD_ALIGNED


class ArmChain:
    """Serial model of ``joints`` from ``base_frame`` to ``ee_frame`` (+ ``ee_offset``, 4×4).

    ``lower``/``upper`` are the joint limits the solvers respect (the URDF's, possibly tightened).
    ``locked`` gives values for the body's other joints (default: the body's defaults).
    """

    def __init__(
        self,
        body: BodyModel,
        joints: Sequence[str],
        base_frame: str,
        ee_frame: str,
        ee_offset: np.ndarray | None = None,
        lower: Sequence[float] | None = None,
        upper: Sequence[float] | None = None,
        locked: Mapping[str, float] | None = None,
    ):
        if not joints:
            raise KinematicsError("an arm chain needs at least one joint")
        self.body = body
        self.joint_names: tuple[str, ...] = tuple(joints)
        self.base_frame, self.ee_frame = base_frame, ee_frame
        self.ee_offset = np.eye(4) if ee_offset is None else np.asarray(ee_offset, dtype=float)
        full = body.model
        self._body_ids = [body.joint_id(n) for n in self.joint_names]
        self._base_fid = body.frame_id(base_frame)
        self._ee_fid = body.frame_id(ee_frame)
        self._check_serial(full)
        self.motions: tuple[JointMotion, ...] = tuple(joint_motion(full, j) for j in self._body_ids)

        n = len(self.joint_names)
        self.lower = np.full(n, -np.inf) if lower is None else np.asarray(lower, dtype=float).copy()
        self.upper = np.full(n, np.inf) if upper is None else np.asarray(upper, dtype=float).copy()
        if self.lower.shape != (n,) or self.upper.shape != (n,) or np.any(self.lower > self.upper):
            raise KinematicsError(f"chain {self.joint_names}: limits must be {n} pairs with lower <= upper")

        self.model = pin.Model()
        parent = 0
        for name, motion in zip(self.joint_names, self.motions):
            parent = self.model.addJoint(parent, motion.joint_model(), pin.SE3.Identity(), name)
        # (name, joint, previous frame, placement, type): the signature every Pinocchio since 2.x has.
        self.ee_frame_id = self.model.addFrame(
            pin.Frame("end_effector", parent, 0, pin.SE3.Identity(), pin.FrameType.OP_FRAME)
        )
        self.data = self.model.createData()
        self._locked_key: tuple | None = None
        self.update_locked(locked or {})

    @property
    def n(self) -> int:
        return len(self.joint_names)

    def _check_serial(self, full: pin.Model) -> None:
        supports = full.supports
        for prev, cur, name in zip(self._body_ids, self._body_ids[1:], self.joint_names[1:]):
            if prev not in list(supports[cur]):
                raise KinematicsError(
                    f"arm joints are not one serial chain: '{name}' does not follow '{full.names[prev]}' "
                    f"in {self.body.urdf}"
                )
        ee_parent = parent_joint(full.frames[self._ee_fid])
        if self._body_ids[-1] not in list(supports[ee_parent]):
            raise KinematicsError(
                f"end-effector frame '{self.ee_frame}' is not after the last arm joint "
                f"'{self.joint_names[-1]}' in {self.body.urdf}"
            )
        base_parent = parent_joint(full.frames[self._base_fid])
        if self._body_ids[0] in list(supports[base_parent]):
            raise KinematicsError(f"base frame '{self.base_frame}' moves with the arm joint '{self.joint_names[0]}'")

    def update_locked(self, joint_positions: Mapping[str, float]) -> None:
        """Recompute the placements that depend on joints outside the arm (waist, torso, ...).

        ``joint_positions`` may contain anything (arm joints are ignored, missing joints take the
        body's defaults). Cheap when nothing outside the arm changed.
        """
        values = self.body.values(joint_positions)
        for name in self.joint_names:
            values[name] = 0.0
        key = tuple(values.values())
        if key == self._locked_key:
            return
        data = self.body.frame_placements(values)
        prev = data.oMf[self._base_fid]
        for k, jid in enumerate(self._body_ids):
            self.model.jointPlacements[k + 1] = prev.actInv(data.oMi[jid])
            prev = data.oMi[jid]
        frame = self.model.frames[self.ee_frame_id]
        frame.placement = prev.actInv(data.oMf[self._ee_fid]) * pin.SE3(self.ee_offset)
        self.model.frames[self.ee_frame_id] = frame
        self._locked_key = key

    def placements(self) -> list[np.ndarray]:
        """4×4 placements: each arm joint in its predecessor (the first in the base frame), then
        the end effector in the last joint's frame. Forward kinematics is their product with the
        joint motions interleaved."""
        out = [self.model.jointPlacements[k + 1].homogeneous.copy() for k in range(self.n)]
        out.append(self.model.frames[self.ee_frame_id].placement.homogeneous.copy())
        return out

    def fk(self, q: np.ndarray) -> np.ndarray:
        """End-effector pose in the base frame (4×4) for arm joint positions ``q``."""
        pin.forwardKinematics(self.model, self.data, np.asarray(q, dtype=float))
        return pin.updateFramePlacement(self.model, self.data, self.ee_frame_id).homogeneous.copy()

    def pose_and_jacobian(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(R, p, J)``: end-effector rotation, position and 6×n Jacobian ``[v; ω]`` of the
        end-effector origin with both parts in base-frame axes."""
        jac = pin.computeFrameJacobian(self.model, self.data, q, self.ee_frame_id, _LWA)
        placement = self.data.oMf[self.ee_frame_id]
        # Copies: Pinocchio hands out views of its data, which the next evaluation overwrites.
        return placement.rotation.copy(), placement.translation.copy(), jac

    def clip(self, q: np.ndarray) -> np.ndarray:
        return np.minimum(np.maximum(q, self.lower), self.upper)
