"""Specification of the graph plan shared by bringup.launch.py and the demo."""

from __future__ import annotations

import pytest

from egoscale_ros.graph import plan_graph
from egoscale_ros.nodes.command_container import parse_members
from egoscale_ros.retarget.config import load_hand_config

STAGES = ["camera_node", "policy_node", "chunk_smoother_node", "wrist_ik_node", "hand_retarget_node"]
# What plays the robot in mock mode, per robot: the far side of the robot's own interfaces.
ROBOT_SIDE = {"g1_dex3": ["robot_interface_node", "mock_unitree_node"],
              "h1_inspire": ["robot_interface_node", "mock_unitree_node"]}


@pytest.mark.parametrize("robot", ["g1_dex3", "h1_inspire", "r1pro_sharpa"])
def test_mock_plan_runs_every_stage_with_the_robot_config(robot):
    plan = plan_graph(robot=robot, hardware="mock", container=False)
    robot_side = [s.executable for s in plan.nodes if s.executable not in STAGES]
    assert sorted(s.executable for s in plan.nodes if s.executable in STAGES) == sorted(STAGES)
    if robot in ROBOT_SIDE:
        assert robot_side == ROBOT_SIDE[robot]
    else:
        assert robot_side, "no stand-in for the robot"
    for spec in plan.nodes:
        if spec.executable not in ("camera_node", "chunk_smoother_node"):  # those two read no robot config
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


def test_launch_arguments_reach_node_parameters(exported):
    plan = plan_graph(policy=str(exported), backend="onnxruntime", camera="v4l2:0",
                      instruction="fold the towel", ik_solver="casadi", urdf="")
    policy = plan.node("policy_node").parameters
    assert policy["manifest"] == str(exported)
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


def test_the_container_holds_the_command_path_with_each_nodes_own_arguments():
    separate = plan_graph(robot="g1_dex3", hardware="mock", namespace="/robot1", ik_solver="casadi", container=False)
    together = plan_graph(robot="g1_dex3", hardware="mock", namespace="/robot1", ik_solver="casadi")  # the default
    contained = ("chunk_smoother_node", "wrist_ik_node", "hand_retarget_node", "robot_interface_node")
    assert [s.executable for s in together.nodes if s.executable in contained] == []
    container = together.node("command_container")
    members = parse_members(container.arguments[container.arguments.index("--members") + 1])
    # The same specs the separate processes get: names, parameters and remappings unchanged.
    def essentials(specs):
        return [(s.name, s.executable, s.parameters, s.remappings) for s in specs]

    assert essentials(members) == essentials(s for s in separate.nodes if s.executable in contained)
    assert container.exit_policy == "shutdown"  # it holds the command path
    assert container.arguments[container.arguments.index("--namespace") + 1] == "/robot1"
    # Everything else is untouched.
    assert [s for s in together.nodes if s is not container] == [s for s in separate.nodes
                                                                if s.executable not in contained]
    assert container.command("/robot1")[3:5] == ["--members", container.arguments[1]]
    # A member is still found by its executable, with its own parameters.
    assert together.node("wrist_ik_node").parameters["solver"] == "casadi"


def test_a_container_refuses_what_it_cannot_hold_by_name():
    with pytest.raises(ValueError, match="policy_node"):
        parse_members('[{"name": "p", "executable": "policy_node"}]')
    with pytest.raises(ValueError, match="JSON"):
        parse_members("[{")
    with pytest.raises(ValueError, match="non-empty"):
        parse_members("[]")


def test_the_command_path_comes_first_then_the_policy_then_stand_ins():
    plan = plan_graph(robot="g1_dex3", hardware="mock", container=False)
    nice = {s.executable: s.niceness for s in plan.nodes}
    command_path = max(nice[e] for e in ("chunk_smoother_node", "wrist_ik_node", "hand_retarget_node"))
    assert command_path == 0
    stand_ins = [n for e, n in nice.items() if e.startswith("mock_")]
    assert stand_ins and command_path < nice["policy_node"] == nice["camera_node"] < min(stand_ins)
    assert plan.with_command_container().node("command_container").niceness == 0


def test_viz_adds_the_live_view_on_its_port_and_reads_launch_text():
    assert "viz_node" not in [s.executable for s in plan_graph(robot="g1_dex3", viz="false").nodes]
    plan = plan_graph(robot="g1_dex3", viz="true", viz_port="9001")
    assert plan.node("viz_node").parameters["port"] == 9001
    with pytest.raises(ValueError, match="viz:='maybe' is not true or false"):
        plan_graph(robot="g1_dex3", viz="maybe")


