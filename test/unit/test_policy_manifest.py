"""Specification of manifest loading: a manifest that disagrees with its models is refused at start."""

import shutil
from pathlib import Path

import pytest
import yaml

from egoscale_ros.policy.manifest import ManifestError, load_manifest


@pytest.fixture
def copy(exported, tmp_path) -> Path:
    folder = tmp_path / "policy"
    shutil.copytree(exported.parent, folder)
    return folder / "manifest.yaml"


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_the_exported_manifest_loads(exported):
    manifest = load_manifest(exported)
    assert manifest.layout.horizon == 30 and manifest.denoising_steps == 4
    assert load_manifest(exported.parent).path == manifest.path  # the folder works too


def test_a_horizon_the_model_does_not_have_is_refused_naming_tensor_and_shapes(copy):
    def shorter(d):
        d["action"]["horizon"] = 20
    edit(copy, shorter)
    with pytest.raises(ManifestError) as err:
        load_manifest(copy)
    assert "action_expert tensor 'noisy_actions' has shape ['batch', 30, 62] in the model but the manifest " \
           "implies ['batch', 20, 62]" in str(err.value)


def test_a_state_layout_of_another_size_is_refused(copy):
    def extra_joint(d):
        d["state"]["joints"].append("waist_yaw_joint")
        d["state"]["mean"].append(0.0)
        d["state"]["std"].append(1.0)
    edit(copy, extra_joint)
    with pytest.raises(ManifestError, match="backbone tensor 'state' has shape .*28.* manifest implies .*29"):
        load_manifest(copy)


def test_another_image_size_is_refused(copy):
    edit(copy, lambda d: d["image"].update(size=128))
    with pytest.raises(ManifestError, match="'image'"):
        load_manifest(copy)


def test_a_missing_model_file_is_named(copy):
    (copy.parent / "action_expert.onnx").unlink()
    with pytest.raises(ManifestError, match="action_expert.onnx' not found"):
        load_manifest(copy)


def test_bad_fields_are_named(copy):
    edit(copy, lambda d: d["state"].update(std=d["state"]["std"][:-1]))
    with pytest.raises(ManifestError, match="state.std has 27 values, expected 28"):
        load_manifest(copy, check_models=False)


def test_unknown_backend_and_format_are_refused(copy):
    edit(copy, lambda d: d["backends"].update(order=["onnxruntime", "openvino"]))
    with pytest.raises(ManifestError, match="openvino"):
        load_manifest(copy, check_models=False)
    edit(copy, lambda d: d.update(format="other/2"))
    with pytest.raises(ManifestError, match="format"):
        load_manifest(copy, check_models=False)


def test_no_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="not found"):
        load_manifest(tmp_path / "nothing.yaml")
