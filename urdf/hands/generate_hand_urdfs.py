"""Writes the package's own hand URDFs (sharpa_wave_*, dex3_*, inspire_*) in this folder.

Run ``python urdf/hands/generate_hand_urdfs.py`` after changing a number here; the URDFs are
committed so that nothing needs this script at run time.

What is published fact (``ROBOTS.md`` of the project: joint names, axes where known, limits,
mimic multipliers, Dex3-1 fingertip offsets, maker velocity/effort figures) is marked as such.
Everything else -- link lengths, joint placements, the thumb's rest direction -- is a plausible
human-hand-sized approximation written for this package. An operator who needs the exact
kinematics points the hand config's ``urdf`` at the maker's file: the hand configs only name
joints and frames that both files have.

Conventions of these files (left hands; right hands are their mirror image across the xz plane):
all joint origins have rpy = 0 and the axes are written in the hand's root frame at q = 0.
Sharpa Wave and Inspire: root z distal (wrist to fingers), x out of the palm, thumb on -y (left).
Dex3-1: root x distal, palm facing -y (left), as its published axes and fingertip offsets imply.
Positive finger joint angles flex toward the palm for every hand; Sharpa MCP_AA is positive toward
the little finger, as on the real hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MIRROR = np.diag([1.0, -1.0, 1.0])


@dataclass
class Joint:
    name: str
    parent: str
    child: str
    xyz: tuple[float, float, float]
    axis: tuple[float, float, float] | None = None  # None: fixed joint
    lower: float = 0.0
    upper: float = 0.0
    velocity: float = 0.0
    effort: float = 0.0
    mimic: tuple[str, float, float] | None = None  # (joint, multiplier, offset)
    segment: tuple[float, float, float] | None = None  # child link's visual: origin -> this point
    radius: float = 0.008


def unit(*v: float) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    return a / np.linalg.norm(a)


def axis_moving(direction: np.ndarray, toward: np.ndarray) -> np.ndarray:
    """Unit axis about which a positive rotation moves a segment along ``direction`` toward ``toward``."""
    a = np.cross(direction, toward)
    return a / np.linalg.norm(a)


def fmt(v) -> str:
    return " ".join(f"{float(x):.6g}" if abs(float(x)) > 1e-12 else "0" for x in v)


def rpy_aligning_z(d: np.ndarray) -> tuple[float, float, float]:
    """rpy of a frame whose z axis points along ``d`` (for a visual cylinder)."""
    d = d / np.linalg.norm(d)
    pitch = math.atan2(math.hypot(d[0], d[1]), d[2])
    yaw = math.atan2(d[1], d[0])
    # R = Rz(yaw) Ry(pitch) maps z to d; URDF rpy is fixed-axis roll, pitch, yaw: R = Rz Ry Rx.
    return (0.0, pitch, yaw)


def link_xml(name: str, seg: np.ndarray | None, radius: float, mass: float) -> str:
    inertia = 0.4 * mass * radius * radius + 1e-7
    lines = [f'  <link name="{name}">']
    if seg is not None and np.linalg.norm(seg) > 1e-6:
        mid = 0.5 * seg
        rpy = rpy_aligning_z(seg)
        length = float(np.linalg.norm(seg))
        lines += [
            "    <inertial>",
            f'      <origin xyz="{fmt(mid)}" rpy="0 0 0"/>',
            f'      <mass value="{mass:.4g}"/>',
            f'      <inertia ixx="{inertia:.3g}" ixy="0" ixz="0" iyy="{inertia:.3g}" iyz="0" izz="{inertia:.3g}"/>',
            "    </inertial>",
            "    <visual>",
            f'      <origin xyz="{fmt(mid)}" rpy="{fmt(rpy)}"/>',
            f'      <geometry><cylinder radius="{radius:.4g}" length="{length:.4g}"/></geometry>',
            "    </visual>",
        ]
    lines.append("  </link>")
    return "\n".join(lines)


def joint_xml(j: Joint, prefix_fn) -> str:
    kind = "fixed" if j.axis is None else "revolute"
    lines = [
        f'  <joint name="{j.name}" type="{kind}">',
        f'    <parent link="{j.parent}"/>',
        f'    <child link="{j.child}"/>',
        f'    <origin xyz="{fmt(j.xyz)}" rpy="0 0 0"/>',
    ]
    if j.axis is not None:
        lines += [
            f'    <axis xyz="{fmt(j.axis)}"/>',
            f'    <limit lower="{j.lower:.6g}" upper="{j.upper:.6g}" velocity="{j.velocity:.6g}" effort="{j.effort:.6g}"/>',
        ]
        if j.mimic is not None:
            lines.append(f'    <mimic joint="{j.mimic[0]}" multiplier="{j.mimic[1]:.6g}" offset="{j.mimic[2]:.6g}"/>')
    lines.append("  </joint>")
    return "\n".join(lines)


def mirror_joint(j: Joint, rename, negate_limits: bool) -> Joint:
    """Mirror a left-hand joint across the xz plane into the right hand.

    ``negate_limits``: keep the axis and negate (and swap) the limits -- how Dex3-1 publishes its
    right hand. Otherwise flip the axis (-M a) so that a positive angle means the same motion on
    both hands, with the same limits.
    """
    xyz = tuple(MIRROR @ np.asarray(j.xyz))
    seg = None if j.segment is None else tuple(MIRROR @ np.asarray(j.segment))
    axis, lower, upper = j.axis, j.lower, j.upper
    if j.axis is not None:
        a = np.asarray(j.axis)
        if negate_limits:
            # A joint axis normal to the mirror plane maps onto itself with the same sense of motion.
            if abs(a[1]) > 0.999:
                axis = tuple(a)
            else:
                axis, lower, upper = tuple(a), -j.upper, -j.lower
        else:
            axis = tuple(-MIRROR @ a)
    mimic = None if j.mimic is None else (rename(j.mimic[0]), j.mimic[1], j.mimic[2])
    return Joint(rename(j.name), rename(j.parent), rename(j.child), xyz, axis, lower, upper,
                 j.velocity, j.effort, mimic, seg, j.radius)


def write(path: Path, robot: str, header: str, root: str, joints: list[Joint], root_seg) -> None:
    links = [link_xml(root, None if root_seg is None else np.asarray(root_seg), 0.03, 0.35)]
    for j in joints:
        seg = None if j.segment is None else np.asarray(j.segment)
        links.append(link_xml(j.child, seg, j.radius, 0.02 if seg is not None else 0.0))
    body = "\n".join(links) + "\n" + "\n".join(joint_xml(j, None) for j in joints)
    path.write_text(f'<?xml version="1.0"?>\n<!--\n{header}\n-->\n<robot name="{robot}">\n{body}\n</robot>\n')


# --------------------------------------------------------------------------------------------
# Sharpa Wave (22 DoF, all actuated). Facts: joint names and order, root link, *_fingertip frames,
# limits (thumb_CMC_FE, *_MCP_FE, *_MCP_AA, *_PIP, *_DIP, pinky_CMC; thumb CMC_AA, MCP_FE, IP as
# the maker publishes them), velocity/effort figures from the maker's description.
# --------------------------------------------------------------------------------------------
SHARPA_VEL = {"CMC": (11.84, 3.3), "MCP": (16.08, 1.864), "PIP": (11.62, 0.638), "DIP": (14.67, 0.189),
              "pinky_CMC": (35.07, 0.5285)}
# Geometry (approximation): MCP position, finger direction at rest, phalanx lengths (PP, MP, DP->tip).
SHARPA_FINGERS = {
    "index": ((0.004, -0.025, 0.094), (0.0, -0.07, 1.0), (0.045, 0.028, 0.025)),
    "middle": ((0.003, -0.005, 0.098), (0.0, 0.0, 1.0), (0.048, 0.031, 0.026)),
    "ring": ((0.004, 0.015, 0.093), (0.0, 0.06, 1.0), (0.045, 0.029, 0.025)),
    "pinky": ((0.006, 0.034, 0.083), (0.0, 0.13, 1.0), (0.036, 0.023, 0.022)),
}
SHARPA_PINKY_CMC = (0.006, 0.024, 0.040)
SHARPA_THUMB_CMC = (0.012, -0.021, 0.024)
SHARPA_THUMB_DIR = unit(0.12, -0.62, 0.78)  # rest direction: radial and distal, slightly palmar
SHARPA_THUMB_LENGTHS = (0.046, 0.035, 0.029)  # CMC->MCP, MCP->IP, IP->tip


def sharpa_left() -> list[Joint]:
    s = "left"
    joints: list[Joint] = []
    palmar, ulnar = np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
    d = SHARPA_THUMB_DIR
    cmc_fe = axis_moving(d, palmar)
    cmc_aa = axis_moving(d, unit(0, 0.6, 0.8))  # toward the fingers
    mcp_fe = axis_moving(d, unit(0.75, 0.6, 0.2))  # curls toward the palm centre
    mcp_aa = np.cross(d, mcp_fe)
    l1, l2, l3 = SHARPA_THUMB_LENGTHS
    vel = SHARPA_VEL
    joints += [
        Joint(f"{s}_thumb_CMC_FE", f"{s}_hand_C_MC", f"{s}_thumb_CMC_link", SHARPA_THUMB_CMC, tuple(cmc_fe),
              -0.1745, 1.9199, *vel["CMC"]),
        Joint(f"{s}_thumb_CMC_AA", f"{s}_thumb_CMC_link", f"{s}_thumb_MC", (0, 0, 0), tuple(cmc_aa),
              -0.3491, 0.3491, *vel["CMC"], segment=tuple(l1 * d), radius=0.011),
        Joint(f"{s}_thumb_MCP_FE", f"{s}_thumb_MC", f"{s}_thumb_MCP_link", tuple(l1 * d), tuple(mcp_fe),
              -0.5236, 1.3963, *vel["MCP"]),
        Joint(f"{s}_thumb_MCP_AA", f"{s}_thumb_MCP_link", f"{s}_thumb_PP", (0, 0, 0), tuple(mcp_aa),
              -0.3491, 0.3491, *vel["MCP"], segment=tuple(l2 * d), radius=0.010),
        Joint(f"{s}_thumb_IP", f"{s}_thumb_PP", f"{s}_thumb_DP", tuple(l2 * d), tuple(mcp_fe),
              0.0, 1.7453, *vel["PIP"], segment=tuple(l3 * d), radius=0.009),
        Joint(f"{s}_thumb_fingertip_joint", f"{s}_thumb_DP", f"{s}_thumb_fingertip", tuple(l3 * d)),
    ]
    for finger, (mcp, direction, (pp, mp, dp)) in SHARPA_FINGERS.items():
        u = unit(*direction)
        fe = axis_moving(u, palmar)
        aa = axis_moving(u, ulnar - (ulnar @ u) * u)
        parent = f"{s}_hand_C_MC"
        mcp_xyz = np.asarray(mcp)
        if finger == "pinky":
            cmc = np.asarray(SHARPA_PINKY_CMC)
            # Pinky CMC cups the palm: the metacarpal swings palmar and toward the ring finger.
            axis = axis_moving(unit(*(mcp_xyz - cmc)), unit(1.0, -0.5, 0))
            joints.append(Joint(f"{s}_pinky_CMC", parent, f"{s}_pinky_MC", tuple(cmc), tuple(axis),
                                0.0, 0.2618, *vel["pinky_CMC"], segment=tuple(mcp_xyz - cmc), radius=0.012))
            parent, mcp_xyz = f"{s}_pinky_MC", mcp_xyz - cmc
        r = 0.0085 if finger != "pinky" else 0.0075
        joints += [
            Joint(f"{s}_{finger}_MCP_FE", parent, f"{s}_{finger}_MCP_link", tuple(mcp_xyz), tuple(fe),
                  -0.1745, 1.5708, *vel["MCP"]),
            Joint(f"{s}_{finger}_MCP_AA", f"{s}_{finger}_MCP_link", f"{s}_{finger}_PP", (0, 0, 0), tuple(aa),
                  -0.3491, 0.3491, *vel["MCP"], segment=tuple(pp * u), radius=r),
            Joint(f"{s}_{finger}_PIP", f"{s}_{finger}_PP", f"{s}_{finger}_MP", tuple(pp * u), tuple(fe),
                  0.0, 1.7453, *vel["PIP"], segment=tuple(mp * u), radius=r * 0.95),
            Joint(f"{s}_{finger}_DIP", f"{s}_{finger}_MP", f"{s}_{finger}_DP", tuple(mp * u), tuple(fe),
                  0.0, 1.3963, *vel["DIP"], segment=tuple(dp * u), radius=r * 0.9),
            Joint(f"{s}_{finger}_fingertip_joint", f"{s}_{finger}_DP", f"{s}_{finger}_fingertip", tuple(dp * u)),
        ]
    return joints


# --------------------------------------------------------------------------------------------
# Dex3-1 (7 DoF, no mimic). Facts: joint names, axes (thumb_0 y, the others z), left limits and
# mirrored right limits, fingertip offsets (thumb_2_link + (0, -0.05, 0) on the left, index/middle
# _1_link + (0.05, 0, 0)), velocity/effort figures from the maker's description.
# --------------------------------------------------------------------------------------------
def dex3_left() -> list[Joint]:
    s = "left_hand"
    palm = f"{s}_palm_link"
    return [
        Joint(f"{s}_thumb_0_joint", palm, f"{s}_thumb_0_link", (0.024, 0.0, 0.0), (0, 1, 0),
              -1.0472, 1.0472, 6.857, 2.45, segment=(0.0, -0.020, 0.0), radius=0.012),
        Joint(f"{s}_thumb_1_joint", f"{s}_thumb_0_link", f"{s}_thumb_1_link", (-0.002, -0.020, 0.0), (0, 0, 1),
              -0.6109, 1.0472, 12.0, 1.4, segment=(0.0, -0.046, 0.0), radius=0.011),
        Joint(f"{s}_thumb_2_joint", f"{s}_thumb_1_link", f"{s}_thumb_2_link", (0.0, -0.046, 0.0), (0, 0, 1),
              0.0, 1.7453, 12.0, 1.4, segment=(0.0, -0.050, 0.0), radius=0.010),
        Joint(f"{s}_middle_0_joint", palm, f"{s}_middle_0_link", (0.076, 0.002, -0.027), (0, 0, 1),
              -1.5708, 0.0, 12.0, 1.4, segment=(0.046, 0.0, 0.0), radius=0.011),
        Joint(f"{s}_middle_1_joint", f"{s}_middle_0_link", f"{s}_middle_1_link", (0.046, 0.0, 0.0), (0, 0, 1),
              -1.7453, 0.0, 12.0, 1.4, segment=(0.050, 0.0, 0.0), radius=0.010),
        Joint(f"{s}_index_0_joint", palm, f"{s}_index_0_link", (0.076, 0.002, 0.027), (0, 0, 1),
              -1.5708, 0.0, 12.0, 1.4, segment=(0.046, 0.0, 0.0), radius=0.011),
        Joint(f"{s}_index_1_joint", f"{s}_index_0_link", f"{s}_index_1_link", (0.046, 0.0, 0.0), (0, 0, 1),
              -1.7453, 0.0, 12.0, 1.4, segment=(0.050, 0.0, 0.0), radius=0.010),
    ]


# --------------------------------------------------------------------------------------------
# Inspire RH56 (6 actuated + 6 mimic). Facts: joint names, limits, mimic multipliers. No maker
# velocity figure is published in the facts we use: 3.0 rad/s (a full 1.7 rad finger stroke in
# under 0.6 s) is this package's assumption; a robot config may tighten it.
# --------------------------------------------------------------------------------------------
INSPIRE_VEL, INSPIRE_EFFORT = 3.0, 1.0
INSPIRE_FINGERS = {  # MCP position, rest direction, (proximal, intermediate->tip)
    "index": ((0.006, -0.028, 0.125), (0.0, -0.05, 1.0), (0.033, 0.046)),
    "middle": ((0.006, -0.009, 0.128), (0.0, 0.0, 1.0), (0.033, 0.050)),
    "ring": ((0.006, 0.010, 0.125), (0.0, 0.04, 1.0), (0.033, 0.046)),
    "pinky": ((0.006, 0.028, 0.120), (0.0, 0.09, 1.0), (0.030, 0.038)),
}


def inspire_left() -> list[Joint]:
    s = "L"
    base = f"{s}_hand_base_link"
    palmar = np.array([1.0, 0, 0])
    joints: list[Joint] = []
    d = unit(0.10, -0.85, 0.52)  # thumb rest direction (yaw = 0): radial, distal
    yaw_axis = unit(0.0, 0.15, 1.0)  # positive yaw swings the thumb in front of the palm
    pitch_axis = axis_moving(d, unit(-0.05, 0.7, 0.7))  # curls toward the index finger
    base_seg = (0.004, -0.012, 0.010)
    l1, l2, l3 = 0.045, 0.022, 0.026
    joints += [
        Joint(f"{s}_thumb_proximal_yaw_joint", base, f"{s}_thumb_proximal_base", (0.012, -0.016, 0.062),
              tuple(yaw_axis), -0.1, 1.3, INSPIRE_VEL, INSPIRE_EFFORT, segment=base_seg, radius=0.012),
        Joint(f"{s}_thumb_proximal_pitch_joint", f"{s}_thumb_proximal_base", f"{s}_thumb_proximal", base_seg,
              tuple(pitch_axis), 0.0, 0.5, INSPIRE_VEL, INSPIRE_EFFORT, segment=tuple(l1 * d), radius=0.011),
        Joint(f"{s}_thumb_intermediate_joint", f"{s}_thumb_proximal", f"{s}_thumb_intermediate", tuple(l1 * d),
              tuple(pitch_axis), 0.0, 0.8, INSPIRE_VEL, INSPIRE_EFFORT,
              mimic=(f"{s}_thumb_proximal_pitch_joint", 1.6, 0.0), segment=tuple(l2 * d), radius=0.010),
        Joint(f"{s}_thumb_distal_joint", f"{s}_thumb_intermediate", f"{s}_thumb_distal", tuple(l2 * d),
              tuple(pitch_axis), 0.0, 1.2, INSPIRE_VEL, INSPIRE_EFFORT,
              mimic=(f"{s}_thumb_proximal_pitch_joint", 2.4, 0.0), segment=tuple(l3 * d), radius=0.009),
        Joint(f"{s}_thumb_tip_joint", f"{s}_thumb_distal", f"{s}_thumb_tip", tuple(l3 * d)),
    ]
    for finger, (mcp, direction, (prox, inter)) in INSPIRE_FINGERS.items():
        u = unit(*direction)
        fe = axis_moving(u, palmar)
        r = 0.0085 if finger != "pinky" else 0.0075
        joints += [
            Joint(f"{s}_{finger}_proximal_joint", base, f"{s}_{finger}_proximal", mcp, tuple(fe),
                  0.0, 1.7, INSPIRE_VEL, INSPIRE_EFFORT, segment=tuple(prox * u), radius=r),
            Joint(f"{s}_{finger}_intermediate_joint", f"{s}_{finger}_proximal", f"{s}_{finger}_intermediate",
                  tuple(prox * u), tuple(fe), 0.0, 1.7, INSPIRE_VEL, INSPIRE_EFFORT,
                  mimic=(f"{s}_{finger}_proximal_joint", 1.0, 0.0), segment=tuple(inter * u), radius=r * 0.9),
            Joint(f"{s}_{finger}_tip_joint", f"{s}_{finger}_intermediate", f"{s}_{finger}_tip", tuple(inter * u)),
        ]
    return joints


HEADER = """  {title} ({side} hand), written for egoscale_ros by urdf/hands/generate_hand_urdfs.py.

  Joint names, axes where published, limits{extra} are the maker's published facts. The link
  geometry (lengths, joint placements) is an APPROXIMATION of a human-sized hand, not the maker's
  kinematics: for exact fingertip positions point the hand config's `urdf` at the maker's URDF
  (config/hands/{config}.yaml; its joint and frame names match the maker's file).
  No meshes: visuals are cylinders, kinematics never needs them."""


def main(out_dir: Path = HERE) -> list[Path]:
    """Write the six hand URDFs into ``out_dir``; returns their paths."""
    written: list[Path] = []

    def swap(old: str, new: str):
        return lambda name: name.replace(old, new)

    hands = [
        ("sharpa_wave", "Sharpa Wave 22-DoF hand", ", velocity/effort figures", sharpa_left(), "left_hand_C_MC",
         (0.0, 0.0, 0.085), swap("left_", "right_"), False),
        ("dex3", "Unitree Dex3-1 hand", ", velocity/effort figures, fingertip offsets", dex3_left(),
         "left_hand_palm_link", (0.07, 0.0, 0.0), swap("left_", "right_"), True),
        ("inspire", "Inspire RH56 hand (6 actuated + 6 mimic joints)", ", mimic multipliers", inspire_left(),
         "L_hand_base_link", (0.0, 0.0, 0.11), swap("L_", "R_"), False),
    ]
    for key, title, extra, left, root, root_seg, rename, negate in hands:
        for side, joints, root_name, seg in (
            ("left", left, root, root_seg),
            ("right", [mirror_joint(j, rename, negate) for j in left], rename(root), tuple(MIRROR @ root_seg)),
        ):
            header = HEADER.format(title=title, side=side, extra=extra, config=f"{key}_{side}")
            path = Path(out_dir) / f"{key}_{side}.urdf"
            write(path, f"{key}_{side}", header, root_name, joints, seg)
            written.append(path)
    return written


if __name__ == "__main__":
    main()
