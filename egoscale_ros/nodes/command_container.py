"""command_container: the command-path stages in one process, on one executor.

The chunk smoother, wrist IK, hand retargeting and the robot interface node stay separate node
classes with their own names, parameters and topics (each can still be started alone); here they
share one Python process and one executor, so the command path pays for one interpreter, one wait
loop and one joint-state subscription instead of four. The smoother hands its per-tick targets to
the IK and retargeting directly, they hand their commands to the interface, and one timer ticks
the four in that order (``egoscale_ros.nodes.wiring.links``). Which nodes it holds, with what
parameters, comes from the graph plan (``egoscale_ros.graph``) as JSON:

    python -m egoscale_ros.nodes.command_container --members '[{"name": ..., "executable": ...,
        "parameters": {...}, "remappings": [...]}, ...]' --namespace /robot1

Each member node reads only its own arguments (``use_global_arguments=False``), exactly the
``--ros-args`` it would get as a process of its own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from rclpy.node import Node
from rclpy.utilities import remove_ros_args

from egoscale_ros.graph import CONTAINABLE, parse_members  # noqa: F401 - CONTAINABLE: what it can hold
from egoscale_ros.nodes.wiring.links import link_command_stages
from egoscale_ros.nodes.wiring.main import run


def _node_classes() -> dict[str, Callable[..., Node]]:
    from egoscale_ros.nodes.chunk_smoother_node import ChunkSmootherNode
    from egoscale_ros.nodes.hand_retarget_node import HandRetargetNode
    from egoscale_ros.nodes.robot_interface_node import RobotInterfaceNode
    from egoscale_ros.nodes.wrist_ik_node import WristIkNode

    return {"chunk_smoother_node": ChunkSmootherNode, "wrist_ik_node": WristIkNode,
            "hand_retarget_node": HandRetargetNode, "robot_interface_node": RobotInterfaceNode}


def main(args: list[str] | None = None) -> int:
    argv = list(sys.argv if args is None else args)
    parser = argparse.ArgumentParser(prog="command_container", description=__doc__.splitlines()[0])
    parser.add_argument("--members", required=True, help="JSON list of the nodes to hold")
    parser.add_argument("--namespace", default="", help="namespace of every member")
    options = parser.parse_args(remove_ros_args(argv)[1:])
    try:
        members = parse_members(options.members)
    except ValueError as exc:
        print(f"[FATAL] {exc}", file=sys.stderr, flush=True)
        return 1

    def build() -> list[Node]:
        classes = _node_classes()
        nodes: list[Node] = []
        try:
            for m in members:
                nodes.append(classes[m.executable](cli_args=m.ros_arguments(options.namespace),
                                                   use_global_arguments=False))
        except BaseException:
            for node in nodes:  # the ones built before the failure
                node.destroy_node()
            raise
        by_executable = {m.executable: node for m, node in zip(members, nodes)}
        for line in link_command_stages(by_executable.get("chunk_smoother_node"), by_executable.get("wrist_ik_node"),
                                        by_executable.get("hand_retarget_node"),
                                        by_executable.get("robot_interface_node")):
            nodes[0].get_logger().info(f"in process: {line}")
        return nodes

    return run(build, argv)


if __name__ == "__main__":
    raise SystemExit(main())
