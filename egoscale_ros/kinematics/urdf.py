"""Read the facts a robot config is checked against from a URDF: joints, links, limits, mimic.

Plain XML parsing (no Pinocchio) so that a config can be validated, and joint limits read, anywhere
and fast. Kinematics proper lives in ``egoscale_ros.kinematics``.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


class UrdfError(ValueError):
    """A URDF that cannot be read, or lacks what a config asks of it."""


@dataclass(frozen=True)
class Mimic:
    """URDF ``<mimic>``: ``q[joint] = multiplier * q[source] + offset`` (the relation's one home:
    FK, retargeting and the mock hardware all apply it from here)."""

    joint: str
    source: str
    multiplier: float = 1.0
    offset: float = 0.0

    def follow(self, source_value):
        """The joint's value for ``source_value`` (floats, arrays and CasADi expressions alike)."""
        return self.multiplier * source_value + self.offset

    def source_range(self, lower: float, upper: float) -> tuple[float, float]:
        """Range of the source that keeps the joint within ``[lower, upper]`` (multiplier != 0)."""
        a, b = (lower - self.offset) / self.multiplier, (upper - self.offset) / self.multiplier
        return (a, b) if self.multiplier > 0 else (b, a)


@dataclass(frozen=True)
class UrdfJoint:
    name: str
    type: str  # revolute, continuous, prismatic, fixed, floating, planar
    parent: str
    child: str
    lower: float
    upper: float
    velocity: float  # rad/s (or m/s); inf when the URDF gives none
    effort: float
    mimic_joint: str | None = None
    mimic_multiplier: float = 1.0
    mimic_offset: float = 0.0
    #: False when the URDF gives no velocity or 0 ("not given" in some vendor files): the limit
    #: in force must then come from the robot config, never "unlimited"
    velocity_given: bool = True

    @property
    def movable(self) -> bool:
        return self.type in ("revolute", "continuous", "prismatic")

    @property
    def mimic(self) -> Mimic | None:
        """The joint's ``<mimic>`` relation, or None."""
        if self.mimic_joint is None:
            return None
        return Mimic(self.name, self.mimic_joint, self.mimic_multiplier, self.mimic_offset)


@dataclass(frozen=True)
class UrdfInfo:
    path: Path
    robot_name: str
    joints: dict[str, UrdfJoint]
    links: frozenset[str]

    @property
    def movable_joints(self) -> list[str]:
        """Movable joints in file order (what a joint_states publisher reports)."""
        return [n for n, j in self.joints.items() if j.movable]

    def require_joint(self, name: str, where: str) -> UrdfJoint:
        joint = self.joints.get(name)
        if joint is None:
            raise UrdfError(f"{where}: joint '{name}' is not in the URDF {self.path}")
        if not joint.movable:
            raise UrdfError(f"{where}: joint '{name}' in {self.path} is '{joint.type}', not movable")
        return joint

    def require_frame(self, name: str, where: str) -> None:
        if name not in self.links and name not in self.joints:
            raise UrdfError(f"{where}: frame '{name}' is not a link of the URDF {self.path}")


def _float(elem: ET.Element | None, attr: str, default: float, where: str = "") -> float:
    if elem is None or elem.get(attr) is None:
        return default
    raw = elem.get(attr)
    try:
        value = float(raw)
    except ValueError:
        raise UrdfError(f"{where}: <{elem.tag} {attr}=\"{raw}\"> is not a number") from None
    if math.isnan(value):
        raise UrdfError(f"{where}: <{elem.tag} {attr}=\"{raw}\"> is not a number")
    return value


@lru_cache(maxsize=32)
def read_urdf(path: str | Path) -> UrdfInfo:
    """Parse ``path``; raises :class:`UrdfError` naming the file on any problem."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError as exc:
        raise UrdfError(f"URDF file not found: {path}") from exc
    except ET.ParseError as exc:
        raise UrdfError(f"URDF {path} is not valid XML: {exc}") from exc
    if root.tag != "robot":
        raise UrdfError(f"URDF {path}: root element is <{root.tag}>, expected <robot>")
    joints: dict[str, UrdfJoint] = {}
    for j in root.findall("joint"):
        name, jtype = j.get("name"), j.get("type")
        parent, child = j.find("parent"), j.find("child")
        if not name or not jtype or parent is None or child is None:
            raise UrdfError(f"URDF {path}: a <joint> lacks name, type, parent or child")
        limit, mimic = j.find("limit"), j.find("mimic")
        where = f"URDF {path}: joint '{name}'"
        if jtype == "continuous":
            lower, upper = -math.inf, math.inf
        elif jtype in ("revolute", "prismatic"):
            if limit is None:
                raise UrdfError(f"URDF {path}: {jtype} joint '{name}' has no <limit>")
            lower, upper = _float(limit, "lower", 0.0, where), _float(limit, "upper", 0.0, where)
        else:
            lower, upper = 0.0, 0.0
        velocity = _float(limit, "velocity", math.inf, where)
        given = math.isfinite(velocity) and velocity > 0
        if not given:  # some vendor files write 0 for "not given": no limit known, not "unlimited"
            velocity = math.inf
        joints[name] = UrdfJoint(
            name=name,
            type=jtype,
            parent=parent.get("link", ""),
            child=child.get("link", ""),
            lower=lower,
            upper=upper,
            velocity=velocity,
            effort=_float(limit, "effort", math.inf, where),
            mimic_joint=mimic.get("joint") if mimic is not None else None,
            mimic_multiplier=_float(mimic, "multiplier", 1.0, where),
            mimic_offset=_float(mimic, "offset", 0.0, where),
            velocity_given=given,
        )
    links = frozenset(link.get("name", "") for link in root.findall("link"))
    return UrdfInfo(path=path, robot_name=root.get("name", ""), joints=joints, links=links)