def test_every_node_has_an_exit_policy_and_the_command_path_shuts_the_graph_down():
    plan = plan_graph("g1_dex3", hardware="mock", container=False)
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
def test_command_nodes_and_the_policy_are_told_the_one_declared_source_of_joint_states(robot):
    plan = plan_graph(robot, hardware="mock")  # members of the command container found too
    sources = {plan.node(e).parameters.get("joint_state_source")
               for e in ("wrist_ik_node", "hand_retarget_node", "policy_node")}
    publishers = []
    for executable in ("robot_interface_node", "mock_hardware_node"):
        try:
            publishers.append(plan.node(executable).name)
        except KeyError:
            continue
    assert sources == {publishers[0]}


def test_launch_arguments_and_the_plan_share_one_table_of_defaults():
    import inspect

    from egoscale_ros.graph import LAUNCH_ARGUMENTS

    params = inspect.signature(plan_graph).parameters
    for name, (default, _text) in LAUNCH_ARGUMENTS.items():
        assert name in params, f"launch argument {name} is not a plan_graph parameter"
        assert str(params[name].default).lower() == default.lower(), name


@pytest.mark.parametrize("robot", ["g1_dex3", "r1pro_sharpa"])
def test_every_command_node_ticks_at_the_configured_rate_and_knows_the_policys_hand(robot):
    plan = plan_graph(robot)
    for executable in ("chunk_smoother_node", "wrist_ik_node", "hand_retarget_node"):
        assert plan.node(executable).parameters["rate_hz"] == plan.robot.control_rate_hz
    # the reference policy acts in the Sharpa Wave hand space; said by its layout, not a node default
    assert plan.node("hand_retarget_node").parameters["source"] == "sharpa_wave"
    # The smoother is handed every value it needs and reads no file: a robot config or hand config
    # read in the node would be a second source that `ros2 param` does not show.
    smoother = plan.node("chunk_smoother_node").parameters
    assert "robot" not in smoother and smoother["base_frame"] == plan.robot.base_frame
    for side in plan.robot.hands:
        assert smoother[f"{side}_hand_joints"] == list(load_hand_config("sharpa_wave", side).joints)


def test_a_policy_for_another_hand_is_retargeted_from_that_hand():
    from egoscale_ros.policy.hand_space import hand_type_of
    from egoscale_ros.policy.layout import ActionLayout
    from egoscale_ros.retarget.config import load_hand_config

    dex3 = {s: load_hand_config("dex3", s).joints for s in ("left", "right")}
    assert hand_type_of(ActionLayout(hand_joints=dex3)) == "dex3"
    with pytest.raises(ValueError, match="match no hand config"):
        hand_type_of(ActionLayout(hand_joints={"left": ("a", "b")}))


def test_a_missing_manifest_is_refused_when_the_graph_is_planned():
    from egoscale_ros.policy.manifest import ManifestError

    with pytest.raises(ManifestError, match="/models/m/manifest.yaml"):
        plan_graph(policy="/models/m/manifest.yaml")


def test_the_smoother_judges_the_policy_against_the_rate_the_policy_is_asked_for():
    plan = plan_graph("g1_dex3", hardware="mock")
    smoother, policy = plan.node("chunk_smoother_node"), plan.node("policy_node")  # a container's member too
    assert smoother.parameters["policy_rate_hz"] == policy.parameters["rate_hz"] > 0


def test_a_policy_servers_chunks_are_followed_no_further_than_its_execute_steps(tmp_path):
    """A server's replies are published long for the blend's sake; the smoother still stops the
    arms execute_steps after the last reply heard. A local policy's chunks are followed to their end."""
    from egoscale_ros.policy.manifest import load_manifest
    from egoscale_ros.remote.scenario import remote_manifest

    manifest = remote_manifest("g1_dex3", "gr00t", tmp_path, port=5555)
    remote = load_manifest(str(manifest), check_models=False).remote
    plan = plan_graph(robot="g1_dex3", policy=str(manifest), container=False)
    assert plan.node("chunk_smoother_node").parameters["max_blind_s"] == pytest.approx(remote.execute_steps * remote.dt)
    assert plan_graph(robot="g1_dex3", container=False).node("chunk_smoother_node").parameters["max_blind_s"] == 0.0
