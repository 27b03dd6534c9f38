"""Bring up egoscale_ros for one robot: cameras, policy, chunk smoother, wrist IK, hand retargeting.

    ros2 launch egoscale_ros bringup.launch.py robot:=g1_dex3 hardware:=mock
    ros2 launch egoscale_ros bringup.launch.py robot:=r1pro_sharpa hardware:=real policy:=/models/egoscale/manifest.yaml

The nodes and their parameters come from ``egoscale_ros.graph.plan_graph`` — the same plan
``egoscale-ros demo`` starts — so the launch file and the demo cannot drift apart.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

ARGUMENTS = {
    "robot": ("g1_dex3", "robot config: a name in config/robots/ or a YAML path"),
    "hardware": ("mock", "mock: add the robot's mock (the far side of its interfaces); real: the robot"),
    "policy": ("", "policy manifest.yaml ('' = the reference policy, exported on first use)"),
    "backend": ("", "force a policy backend: tensorrt, onnxruntime or torch ('' = manifest order)"),
    "camera": ("", "frame source for every camera ('' = config; none = images come from the robot's driver)"),
    "urdf": ("", "override the robot config's URDF (e.g. the maker's full-body file)"),
    "namespace": ("", "namespace of the whole graph (one per robot)"),
    "instruction": ("pick up the red cube and place it on the plate", "initial language instruction"),
    "speed_scale": ("1.0", "in (0, 1]: lowers every velocity limit in force (first runs of a new policy)"),
    "ik_solver": ("dls", "wrist IK solver: dls or casadi"),
    "record": ("", "record the run into this ROS 2 MCAP file ('' = no recording)"),
    "viz": ("false", "serve the graph live to Foxglove (ws://localhost:viz_port)"),
    "viz_port": ("8765", "port of the live view"),
    "native_domain": ("", "the robot's own DDS domain, e.g. Unitree's 0 ('' = the robot config's)"),
    "native_interface": ("", "network interface wired to the robot, e.g. enp3s0 ('' = the robot config's)"),
    "native_loopback": ("", "true: keep the native DDS side on loopback, multicast off (tests, mock)"),
    "container": ("false", "true: chunk smoother, wrist IK and hand retargeting in one process (command_container)"),
}


def _plan_nodes(context):
    from egoscale_ros.graph import plan_graph

    values = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    values["container"] = values["container"].strip().lower() in ("true", "1", "yes")
    plan = plan_graph(**values)
    return [_node(spec, plan.namespace) for spec in plan.nodes]


def _node(spec, namespace: str) -> Node:
    """One node with its exit policy: respawned after a delay, or the whole graph shut down."""
    from egoscale_ros.graph import RESPAWN_DELAY_S

    if spec.exit_policy == "respawn":
        policy = {"respawn": True, "respawn_delay": RESPAWN_DELAY_S}
    else:
        policy = {"on_exit": Shutdown(reason=f"{spec.name} exited: a node of the command path is required")}
    return Node(
        package="egoscale_ros",
        executable=spec.executable,
        name=spec.name,
        namespace=namespace,
        parameters=[spec.parameters],
        remappings=list(spec.remappings),
        arguments=list(spec.arguments),  # a container's members, each with its own parameters
        # The command path first, then the policy, then stand-ins and recording.
        prefix=f"nice -n {spec.niceness}" if spec.niceness else None,
        output="screen",
        emulate_tty=True,
        **policy,
    )


def generate_launch_description() -> LaunchDescription:
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, (default, text) in ARGUMENTS.items()
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_plan_nodes)])
