"""Specs of the hand configs (config/hands/) and their loader."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from egoscale_ros.retarget.config import (
    HandConfigError,
    available_hand_configs,
    load_hand_config,
    parse_hand_config,
)
from egoscale_ros.robot.config import load_robot_config

REPO = Path(__file__).resolve().parents[2]


def test_there_is_one_config_per_hand_and_side():
    assert available_hand_configs() == [f"{h}_{s}" for h in ("dex3", "inspire", "sharpa_wave") for s in ("left", "right")]
    for name in available_hand_configs():
        cfg = load_hand_config(name)
        assert cfg.name == name and name == f"{cfg.hand}_{cfg.side}"
        assert cfg.urdf.is_file()
    assert len(load_hand_config("sharpa_wave", "left").joints) == 22
    assert len(load_hand_config("dex3", "right").joints) == 7
    assert len(load_hand_config("inspire", "left").joints) == 6


def test_the_robot_configs_hands_are_joints_of_their_hand_configs():
    for robot in ("g1_dex3", "h1_inspire", "r1pro_sharpa"):
        config = load_robot_config(robot)
        for side, hand in config.hands.items():
            cfg = load_hand_config(hand.retarget, side)
            assert cfg.hand == hand.type
            assert set(hand.joints) == set(cfg.joints), f"{robot}.hands.{side}"


def _load(tmp_path: Path, edit) -> None:
    data = yaml.safe_load((REPO / "config" / "hands" / "dex3_left.yaml").read_text())
    edit(data)
    path = tmp_path / "hand.yaml"
    path.write_text(yaml.safe_dump(data))
    parse_hand_config(data, path)


@pytest.mark.parametrize("edit,message", [
    (lambda d: d.update(colour="red"), "unknown field"),
    (lambda d: d.update(hand="allegro"), "hand: 'allegro'"),
    (lambda d: d.update(side="middle"), "side"),
    (lambda d: d.update(urdf="no/such/file.urdf"), "urdf: file not found"),
    (lambda d: d["keypoints"].update(sixth_tip={"frame": "x"}), "'sixth_tip' is not a hand keypoint"),
    (lambda d: d["keypoints"].pop("thumb_tip"), "thumb_tip"),
    (lambda d: d["retargeting"]["vectors"].append(["wrist", "index_tip", -1.0]), "weight"),
    (lambda d: d["retargeting"]["pinch"].update(pairs=[["index_tip", "thumb_tip"]]), "is not one of the vectors"),
    (lambda d: d["retargeting"]["solver"].update(name="snopt"), "solver.name"),
    (lambda d: d["retargeting"].update(regularization="lots"), "regularization"),
    (lambda d: d["smoothing"].update(lowpass_alpha=2.0), "lowpass_alpha"),
    (lambda d: d["wrist_frame"].update(reference_pose={"elbow": 1.0}), "reference_pose"),
])
def test_a_malformed_config_is_refused_naming_the_field(tmp_path, edit, message):
    with pytest.raises(HandConfigError, match=message) as info:
        _load(tmp_path, edit)
    assert "hand.yaml" in str(info.value), "the error names the file"


def test_asking_for_the_wrong_side_or_an_unknown_hand_is_an_error():
    with pytest.raises(HandConfigError, match="known"):
        load_hand_config("allegro", "left")
    with pytest.raises(HandConfigError, match="left hand"):
        load_hand_config(REPO / "config" / "hands" / "dex3_left.yaml", "right")
