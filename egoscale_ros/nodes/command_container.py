"""command_container: the command-path stages in one process, on one executor.

The chunk smoother, wrist IK and hand retargeting stay separate node classes with their own
names, parameters and topics (each can still be started alone); here they share one Python
process and one executor, so the command path pays for one interpreter, one wait loop and one
joint-state subscription instead of three. Which nodes it holds, with what parameters, comes
from the graph plan (``egoscale_ros.graph``) as JSON:

    python -m egoscale_ros.nodes.command_container --members '[{"name": ..., "executable": ...,
        "parameters": {...}, "remappings": [...]}, ...]' --namespace /robot1

Each member node reads only its own arguments (``use_global_arguments=False``), exactly the
``--ros-args`` it would get as a process of its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from rclpy.node import Node
from rclpy.utilities import remove_ros_args

from egoscale_ros.nodes.wiring.main import run


def _node_classes() -> dict[str, Callable[..., Node]]:
    from egoscale_ros.nodes.chunk_smoother_node import ChunkSmootherNode
    from egoscale_ros.nodes.hand_retarget_node import HandRetargetNode
    from egoscale_ros.nodes.wrist_ik_node import WristIkNode

    return {"chunk_smoother_node": ChunkSmootherNode, "wrist_ik_node": WristIkNode,
            "hand_retarget_node": HandRetargetNode}


#: executables a container can hold
CONTAINABLE = ("chunk_smoother_node", "wrist_ik_node", "hand_retarget_node")


def parse_members(text: str):
    """The member NodeSpecs from ``--members`` JSON; a clear error names what is wrong."""
    from egoscale_ros.graph import NodeSpec

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
        return nodes

    return run(build, argv)


if __name__ == "__main__":
    raise SystemExit(main())
