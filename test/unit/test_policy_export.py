"""Specification of the export: two ONNX graphs, checkpoint, manifest, parity, the cached default."""

import threading

import numpy as np
import onnx
import pytest
import yaml

from egoscale_ros.policy import export as export_module
from egoscale_ros.policy.export import PARITY_TOLERANCE, ensure_default_policy, parity_check
from egoscale_ros.policy.manifest import load_manifest
from egoscale_ros.policy.training import load_checkpoint
from egoscale_ros.robot.config import load_robot_config


def test_export_writes_two_checked_graphs_a_checkpoint_and_the_manifest(exported):
    folder = exported.parent
    for name in ("backbone.onnx", "action_expert.onnx", "checkpoint.pt", "manifest.yaml"):
        assert (folder / name).is_file(), name
    backbone = onnx.load(str(folder / "backbone.onnx"))
    expert = onnx.load(str(folder / "action_expert.onnx"))
    onnx.checker.check_model(backbone, full_check=True)
    onnx.checker.check_model(expert, full_check=True)
    assert [i.name for i in backbone.graph.input] == ["image", "tokens", "state", "state_mask"]
    assert [i.name for i in expert.graph.input] == ["noisy_actions", "timestep", "context"]
    assert [o.name for o in expert.graph.output] == ["velocity"]


def test_manifest_describes_the_robot_and_the_egoscale_action_layout(exported):
    data = yaml.safe_load(exported.read_text())
    robot = load_robot_config("g1_dex3")
    assert data["embodiment"] == robot.embodiment
    assert data["state"]["joints"] == robot.policy_state_joints
    assert len(data["state"]["mean"]) == len(data["state"]["std"]) == len(robot.policy_state_joints)
    action = data["action"]
    assert (action["horizon"], action["dim"], action["rotation"], action["representation"]) == (30, 62, "rot6d", "relative")
    assert action["hands"]["left"]["joint_names"][0] == "left_thumb_CMC_FE"
    assert data["denoising"]["steps"] == 4
    assert data["backends"]["order"] == ["tensorrt", "onnxruntime", "torch"]
    assert data["image"]["size"] == 96 and len(data["image"]["mean"]) == 3


def test_onnx_runtime_reproduces_pytorch_on_a_full_chunk(exported):
    manifest = load_manifest(exported)
    policy, _ = load_checkpoint(exported.parent / "checkpoint.pt")
    error = parity_check(policy, manifest, seed=3)
    assert error <= PARITY_TOLERANCE


def test_cached_policy_is_reused(exported, tmp_path_factory):
    again = ensure_default_policy(robot="g1_dex3", cache_dir=tmp_path_factory.getbasetemp() / "policy_cache",
                                  train_steps=20, progress=False)
    assert again == exported


def test_concurrent_first_use_builds_once_and_leaves_no_partial_folder(tmp_path, monkeypatch):
    """Two callers at once: one builds (slowly), the other waits and gets the same finished policy."""
    builds = []
    started = threading.Event()

    def slow_build(preset, embodiment, joints, layout, steps, out, progress):
        builds.append(out)
        started.set()
        threading.Event().wait(0.3)
        (out / "manifest.yaml").write_text("built\n")

    monkeypatch.setattr(export_module, "_build", slow_build)
    results = []

    def call():
        results.append(ensure_default_policy(robot="r", state_joints=["a", "b"], cache_dir=tmp_path, train_steps=0))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(builds) == 1
    assert len(set(results)) == 1 and results[0].read_text() == "built\n"
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [results[0].parent.name]
    assert not [p for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith(".")]  # no temp left


def test_a_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken_build(*args):
        raise RuntimeError("export failed")

    monkeypatch.setattr(export_module, "_build", broken_build)
    with pytest.raises(RuntimeError, match="export failed"):
        ensure_default_policy(robot="r", state_joints=["a"], cache_dir=tmp_path, train_steps=0)
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


def test_cache_key_depends_on_the_state_layout():
    from egoscale_ros.policy.layout import ActionLayout

    a = export_module.cache_key("tiny", "g1", ["x", "y"], ActionLayout(), 10)
    assert a != export_module.cache_key("tiny", "g1", ["y", "x"], ActionLayout(), 10)
    assert a != export_module.cache_key("small", "g1", ["x", "y"], ActionLayout(), 10)
    assert a == export_module.cache_key("tiny", "g1", ["x", "y"], ActionLayout(), 10)


def test_state_layout_comes_from_the_robot_config():
    from egoscale_ros.policy.training import state_joints_for

    embodiment, joints = state_joints_for("g1_dex3", None)
    assert embodiment == "g1_dex3" and joints[0] == "left_shoulder_pitch_joint" and len(joints) == 28
    assert np.all([isinstance(j, str) for j in joints])
