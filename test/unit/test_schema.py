"""Specification of the one strict config reader (robot configs, hand configs, manifests alike)."""

from __future__ import annotations

import pytest
from test_robot_config import write_variant

from egoscale_ros.check import robot_hand_configs
from egoscale_ros.retarget.config import HandConfigError, load_hand_config
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.schema import ConfigError, Fields, load_yaml, parse_yaml


def test_a_key_stated_twice_is_refused_naming_both_lines():
    text = "name: a\narms:\n  left: 1\n  right: 2\n  left: 3\n"
    with pytest.raises(ConfigError, match=r"robot.yaml: duplicate key 'left' at lines 3 and 5"):
        parse_yaml(text, "robot.yaml")


def test_the_same_key_in_different_mappings_is_not_a_duplicate():
    assert parse_yaml("a: {x: 1}\nb: {x: 2}\n", "f.yaml") == {"a": {"x": 1}, "b": {"x": 2}}


def test_the_caller_keeps_its_own_error_type(tmp_path):
    path = tmp_path / "dex3_left.yaml"
    path.write_text("hand: dex3\nhand: inspire\n")
    with pytest.raises(HandConfigError, match="duplicate key 'hand' at lines 1 and 2"):
        load_yaml(path, HandConfigError)
    assert issubclass(HandConfigError, ConfigError)


def test_unknown_keys_are_refused_with_their_path():
    f = Fields({"arms": {"left": {"joints": ["a"], "ee_frmae": "x"}}}, "g1.yaml")
    left = f.sub("arms").sub("left")
    left.names("joints")
    with pytest.raises(ConfigError, match=r"g1.yaml.arms.left: unknown field\(s\) ee_frmae"):
        left.done()


@pytest.mark.parametrize(("value", "kind", "message"), [
    ("fast", float, "rate: expected a finite number, got 'fast'"),
    (float("nan"), float, "rate: expected a finite number"),
    (True, float, "rate: expected a finite number"),
    (True, int, "rate: expected int, got True"),
    (3, str, "rate: expected str, got 3"),
])
def test_wrong_types_are_named_by_field_and_file(value, kind, message):
    with pytest.raises(ConfigError, match=f"robot.yaml.{message}"):
        Fields({"rate": value}, "robot.yaml").get("rate", kind)


def test_a_duplicate_key_in_a_shipped_config_format_is_refused_at_load(tmp_path):
    path = write_variant(tmp_path, "g1_dex3", lambda d: None)
    path.write_text(path.read_text() + "control_rate_hz: 50.0\ncontrol_rate_hz: 60.0\n")
    with pytest.raises(ConfigError, match="duplicate key 'control_rate_hz'"):
        load_robot_config(path)


def test_a_robot_whose_hand_type_disagrees_with_its_hand_config_is_refused_at_load(tmp_path):
    # At load, so every node and `egoscale-ros check` refuse it alike (not only the retargeting node).
    path = write_variant(tmp_path, "g1_dex3", lambda d: d["hands"]["left"].__setitem__("type", "inspire"))
    with pytest.raises(ConfigError, match=r"hands.left.type: 'inspire' but its hand config dex3_left.yaml"):
        load_robot_config(path)


def test_hand_joints_are_stated_once_in_the_hand_config_and_the_robot_reads_them(tmp_path):
    # A second list in the robot YAML could drift from the hand config's (they once differed in
    # order for the Inspire hands): it is refused, naming where the joints live.
    def listed(d):
        d["hands"]["left"]["joints"] = list(load_hand_config("dex3", "left").joints)

    with pytest.raises(ConfigError, match=r"hands.left.joints: a hand's joints are stated once, in its hand config"):
        load_robot_config(write_variant(tmp_path, "g1_dex3", listed))
    for robot in ("g1_dex3", "h1_inspire", "h1_2_inspire", "r1pro_sharpa"):
        config = load_robot_config(robot)
        for side, hand in config.hands.items():
            assert hand.joints == load_hand_config(hand.retarget, side).joints


def test_check_pairs_every_hand_with_its_config():
    config = load_robot_config("g1_dex3")
    hands = robot_hand_configs(config)
    assert hands["left"].path == load_hand_config("dex3", "left").path
    assert config.hands["right"].joints == hands["right"].joints


def test_a_manifest_with_a_misspelt_key_is_refused_not_ignored():
    from pathlib import Path

    from egoscale_ros.policy.manifest import FORMAT, ManifestError, manifest_from_dict

    with pytest.raises(ManifestError, match=r"manifest.yaml: unknown field\(s\) denoisng"):
        manifest_from_dict({"format": FORMAT, "denoisng": {"steps": 8}}, Path("manifest.yaml"))
    with pytest.raises(ManifestError, match=r"manifest.yaml.image: unknown field\(s\) szie"):
        manifest_from_dict({"format": FORMAT, "image": {"szie": 224}}, Path("manifest.yaml"))
