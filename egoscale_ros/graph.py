"""The one description of a robot's graph: which nodes run, with which parameters and remappings.

``launch/bringup.launch.py`` turns a :class:`GraphPlan` into launch_ros ``Node`` actions and
``egoscale-ros demo`` (and the integration tests) start the same plan as plain processes, so the
two can never drift apart. No rclpy or launch import here: the plan is data.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from egoscale_ros.policy.hand_space import policy_hand_type
from egoscale_ros.retarget.config import load_hand_config
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.spec import RobotConfig

HARDWARE_MODES = ("mock", "real")
#: the command-path stages ``command_container`` can hold in one process, and the robot's edge
#: that sends their commands on (ticked after them)
CONTAINABLE = ("chunk_smoother_node", "wrist_ik_node", "hand_retarget_node", "robot_interface_node")
#: nice increment per executable (others 0): the command path first, then the policy and its
#: cameras, then what stands in for the robot (its controllers have a computer of their own) and
#: what only records. Increments only: lowering one needs privileges an operator may not have.
NICENESS = {"camera_node": 1, "policy_node": 1, "mock_hardware_node": 5, "mock_ros_robot_node": 5,
            "mock_unitree_node": 5, "recorder_node": 5}
EXIT_POLICIES = ("respawn", "shutdown")
# Exit policy per executable (README, "When a node dies"); anything else shuts the graph down.
EXIT_POLICY = {"camera_node": "respawn", "policy_node": "respawn", "chunk_smoother_node": "respawn",
               "recorder_node": "respawn", "viz_node": "respawn"}
# Nodes of the graph that publish the one joint_states view (the interface node assembles it from
# the robot's feedback; the generic mock publishes it itself). With neither, the robot's driver
# does, and the command nodes accept any single publisher.
JOINT_STATE_SOURCES = ("robot_interface_node", "mock_hardware_node")
RESPAWN_DELAY_S = 2.0
POLICY_RATE_HZ = 30.0  # chunks per second the policy node is asked for
DEFAULT_INSTRUCTION = "pick up the red cube and place it on the plate"
# Launch arguments: name -> (default as launch text, description). The one source of their
# defaults: bringup.launch.py declares these, and plan_graph's keyword defaults are the same values
# (a unit spec holds the two together).
LAUNCH_ARGUMENTS: dict[str, tuple[str, str]] = {
    "robot": ("g1_dex3", "robot config: a name in config/robots/ or a YAML path"),
    "hardware": ("mock", "mock: add the robot's mock (the far side of its interfaces); real: the robot"),
    "policy": ("", "policy manifest.yaml ('' = the reference policy, exported on first use)"),
    "backend": ("", "force a policy backend: tensorrt, onnxruntime or torch ('' = manifest order)"),
    "camera": ("", "frame source for every camera ('' = config; none = images come from the robot's driver)"),
    "urdf": ("", "override the robot config's URDF (e.g. the maker's full-body file)"),
    "namespace": ("", "namespace of the whole graph (one per robot)"),
    "instruction": (DEFAULT_INSTRUCTION, "initial language instruction"),
    "speed_scale": ("1.0", "in (0, 1]: lowers every velocity limit in force (first runs of a new policy)"),
    "ik_solver": ("dls", "wrist IK solver: dls or casadi"),
    "record": ("", "record the run into this ROS 2 MCAP file ('' = no recording)"),
    "viz": ("false", "serve the graph live to Foxglove (ws://localhost:viz_port)"),
    "viz_port": ("8765", "port of the live view"),
    "native_domain": ("", "the robot's own DDS domain, e.g. Unitree's 0 ('' = the robot config's)"),
    "native_interface": ("", "network interface wired to the robot, e.g. enp3s0 ('' = the robot config's)"),
    "native_loopback": ("", "true: keep the native DDS side on loopback, multicast off (tests, mock)"),
    "container": ("true", "true: chunk smoother, wrist IK, hand retargeting and the robot interface in one process "
                          "(command_container), "
                          "handing targets over in process (about half the CPU); false: a process each"),
}


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph: console script (= module ``egoscale_ros.nodes.<executable>``)."""

    name: str
    executable: str
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    #: what the launch does when this node exits: ``respawn`` it (the stages upstream of the
    #: command path; meanwhile the command nodes hold, judging their inputs by stamp) or
    #: ``shutdown`` the graph (the command path and the hardware: a crash there is not papered over)
    exit_policy: str = "shutdown"
    #: plain arguments before ``--ros-args`` (a container's member list)
    arguments: tuple[str, ...] = ()

    @property
    def niceness(self) -> int:
        return NICENESS.get(self.executable, 0)

    @property
    def module(self) -> str:
        return f"egoscale_ros.nodes.{self.executable}"

    def ros_arguments(self, namespace: str = "") -> list[str]:
        """``--ros-args`` for starting this node as a plain process (what launch_ros would pass)."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        if namespace:
            args += ["-r", f"__ns:={namespace}"]
        for src, dst in self.remappings:
            args += ["-r", f"{src}:={dst}"]
        for key, value in self.parameters.items():
            args += ["-p", f"{key}:={_param_text(value)}"]
        return args

    def command(self, namespace: str = "", python: str = sys.executable) -> list[str]:
        return [python, "-m", self.module, *self.arguments, *self.ros_arguments(namespace)]


def parse_members(text: str) -> list[NodeSpec]:
    """The member NodeSpecs of a container's ``--members`` JSON; a clear error names what is wrong."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--members is not JSON: {exc}") from exc
    if not isinstance(raw, list) or not raw:
        raise ValueError("--members must be a non-empty JSON list of nodes")
    specs = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "name" not in item or "executable" not in item:
            raise ValueError(f"--members[{i}] needs 'name' and 'executable'")
        if item["executable"] not in CONTAINABLE:
            raise ValueError(f"--members[{i}]: '{item['executable']}' cannot run in the container "
                             f"(one of {', '.join(CONTAINABLE)})")
        specs.append(NodeSpec(str(item["name"]), str(item["executable"]), dict(item.get("parameters", {})),
                              tuple(tuple(r) for r in item.get("remappings", ()))))
    return specs


