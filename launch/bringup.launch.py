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


def _plan_nodes(context):
    from egoscale_ros.graph import LAUNCH_ARGUMENTS, plan_graph

    values = {name: LaunchConfiguration(name).perform(context) for name in LAUNCH_ARGUMENTS}
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
    from egoscale_ros.graph import LAUNCH_ARGUMENTS  # the one table of arguments and their defaults

    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, (default, text) in LAUNCH_ARGUMENTS.items()
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_plan_nodes)])
