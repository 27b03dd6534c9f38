"""Specs of the package's own hand URDFs (urdf/hands/): names, limits, mimic, mirror symmetry."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pinocchio as pin
import pytest

from egoscale_ros.kinematics.urdf import read_urdf

REPO = Path(__file__).resolve().parents[2]
HANDS = REPO / "urdf" / "hands"

SHARPA_JOINTS = [
    "thumb_CMC_FE", "thumb_CMC_AA", "thumb_MCP_FE", "thumb_MCP_AA", "thumb_IP",
    *[f"{f}_{j}" for f in ("index", "middle", "ring") for j in ("MCP_FE", "MCP_AA", "PIP", "DIP")],
    "pinky_CMC", "pinky_MCP_FE", "pinky_MCP_AA", "pinky_PIP", "pinky_DIP",
]
DEX3_JOINTS = ["thumb_0", "thumb_1", "thumb_2", "middle_0", "middle_1", "index_0", "index_1"]
INSPIRE_ACTUATED = ["thumb_proximal_yaw", "thumb_proximal_pitch", "index_proximal", "middle_proximal",
                    "ring_proximal", "pinky_proximal"]
INSPIRE_MIMIC = {  # mimic joint -> (actuated joint, multiplier)
    "thumb_intermediate": ("thumb_proximal_pitch", 1.6),
    "thumb_distal": ("thumb_proximal_pitch", 2.4),
    **{f"{f}_intermediate": (f"{f}_proximal", 1.0) for f in ("index", "middle", "ring", "pinky")},
}

# Published limits (left hand).
SHARPA_LIMITS = {"thumb_CMC_FE": (-0.1745, 1.9199), "index_MCP_FE": (-0.1745, 1.5708),
                 "middle_MCP_AA": (-0.3491, 0.3491), "ring_PIP": (0.0, 1.7453), "pinky_DIP": (0.0, 1.3963),
                 "pinky_CMC": (0.0, 0.2618)}
DEX3_LEFT_LIMITS = {"thumb_0": (-1.0472, 1.0472), "thumb_1": (-0.6109, 1.0472), "thumb_2": (0.0, 1.7453),
                    "middle_0": (-1.5708, 0.0), "middle_1": (-1.7453, 0.0), "index_0": (-1.5708, 0.0),
                    "index_1": (-1.7453, 0.0)}
INSPIRE_LIMITS = {"thumb_proximal_yaw": (-0.1, 1.3), "thumb_proximal_pitch": (0.0, 0.5),
                  "index_proximal": (0.0, 1.7), "pinky_proximal": (0.0, 1.7)}


def _movable(path: Path) -> list[str]:
    return read_urdf(path).movable_joints


def _model(path: Path) -> pin.Model:
    return pin.buildModelFromXML(path.read_text())


def test_sharpa_wave_has_22_actuated_joints_root_and_fingertip_frames():
    for side in ("left", "right"):
        path = HANDS / f"sharpa_wave_{side}.urdf"
        info = read_urdf(path)
        assert sorted(_movable(path)) == sorted(f"{side}_{j}" for j in SHARPA_JOINTS)
        assert not any(j.mimic_joint for j in info.joints.values())
        assert f"{side}_hand_C_MC" in info.links
        for finger in ("thumb", "index", "middle", "ring", "pinky"):
            assert f"{side}_{finger}_fingertip" in info.links
        children = {j.child for j in info.joints.values()}
        assert sorted(info.links - children) == [f"{side}_hand_C_MC"], "the hand's root link is C_MC"


def test_dex3_has_its_7_joints_and_inspire_6_actuated_plus_6_mimic():
    for side in ("left", "right"):
        assert sorted(_movable(HANDS / f"dex3_{side}.urdf")) == sorted(f"{side}_hand_{j}_joint" for j in DEX3_JOINTS)
        prefix = side[0].upper()
        info = read_urdf(HANDS / f"inspire_{side}.urdf")
        names = set(info.movable_joints)
        assert names == {f"{prefix}_{j}_joint" for j in INSPIRE_ACTUATED + list(INSPIRE_MIMIC)}
        for mimic, (source, multiplier) in INSPIRE_MIMIC.items():
            joint = info.joints[f"{prefix}_{mimic}_joint"]
            assert joint.mimic_joint == f"{prefix}_{source}_joint"
            assert joint.mimic_multiplier == pytest.approx(multiplier) and joint.mimic_offset == 0.0
            src = info.joints[joint.mimic_joint]
            # A mimic joint's range is the image of its source's range.
            assert joint.upper == pytest.approx(multiplier * src.upper, abs=1e-6)
        for tip in ("thumb", "index", "middle", "ring", "pinky"):
            assert f"{prefix}_{tip}_tip" in info.links


@pytest.mark.parametrize("name", sorted(p.name for p in HANDS.glob("*.urdf")))
def test_every_joint_has_a_complete_limit_and_the_file_says_its_geometry_is_approximate(name):
    path = HANDS / name
    text = path.read_text()
    assert "APPROXIMATION" in text.split("<robot")[0], "the header must say the link geometry is approximate"
    for joint in read_urdf(path).joints.values():
        if joint.movable:
            assert joint.lower < joint.upper, joint.name
            assert math.isfinite(joint.velocity) and joint.velocity > 0, joint.name
            assert math.isfinite(joint.effort) and joint.effort > 0, joint.name


def test_limits_are_the_published_ones():
    for side in ("left", "right"):
        sharpa = read_urdf(HANDS / f"sharpa_wave_{side}.urdf").joints
        for j, (lo, hi) in SHARPA_LIMITS.items():
            assert (sharpa[f"{side}_{j}"].lower, sharpa[f"{side}_{j}"].upper) == pytest.approx((lo, hi))
        inspire = read_urdf(HANDS / f"inspire_{side}.urdf").joints
        for j, (lo, hi) in INSPIRE_LIMITS.items():
            joint = inspire[f"{side[0].upper()}_{j}_joint"]
            assert (joint.lower, joint.upper) == pytest.approx((lo, hi))
    dex3_left = read_urdf(HANDS / "dex3_left.urdf").joints
    dex3_right = read_urdf(HANDS / "dex3_right.urdf").joints
    for j, (lo, hi) in DEX3_LEFT_LIMITS.items():
        assert (dex3_left[f"left_hand_{j}_joint"].lower, dex3_left[f"left_hand_{j}_joint"].upper) == pytest.approx((lo, hi))
        # Right hand: mirrored limits (thumb_0 turns about y, normal to the mirror plane: symmetric).
        right = dex3_right[f"right_hand_{j}_joint"]
        assert (right.lower, right.upper) == pytest.approx((-hi, -lo) if j != "thumb_0" else (lo, hi))


def _positions(path: Path, q_by_name: dict[str, float]) -> dict[str, np.ndarray]:
    model = _model(path)
    data = model.createData()
    q = pin.neutral(model)
    for name, value in q_by_name.items():
        q[model.joints[model.getJointId(name)].idx_q] = value
    pin.framesForwardKinematics(model, data, q)
    return {f.name: data.oMf[i].translation.copy() for i, f in enumerate(model.frames)}


@pytest.mark.parametrize("hand,rename,negate", [
    ("sharpa_wave", lambda n: n.replace("left_", "right_"), False),
    ("inspire", lambda n: n.replace("L_", "R_"), False),
    ("dex3", lambda n: n.replace("left_", "right_"), True),
])
def test_right_hand_is_the_mirror_image_of_the_left(hand, rename, negate):
    """Same joint values (Dex3-1: z joints negated, as its right-hand limits are) give mirrored
    frames: y negated. So left and right hands agree on what a positive angle does."""
    left_path, right_path = HANDS / f"{hand}_left.urdf", HANDS / f"{hand}_right.urdf"
    info = read_urdf(left_path)
    rng = np.random.default_rng(3)
    q_left = {n: rng.uniform(j.lower, j.upper) for n, j in info.joints.items() if j.movable}
    q_right = {}
    for n, v in q_left.items():
        flip = negate and "thumb_0" not in n
        q_right[rename(n)] = -v if flip else v
    left, right = _positions(left_path, q_left), _positions(right_path, q_right)
    for name, p in left.items():
        if name == "universe":
            continue
        np.testing.assert_allclose(right[rename(name)], p * np.array([1, -1, 1]), atol=1e-12, err_msg=name)


def test_the_committed_urdfs_are_what_the_generator_writes(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("generate_hand_urdfs", HANDS / "generate_hand_urdfs.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    written = module.main(tmp_path)
    assert len(written) == 6
    for path in written:
        assert path.read_text() == (HANDS / path.name).read_text(), f"{path.name} is out of date: rerun the generator"