def _flag(value: bool | str, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ValueError(f"{name}:='{value}' is not true or false")


def _param_text(value: Any) -> str:
    # rcl parses -p values as YAML, and JSON is YAML: strings come out quoted, so "1.0" or "true"
    # stay strings, and lists of names stay lists.
    return json.dumps(value)


@dataclass(frozen=True)
class GraphPlan:
    """The robot's graph: every node with its parameters, started under ``namespace``. Whether the
    hardware is the mock or the robot is already in the nodes the plan holds."""

    robot: RobotConfig
    namespace: str
    nodes: tuple[NodeSpec, ...]

    def node(self, executable: str) -> NodeSpec:
        """The node running ``executable``, a process of its own or a member of a container."""
        for spec in self.nodes:
            if spec.executable == executable:
                return spec
        for spec in self.nodes:
            if spec.executable == "command_container":
                for member in parse_members(spec.arguments[spec.arguments.index("--members") + 1]):
                    if member.executable == executable:
                        return member
        raise KeyError(executable)

    def with_command_container(self, name: str = "command_container") -> GraphPlan:
        """The same graph with the command-path stages (:data:`CONTAINABLE`) in one process, on one
        executor: same node names, parameters and topics (``egoscale_ros.nodes.command_container``)."""
        inside = [s for s in self.nodes if s.executable in CONTAINABLE]
        if not inside:
            return self
        members = json.dumps([{"name": s.name, "executable": s.executable, "parameters": s.parameters,
                               "remappings": [list(r) for r in s.remappings]} for s in inside])
        container = NodeSpec(name, "command_container", arguments=("--members", members,
                                                                    "--namespace", self.namespace))
        first = self.nodes.index(inside[0])
        nodes = [s for s in self.nodes if s not in inside]
        nodes.insert(first, container)
        return dataclasses.replace(self, nodes=tuple(nodes))


def _native_parameters(domain: str | int, interface: str, loopback: str | bool) -> dict[str, Any]:
    """Parameters of the nodes on the native side (launch arguments arrive as strings)."""
    out: dict[str, Any] = {}
    if str(domain).strip():
        try:
            out["native_domain_id"] = int(domain)
        except ValueError:
            raise ValueError(f"native_domain:='{domain}' is not an integer") from None
    if interface:
        out["native_interface"] = str(interface)
    flag = str(loopback).strip().lower()
    if flag in ("true", "1", "yes"):
        out["native_loopback"] = True
    elif flag not in ("", "false", "0", "no"):
        raise ValueError(f"native_loopback:='{loopback}' is not true or false")
    return out


def _speed_scale(value: str | float) -> float:
    """``speed_scale:=`` as a number in (0, 1]: it may only lower the velocity limits in force."""
    try:
        scale = float(value) if value != "" else 1.0
    except ValueError:
        raise ValueError(f"speed_scale:='{value}' is not a number") from None
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"speed_scale:={value} must be in (0, 1]: it can only lower the configured limits")
    return scale


