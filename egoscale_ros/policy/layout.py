"""Action layout of a policy: where each hand's wrist motion and joint angles sit in an action row.

EgoScale predicts, per hand, a wrist motion in SE(3) and the 22 joint angles of the Sharpa Wave
hand. The layout says how a row of the action matrix ``(H, dim)`` is cut up, so that decoding is
driven by the manifest rather than by constants in code: rotation as rot6d or quaternion,
wrist motion relative to the previous step or absolute, and the frame it is expressed in.

``frame`` says what a wrist action's numbers mean, which a policy cannot be used without:

- relative steps (EgoScale): the transform from step k-1 to step k expressed in the ``wrist``
  frame of step k-1 (``T_k = T_{k-1} · A_k``), or with its rotation and translation along the
  axes of the robot's ``base`` frame, or of the ``camera`` frame (egocentric video). The wrist is
  the common wrist frame of the robot config (x toward the fingers, y toward the thumb side).
- absolute poses: in the ``base`` frame or in the ``camera`` frame (EgoVLA-style).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from egoscale_ros.interfaces.sharpa import SHARPA_WAVE_ORDER
from egoscale_ros.schema import SIDES

ROTATION_SIZES = {"rot6d": 6, "quaternion": 4}
REPRESENTATIONS = ("relative", "absolute")
FRAMES = ("wrist", "base", "camera")
ABSOLUTE_FRAMES = ("base", "camera")

# EgoScale's hand action space is the Sharpa Wave's 22 joints in the maker's index order.
SHARPA_WAVE_JOINTS = SHARPA_WAVE_ORDER


def default_frame(representation: str) -> str:
    """The frame a layout means when it names none: EgoScale's wrist-frame steps, base-frame poses."""
    return "wrist" if representation == "relative" else "base"


def sharpa_joint_names(side: str) -> list[str]:
    """``{side}_<joint>`` names of the Sharpa Wave hand in policy order."""
    return [f"{side}_{j}" for j in SHARPA_WAVE_JOINTS]


@dataclass(frozen=True)
class HandLayout:
    """Column ranges of one hand inside an action row: translation (3), rotation, then joints."""

    side: str
    offset: int
    rotation: str
    joint_names: tuple[str, ...]

    @property
    def translation(self) -> slice:
        return slice(self.offset, self.offset + 3)

    @property
    def rotation_slice(self) -> slice:
        start = self.offset + 3
        return slice(start, start + ROTATION_SIZES[self.rotation])

    @property
    def joints(self) -> slice:
        start = self.rotation_slice.stop
        return slice(start, start + len(self.joint_names))

    @property
    def size(self) -> int:
        return 3 + ROTATION_SIZES[self.rotation] + len(self.joint_names)


@dataclass(frozen=True)
class ActionLayout:
    """The whole action chunk: horizon ``H``, step ``dt`` and the per-hand column layout."""

    horizon: int = 30
    dt: float = 1.0 / 30.0
    rotation: str = "rot6d"
    representation: str = "relative"
    frame: str = ""  # "" = the default for the representation (see default_frame)
    hand_joints: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {s: tuple(sharpa_joint_names(s)) for s in SIDES}
    )

    def __post_init__(self) -> None:
        if not self.frame:
            object.__setattr__(self, "frame", default_frame(self.representation))
        if self.rotation not in ROTATION_SIZES:
            raise ValueError(f"action.rotation must be one of {sorted(ROTATION_SIZES)}, got {self.rotation!r}")
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"action.representation must be one of {REPRESENTATIONS}, got {self.representation!r}")
        if self.frame not in FRAMES:
            raise ValueError(f"action.frame must be one of {FRAMES}, got {self.frame!r}")
        if self.representation == "absolute" and self.frame not in ABSOLUTE_FRAMES:
            raise ValueError(f"action.frame: absolute wrist poses are in one of {ABSOLUTE_FRAMES}, got {self.frame!r}")
        if self.horizon < 1:
            raise ValueError(f"action.horizon must be >= 1, got {self.horizon}")
        if not self.dt > 0:
            raise ValueError(f"action.dt must be > 0, got {self.dt}")
        unknown = set(self.hand_joints) - set(SIDES)
        if unknown or not self.hand_joints:
            raise ValueError(f"action.hands must name sides among {SIDES}, got {sorted(self.hand_joints)}")

    @property
    def sides(self) -> tuple[str, ...]:
        return tuple(s for s in SIDES if s in self.hand_joints)

    @property
    def hands(self) -> dict[str, HandLayout]:
        out, offset = {}, 0
        for side in self.sides:
            hand = HandLayout(side, offset, self.rotation, tuple(self.hand_joints[side]))
            out[side] = hand
            offset += hand.size
        return out

    @property
    def dim(self) -> int:
        return sum(h.size for h in self.hands.values())

    def to_dict(self) -> dict:
        """Manifest form (plain YAML types), with the column ranges spelled out for readers."""
        return {
            "horizon": self.horizon,
            "dt": self.dt,
            "dim": self.dim,
            "rotation": self.rotation,
            "representation": self.representation,
            "frame": self.frame,
            "hands": {
                side: {
                    "translation": [h.translation.start, h.translation.stop],
                    "rotation": [h.rotation_slice.start, h.rotation_slice.stop],
                    "joints": [h.joints.start, h.joints.stop],
                    "joint_names": list(h.joint_names),
                }
                for side, h in self.hands.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict) -> ActionLayout:
        """Inverse of :meth:`to_dict`; column ranges in ``data`` are checked, not trusted."""
        hands = data.get("hands") or {}
        layout = cls(
            horizon=int(data.get("horizon", 30)),
            dt=float(data.get("dt", 1.0 / 30.0)),
            rotation=str(data.get("rotation", "rot6d")),
            representation=str(data.get("representation", "relative")),
            frame=str(data.get("frame", default_frame(str(data.get("representation", "relative"))))),
            hand_joints={s: tuple(h["joint_names"]) for s, h in hands.items()} if hands else
            {s: tuple(sharpa_joint_names(s)) for s in SIDES},
        )
        if "dim" in data and int(data["dim"]) != layout.dim:
            raise ValueError(f"action.dim is {data['dim']} but the hands' layout adds up to {layout.dim}")
        for side, h in hands.items():
            derived = layout.hands[side]
            for key, sl in (("translation", derived.translation), ("rotation", derived.rotation_slice),
                            ("joints", derived.joints)):
                if key in h and list(h[key]) != [sl.start, sl.stop]:
                    raise ValueError(
                        f"action.hands.{side}.{key} is {list(h[key])} but the layout puts it at "
                        f"{[sl.start, sl.stop]} (translation 3, rotation, joints in side order)"
                    )
        return layout
