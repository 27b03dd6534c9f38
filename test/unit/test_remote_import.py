"""``import-policy``: GR00T checkpoint metadata -> a manifest the node and ``check`` accept, and
errors that name the key that cannot be mapped."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from egoscale_ros.policy.fit import check_policy
from egoscale_ros.policy.manifest import load_manifest
from egoscale_ros.remote import importer
from egoscale_ros.remote.reference import gr00t_checkpoint_files
from egoscale_ros.robot.config import load_robot_config

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "gr00t_checkpoint"


@pytest.fixture(scope="module")
def g1():
    return load_robot_config("g1_dex3")


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "ckpt"))


def test_fixture_is_what_the_generator_writes(g1):
    for name, content in gr00t_checkpoint_files(g1).items():
        assert json.loads((FIXTURE / name).read_text()) == content, name


def test_import_maps_every_key_and_check_accepts_the_manifest(checkpoint, g1, capsys):
    args = argparse.Namespace(checkpoint=str(checkpoint), robot="g1_dex3", server="", output="", embodiment_tag="",
                              host="10.0.0.2", port=5555, timeout=0.3, api_token="secret", dt=1 / 30, execute_s=0.4,
                              map=[], instruction="stack the cups")
    assert importer.run(args) == 0
    path = checkpoint / "egoscale_manifest.yaml"
    manifest = load_manifest(path)
    spec = manifest.remote
    assert spec.video == {"ego_view": "head"} and spec.language == "annotation.human.task_description"
    assert spec.horizon == 30 and spec.execute_steps == 12 and spec.embodiment_tag == "new_embodiment"
    roles = {e.key: (e.wrist or e.hand, e.format, e.rep) for e in spec.action}
    assert roles["left_wrist_eef"] == ("left", "xyz+rot6d", "absolute")  # the server decodes RELATIVE itself
    assert len(spec.hand_joints["right"]) == 22
    assert spec.state_joints[:7] == list(g1.arms["left"].joints)
    assert manifest.backends["gr00t_server"]["api_token"] == "secret" and manifest.default_instruction == "stack the cups"
    assert set(spec.statistics) == {"left_wrist_eef", "right_wrist_eef", "left_hand", "right_hand"}
    assert check_policy(str(path), g1)["remote"] == "gr00t"


def _edit(checkpoint: Path, fn) -> None:
    path = checkpoint / "processor_config.json"
    data = json.loads(path.read_text())
    fn(data["processor_kwargs"]["modality_configs"]["new_embodiment"])
    path.write_text(json.dumps(data))


def test_joint_space_arm_action_is_an_error_naming_the_key(checkpoint, g1):
    def add_arm(cfg):
        cfg["action"]["modality_keys"].append("left_arm")
        cfg["action"]["action_configs"].append({"rep": "ABSOLUTE", "type": "NON_EEF", "format": "DEFAULT"})
    _edit(checkpoint, add_arm)
    tag, configs, stats, _ = importer.read_checkpoint(checkpoint)
    with pytest.raises(importer.ImportError_, match="action key 'left_arm'"):
        importer.spec_from_gr00t(configs, g1, stats, tag)


def test_unmappable_state_key_is_named_and_a_map_fixes_it(checkpoint, g1):
    _edit(checkpoint, lambda cfg: cfg["state"]["modality_keys"].append("waist"))
    tag, configs, stats, _ = importer.read_checkpoint(checkpoint)
    with pytest.raises(importer.ImportError_, match="state key 'waist'"):
        importer.spec_from_gr00t(configs, g1, stats, tag)
    overrides = importer._parse_overrides(["waist=joints:waist_yaw_joint"])
    spec = importer.spec_from_gr00t(configs, g1, stats, tag, overrides=overrides)
    assert spec.state[-1].joints == ("waist_yaw_joint",)


def test_dimension_disagreeing_with_the_statistics_is_an_error(checkpoint, g1):
    stats_path = checkpoint / "statistics.json"
    data = json.loads(stats_path.read_text())
    for field in data["new_embodiment"]["state"]["left_arm"].values():
        field.pop()
    stats_path.write_text(json.dumps(data))
    tag, configs, stats, _ = importer.read_checkpoint(checkpoint)
    with pytest.raises(importer.ImportError_, match="state key 'left_arm' has 6 values"):
        importer.spec_from_gr00t(configs, g1, stats, tag)


def test_missing_files_and_unknown_embodiments_are_named(tmp_path, checkpoint):
    with pytest.raises(importer.ImportError_, match="processor_config.json is missing"):
        importer.read_checkpoint(tmp_path)
    with pytest.raises(importer.ImportError_, match="no embodiment 'gr1'"):
        importer.read_checkpoint(checkpoint, "gr1")


def test_check_refuses_a_manifest_naming_a_camera_the_robot_lacks(checkpoint, g1, tmp_path):
    tag, configs, stats, _ = importer.read_checkpoint(checkpoint)
    spec = importer.spec_from_gr00t(configs, g1, stats, tag)
    data = importer.manifest_data(spec, g1, "x", "127.0.0.1", 5555, 0.5)
    data["remote"]["video"] = {"ego_view": "wrist_cam"}
    path = importer.write_manifest(data, tmp_path / "m.yaml")
    with pytest.raises(ValueError, match="wrist_cam"):
        check_policy(str(path), g1)


def test_check_refuses_hand_actions_that_are_no_hand_configs_joints(checkpoint, g1, tmp_path):
    """The smoother names hand actions by a hand config and the retargeting maps from it: a manifest
    whose hand joints match none (here two swapped) would be refused chunk by chunk at run time;
    ``check`` refuses it before, naming the side."""
    tag, configs, stats, _ = importer.read_checkpoint(checkpoint)
    spec = importer.spec_from_gr00t(configs, g1, stats, tag)
    data = importer.manifest_data(spec, g1, "x", "127.0.0.1", 5555, 0.5)
    right = next(e for e in data["remote"]["action"] if e.get("hand") == "right")
    right["joints"][0], right["joints"][1] = right["joints"][1], right["joints"][0]
    path = importer.write_manifest(data, tmp_path / "m.yaml")
    with pytest.raises(ValueError, match=r"action.hands.right: the joint names match no hand config"):
        check_policy(str(path), g1)
