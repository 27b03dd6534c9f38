"""Specs of the hand model: Pinocchio and CasADi kinematics agree, mimic joints follow, bad
descriptions are refused naming what is wrong, and maker URDFs (full-body ones too) work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pinocchio as pin
import pytest

from egoscale_ros.kinematics.urdf import Mimic
from egoscale_ros.retarget.config import available_hand_configs, load_hand_config
from egoscale_ros.retarget.hand_model import FramePoint, HandModel, HandModelError
from egoscale_ros.retarget.retargeter import hand_model_for

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO.parent / "shared" / "vendor_urdf"
INSPIRE = REPO / "urdf" / "hands" / "inspire_left.urdf"


@pytest.mark.parametrize("name", available_hand_configs())
def test_casadi_kinematics_equal_pinocchio_for_every_hand(name):
    model = hand_model_for(load_hand_config(name))
    fn = model.casadi_points_function()
    fast = model.fast_points(compile="never")
    rng = np.random.default_rng(0)
    for _ in range(10):
        q = rng.uniform(model.lower, model.upper)
        reference = model.point_positions(q)
        np.testing.assert_allclose(np.array(fn(q)), reference, atol=1e-12)
        np.testing.assert_allclose(fast(q), reference, atol=1e-12)


def test_inspire_mimic_joints_follow_their_actuated_joint():
    cfg = load_hand_config("inspire_left")
    model = hand_model_for(cfg)
    assert model.nq == 6 and len(model.mimic_joint_names) == 6
    by_name = {"L_thumb_proximal_yaw_joint": 0.6, "L_thumb_proximal_pitch_joint": 0.3, "L_index_proximal_joint": 1.0,
               "L_middle_proximal_joint": 1.1, "L_ring_proximal_joint": 1.2, "L_pinky_proximal_joint": 1.3}
    q = np.array([by_name[j] for j in cfg.joints])
    full = dict(zip(model.full_joint_names, model.full_positions(q)))
    assert full["L_thumb_intermediate_joint"] == pytest.approx(1.6 * 0.3)
    assert full["L_thumb_distal_joint"] == pytest.approx(2.4 * 0.3)
    assert full["L_pinky_intermediate_joint"] == pytest.approx(1.3)
    # The tips move exactly as in the full URDF model with the mimic joints set by hand.
    urdf = pin.buildModelFromXML(INSPIRE.read_text())
    data = urdf.createData()
    qf = pin.neutral(urdf)
    for n, v in full.items():
        qf[urdf.joints[urdf.getJointId(n)].idx_q] = v
    pin.framesForwardKinematics(urdf, data, qf)
    tip = data.oMf[urdf.getFrameId("L_thumb_tip")].translation
    assert model.point_positions(q)[model.point_names.index("thumb_tip")] == pytest.approx(tip, abs=1e-12)


def test_a_mimic_joints_limits_bound_its_source():
    # Thumb distal: [0, 1.2] = 2.4 x pitch; declare a mimic of 4.0 instead: pitch must stay <= 0.3.
    model = HandModel(
        INSPIRE, "L_hand_base_link", ["L_thumb_proximal_yaw_joint", "L_thumb_proximal_pitch_joint"],
        {"tip": FramePoint("L_thumb_tip")},
        [Mimic("L_thumb_distal_joint", "L_thumb_proximal_pitch_joint", 4.0)],
    )
    assert model.upper[1] == pytest.approx(0.3)


def test_bad_descriptions_are_refused_naming_what_is_wrong():
    with pytest.raises(HandModelError, match="no_such_joint"):
        HandModel(INSPIRE, "L_hand_base_link", ["no_such_joint"], {})
    with pytest.raises(HandModelError, match="no_such_frame"):
        HandModel(INSPIRE, "L_hand_base_link", ["L_index_proximal_joint"], {"x": FramePoint("no_such_frame")})
    with pytest.raises(HandModelError, match="root frame 'nowhere'"):
        HandModel(INSPIRE, "nowhere", ["L_index_proximal_joint"], {})
    # The index tip moves with the index joint, which is not declared: refused, not silently locked.
    with pytest.raises(HandModelError, match="L_index_proximal_joint"):
        HandModel(INSPIRE, "L_hand_base_link", ["L_thumb_proximal_yaw_joint"], {"tip": FramePoint("L_index_tip")})
    with pytest.raises(HandModelError, match="both actuated and a mimic"):
        HandModel(INSPIRE, "L_hand_base_link", ["L_index_proximal_joint", "L_index_intermediate_joint"], {},
                  [Mimic("L_index_intermediate_joint", "L_index_proximal_joint", 1.0)])


def _vendor(path: str) -> Path:
    p = VENDOR / path
    if not p.is_file():
        pytest.skip(f"maker's URDF not available ({p}): ../shared/vendor_urdf is absent")
    return p


def test_a_full_body_maker_urdf_gives_the_same_hand_as_the_hand_alone():
    """G1 + Dex3-1 in one file: the arm/leg joints are locked and positions stay in the palm frame."""
    body = _vendor("unitree_g1/g1_29dof_with_hand_rev_1_0.urdf")
    alone = _vendor("unitree_dex3/unitree_dex3_left.urdf")
    for side in ("left", "right"):
        cfg = load_hand_config("dex3", side, urdf=body)
        full = hand_model_for(cfg)
        solo = hand_model_for(load_hand_config("dex3", side, urdf=str(alone).replace("left", side)))
        assert full.nq == 7
        q = np.random.default_rng(1).uniform(full.lower, full.upper)
        np.testing.assert_allclose(full.point_positions(q), solo.point_positions(q), atol=1e-6)
        np.testing.assert_allclose(np.array(full.casadi_points_function()(q)), full.point_positions(q), atol=1e-12)


@pytest.mark.parametrize("hand,files", [
    ("sharpa_wave", "sharpa_wave/{side}_sharpa_wave.urdf"),
    ("dex3", "unitree_dex3/unitree_dex3_{side}.urdf"),
    ("inspire", "inspire_hand/inspire_hand_{side}.urdf"),
])
def test_every_hand_config_loads_on_the_makers_urdf(hand, files):
    for side in ("left", "right"):
        cfg = load_hand_config(hand, side, urdf=_vendor(files.format(side=side)))
        model = hand_model_for(cfg)
        ours = hand_model_for(load_hand_config(hand, side))
        assert model.joint_names == ours.joint_names
        np.testing.assert_allclose(model.lower, ours.lower, atol=0.2)  # published limits, maker's decimals
        assert set(model.point_names) == set(ours.point_names)
        q = np.random.default_rng(2).uniform(model.lower, model.upper)
        np.testing.assert_allclose(np.array(model.casadi_points_function()(q)), model.point_positions(q), atol=1e-12)
