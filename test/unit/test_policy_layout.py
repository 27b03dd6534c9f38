"""Specification of the action layout (EgoScale: per hand wrist SE(3) + 22 Sharpa Wave joints)."""

import pytest

from egoscale_ros.policy.layout import SHARPA_WAVE_JOINTS, ActionLayout, sharpa_joint_names


def test_default_is_the_egoscale_layout():
    layout = ActionLayout()
    assert (layout.horizon, layout.dt, layout.rotation, layout.representation, layout.frame) == (
        30, 1 / 30, "rot6d", "relative", "wrist")
    assert layout.dim == 2 * (3 + 6 + 22)
    left, right = layout.hands["left"], layout.hands["right"]
    assert (left.translation, left.rotation_slice, left.joints) == (slice(0, 3), slice(3, 9), slice(9, 31))
    assert right.translation == slice(31, 34)
    assert list(left.joint_names)[:2] == ["left_thumb_CMC_FE", "left_thumb_CMC_AA"]
    assert len(SHARPA_WAVE_JOINTS) == 22 and sharpa_joint_names("right")[-1] == "right_pinky_DIP"


def test_quaternion_layout_is_narrower():
    assert ActionLayout(rotation="quaternion").dim == 2 * (3 + 4 + 22)


def test_manifest_round_trip():
    layout = ActionLayout(horizon=16, dt=0.05, rotation="quaternion", representation="absolute", frame="camera",
                          hand_joints={"right": ("a", "b")})
    assert ActionLayout.from_dict(layout.to_dict()) == layout
    assert layout.sides == ("right",) and layout.dim == 3 + 4 + 2


def test_a_manifest_without_a_frame_means_wrist_steps_or_base_poses():
    relative = ActionLayout().to_dict()
    del relative["frame"]
    assert ActionLayout.from_dict(relative).frame == "wrist"
    absolute = ActionLayout(representation="absolute").to_dict()
    del absolute["frame"]
    assert ActionLayout.from_dict(absolute).frame == "base"


def test_absolute_poses_in_the_wrist_frame_are_refused():
    with pytest.raises(ValueError, match="action.frame: absolute"):
        ActionLayout(representation="absolute", frame="wrist")


@pytest.mark.parametrize("field, value, message", [
    ("rotation", "euler", "action.rotation"),
    ("representation", "delta", "action.representation"),
    ("frame", "world", "action.frame"),
    ("horizon", 0, "action.horizon"),
])
def test_bad_values_are_refused_by_name(field, value, message):
    with pytest.raises(ValueError, match=message):
        ActionLayout(**{field: value})


def test_column_ranges_in_a_manifest_are_checked():
    data = ActionLayout().to_dict()
    data["hands"]["right"]["joints"] = [30, 52]
    with pytest.raises(ValueError, match="action.hands.right.joints"):
        ActionLayout.from_dict(data)
    data = ActionLayout().to_dict()
    data["dim"] = 60
    with pytest.raises(ValueError, match="action.dim"):
        ActionLayout.from_dict(data)
