"""Specification of the graph plan shared by bringup.launch.py and the demo."""

from __future__ import annotations

import pytest

from egoscale_ros.graph import plan_graph

STAGES = ["camera_node", "policy_node", "chunk_smoother_node", "wrist_ik_node", "hand_retarget_node"]
# What plays the robot in mock mode, per robot: the far side of the robot's own interfaces.
ROBOT_SIDE = {"g1_dex3": ["robot_interface_node", "mock_unitree_node"],
              "h1_inspire": ["robot_interface_node", "mock_unitree_node"]}


@pytest.mark.parametrize("robot", ["g1_dex3", "h1_inspire", "r1pro_sharpa"])
def test_mock_plan_runs_every_stage_with_the_robot_config(robot):
    plan = plan_graph(robot=robot, hardware="mock")
    robot_side = [s.executable for s in plan.nodes if s.executable not in STAGES]
    assert sorted(s.executable for s in plan.nodes if s.executable in STAGES) == sorted(STAGES)
    if robot in ROBOT_SIDE:
        assert robot_side == ROBOT_SIDE[robot]
    else:
        assert robot_side, "no stand-in for the robot"
    for spec in plan.nodes:
        if spec.executable != "camera_node":
            assert spec.parameters["robot"] == robot


@pytest.mark.parametrize("robot", ["g1_dex3", "h1_inspire"])
def test_real_and_mock_run_the_same_robot_interface_with_native_settings(robot):
    real = plan_graph(robot=robot, hardware="real", native_domain="3", native_interface="enp3s0")
    mock = plan_graph(robot=robot, hardware="mock", native_domain=211, native_loopback="true", native_tag="t1")
    assert real.node("robot_interface_node").parameters == {"robot": robot, "native_domain_id": 3,
                                                           "native_interface": "enp3s0"}
    assert mock.node("robot_interface_node").parameters == {"robot": robot, "native_domain_id": 211,
                                                           "native_loopback": True, "native_tag": "t1"}
    assert mock.node("mock_unitree_node").parameters == mock.node("robot_interface_node").parameters
    assert not [s for s in real.nodes if s.executable.startswith("mock_")]
    with pytest.raises(ValueError, match="native_domain:='zero'"):
        plan_graph(robot=robot, native_domain="zero")


def test_real_hardware_has_no_mock_and_camera_none_has_no_camera_node():
    plan = plan_graph(hardware="real", camera="none")
    names = [s.executable for s in plan.nodes]
    assert "mock_hardware_node" not in names
    assert "camera_node" not in names


def test_launch_arguments_reach_node_parameters():
    plan = plan_graph(policy="/models/m/manifest.yaml", backend="onnxruntime", camera="v4l2:0",
                      instruction="fold the towel", ik_solver="casadi", urdf="")
    policy = plan.node("policy_node").parameters
    assert policy["manifest"] == "/models/m/manifest.yaml"
    assert policy["backend"] == "onnxruntime"
    assert policy["instruction"] == "fold the towel"
    assert plan.node("camera_node").parameters["source"] == "v4l2:0"
    assert plan.node("wrist_ik_node").parameters["solver"] == "casadi"


def test_ros_arguments_quote_strings_so_they_stay_strings():
    spec = plan_graph(instruction="true").node("policy_node")
    args = spec.ros_arguments(namespace="robot1")
    assert args[:3] == ["--ros-args", "-r", "__node:=policy_node"]
    assert "__ns:=robot1" in args
    assert 'instruction:="true"' in args
    assert 'cameras:=["head"]' in args


def test_unknown_hardware_mode_is_refused_by_name():
    with pytest.raises(ValueError, match="hardware:='sim'"):
        plan_graph(hardware="sim")


def test_record_adds_the_recorder_and_makes_the_policy_publish_its_observations(tmp_path):
    plain = plan_graph(robot="g1_dex3", hardware="real")
    assert "recorder_node" not in [s.executable for s in plain.nodes]
    assert "publish_observation" not in plain.node("policy_node").parameters
    plan = plan_graph(robot="g1_dex3", hardware="real", record=str(tmp_path / "run.mcap"))
    recorder = plan.node("recorder_node")
    assert recorder.parameters["path"] == str(tmp_path / "run.mcap")
    assert recorder.parameters["robot"] == "g1_dex3"
    assert plan.node("policy_node").parameters["publish_observation"] is True


def test_viz_adds_the_live_view_on_its_port_and_reads_launch_text():
    assert "viz_node" not in [s.executable for s in plan_graph(robot="g1_dex3", viz="false").nodes]
    plan = plan_graph(robot="g1_dex3", viz="true", viz_port="9001")
    assert plan.node("viz_node").parameters["port"] == 9001
    with pytest.raises(ValueError, match="viz:='maybe' is not true or false"):
        plan_graph(robot="g1_dex3", viz="maybe")


def test_every_node_has_an_exit_policy_and_the_command_path_shuts_the_graph_down():
    plan = plan_graph("g1_dex3", hardware="mock")
    policies = {s.executable: s.exit_policy for s in plan.nodes}
    assert set(policies.values()) <= {"respawn", "shutdown"}
    # Upstream stages come back by themselves; the command nodes hold meanwhile.
    assert policies["policy_node"] == policies["camera_node"] == policies["chunk_smoother_node"] == "respawn"
    # A crash in the command path or at the robot's edge brings everything down, for an operator to see.
    edge = [e for e in policies if e.startswith(("mock_", "robot_interface"))]
    assert edge
    for executable in ("wrist_ik_node", "hand_retarget_node", *edge):
        assert policies[executable] == "shutdown", executable


@pytest.mark.parametrize("robot", ["g1_dex3", "r1pro_sharpa"])
def test_command_nodes_are_told_the_one_declared_source_of_joint_states(robot):
    plan = plan_graph(robot, hardware="mock")
    sources = {s.parameters.get("joint_state_source") for s in plan.nodes
               if s.executable in ("wrist_ik_node", "hand_retarget_node")}
    publisher = next(s.name for s in plan.nodes if s.executable in ("robot_interface_node", "mock_hardware_node"))
    assert sources == {publisher}