def _blind_limit_s(policy: str) -> float:
    """How long the arms may follow a policy server's chunks past the last one heard: its
    ``execute_steps`` (the chunks themselves reach further, for the blend); 0 for a local policy."""
    if not policy:
        return 0.0
    from egoscale_ros.policy.manifest import load_manifest

    remote = load_manifest(policy, check_models=False).remote
    return remote.execute_steps * remote.dt if remote is not None else 0.0


def plan_graph(
    robot: str = "g1_dex3",
    hardware: str = "mock",
    policy: str = "",
    camera: str = "",
    backend: str = "",
    urdf: str = "",
    namespace: str = "",
    instruction: str = DEFAULT_INSTRUCTION,
    ik_solver: str = "dls",
    record: str = "",
    viz: bool | str = False,
    viz_port: int | str = 8765,
    native_domain: str | int = "",
    native_interface: str = "",
    native_loopback: str | bool = "",
    native_tag: str = "",
    speed_scale: str | float = 1.0,
    container: bool | str = True,
) -> GraphPlan:
    """Plan the graph of ``robot``.

    ``hardware``: ``mock`` adds mock_hardware_node; ``real`` expects the robot's own drivers on the
    configured controller topics and ``joint_states``. ``policy``: a manifest path ('' = the
    reference policy, exported on first use). ``camera``: a frame source spec for every camera
    ('' = each camera's configured source; ``none`` = no camera_node, images come from the robot's
    driver). ``backend``: force a policy backend ('' = the manifest's order). ``record``: an MCAP
    path to record the run into ('' = no recording); the policy then also publishes the
    observations it acted on, so the recording can be replayed offline. ``viz``: serve the graph
    live to Foxglove on ``viz_port`` (launch arguments arrive as text: 'true'/'false'). ``container``: run the
    command-path stages in one process (:meth:`GraphPlan.with_command_container`).

    A robot whose config declares feedback sources or maker-interface outputs gets
    robot_interface_node (with ``hardware:=real`` and ``mock`` alike: the same adapters run), and
    with ``mock`` the native mocks of its interface kinds (e.g. mock_unitree_node) instead of the
    generic mock_hardware_node. ``native_domain`` / ``native_interface`` override the config's
    native DDS settings; ``native_loopback`` keeps the native side on the loopback interface with
    multicast off (tests, demo); ``native_tag`` gives that side a discovery tag of its own. ``speed_scale``
    (0, 1] lowers every velocity limit in force in the command nodes.
    """
    if hardware not in HARDWARE_MODES:
        raise ValueError(f"hardware:='{hardware}' is not one of {', '.join(HARDWARE_MODES)}")
    config = load_robot_config(robot, urdf_override=urdf or None)
    common = {"robot": robot}
    if urdf:
        common["urdf"] = urdf
    nodes: list[NodeSpec] = []
    if camera != "none":
        for cam in config.cameras:
            nodes.append(
                NodeSpec(
                    f"camera_{cam.name}",
                    "camera_node",
                    {
                        "camera": cam.name,
                        "source": camera or cam.source,
                        "frame_id": cam.frame,
                        "width": cam.width,
                        "height": cam.height,
                        "rate_hz": cam.rate_hz,
                        **common,  # scenes drawn through the robot's camera (source reach) need it
                    },
                )
            )
    nodes.append(
        NodeSpec(
            "policy_node",
            "policy_node",
            {**common, "manifest": policy, "backend": backend, "instruction": instruction,
             "cameras": [c.name for c in config.cameras] or ["head"], "rate_hz": POLICY_RATE_HZ,
             **({"publish_observation": True} if record else {})},
        )
    )
    # Every node of the command path ticks at the robot's control rate, and reads the policy's
    # hand space from the manifest (not from a default of its own).
    tick = {"rate_hz": config.control_rate_hz}
    hands = {"hand_source": policy_hand_type(policy)} if config.hands else {}
    # The smoother reads no file: the base frame it checks chunks against and the names of the
    # policy's hand joints per side come from here.
    hand_joints = {f"{side}_hand_joints": list(load_hand_config(hands["hand_source"], side).joints)
                   for side in config.hands}
    # It judges the policy silent against the policy's own period.
    nodes.append(NodeSpec("chunk_smoother_node", "chunk_smoother_node",
                          {**tick, "base_frame": config.base_frame, **hand_joints, "policy_rate_hz": POLICY_RATE_HZ,
                           "max_blind_s": _blind_limit_s(policy)}))
    scale = _speed_scale(speed_scale)
    nodes.append(NodeSpec("wrist_ik_node", "wrist_ik_node",
                          {**common, **tick, "solver": ik_solver, "speed_scale": scale}))
    if config.hands:
        nodes.append(NodeSpec("hand_retarget_node", "hand_retarget_node",
                              {**common, **tick, "source": hands["hand_source"], "speed_scale": scale}))
    native = _native_parameters(native_domain, native_interface, native_loopback)
    if native_tag:
        native["native_tag"] = str(native_tag)
    if config.needs_interface_node:
        nodes.append(NodeSpec("robot_interface_node", "robot_interface_node", {**common, **native}))
    if hardware == "mock":
        from egoscale_ros.interfaces.registry import mock_nodes

        for executable in mock_nodes(config):
            params = dict(common) if executable == "mock_hardware_node" else {**common, **native}
            nodes.append(NodeSpec(executable, executable, params))
    if record:
        # The native settings too: the recorder listens to the maker's DDS topics as well.
        nodes.append(NodeSpec("recorder_node", "recorder_node", {**common, **native, "path": os.path.abspath(record)}))
    if _flag(viz, "viz"):
        nodes.append(NodeSpec("viz_node", "viz_node", {**common, "port": int(viz_port)}))
    nodes = [dataclasses.replace(n, exit_policy=EXIT_POLICY.get(n.executable, "shutdown")) for n in nodes]
    # The declared source of joint_states: the command nodes start and resume only from it, and
    # the policy observes the robot only through it.
    source = next((n.name for n in nodes if n.executable in JOINT_STATE_SOURCES), "")
    if source:
        nodes = [dataclasses.replace(n, parameters={**n.parameters, "joint_state_source": source})
                 if n.executable in ("wrist_ik_node", "hand_retarget_node", "policy_node") else n for n in nodes]
    plan = GraphPlan(config, namespace, tuple(nodes))
    return plan.with_command_container() if _flag(container, "container") else plan
