"""Interface kinds -> adapter classes, and which native mock is the far side of each kind.

The robot config names kinds (``controllers[].type``, ``feedback[].type``); this table is the
only place that knows which class serves a kind. Classes are imported on first use, so loading a
ros2_control config never imports the DDS binding. To add a maker's interface: write its
adapter (see ``base.py``) and add one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    module: str
    cls: str
    #: node executable that plays the robot's side of this kind in tests and the demo
    mock: str


_UNITREE = "egoscale_ros.interfaces.unitree"
_MOCK_UNITREE = "mock_unitree_node"
_MOCK_ROS = "mock_hardware_node"
_GALAXEA = "egoscale_ros.interfaces.galaxea"
_SHARPA = "egoscale_ros.interfaces.sharpa"
_MOCK_MAKER_TOPICS = "mock_ros_robot_node"  # the far side of makers' ROS-topic interfaces

OUTPUTS: dict[str, Kind] = {
    "unitree_hg_arm_sdk": Kind(_UNITREE, "HgArmSdkOutput", _MOCK_UNITREE),
    "unitree_go_lowcmd": Kind(_UNITREE, "GoLowCmdOutput", _MOCK_UNITREE),
    "unitree_dex3": Kind(_UNITREE, "Dex3Output", _MOCK_UNITREE),
    "unitree_inspire": Kind(_UNITREE, "InspireOutput", _MOCK_UNITREE),
    "galaxea_joint_target": Kind(_GALAXEA, "GalaxeaJointTargetOutput", _MOCK_MAKER_TOPICS),
    "sharpa_joint_commands": Kind(_SHARPA, "SharpaCommandOutput", _MOCK_MAKER_TOPICS),
}
FEEDBACK: dict[str, Kind] = {
    "joint_state": Kind("egoscale_ros.interfaces.feedback", "JointStateFeedback", _MOCK_ROS),
    "unitree_hg_lowstate": Kind(_UNITREE, "HgLowStateFeedback", _MOCK_UNITREE),
    "unitree_go_lowstate": Kind(_UNITREE, "GoLowStateFeedback", _MOCK_UNITREE),
    "unitree_dex3_state": Kind(_UNITREE, "Dex3StateFeedback", _MOCK_UNITREE),
    "unitree_inspire_state": Kind(_UNITREE, "InspireStateFeedback", _MOCK_UNITREE),
    "galaxea_feedback": Kind(_GALAXEA, "GalaxeaFeedback", _MOCK_MAKER_TOPICS),
    "sharpa_joint_states": Kind(_SHARPA, "SharpaFeedback", _MOCK_MAKER_TOPICS),
}


def register_output(kind: str, module: str, cls: str, mock: str) -> None:
    OUTPUTS[kind] = Kind(module, cls, mock)


def register_feedback(kind: str, module: str, cls: str, mock: str) -> None:
    FEEDBACK[kind] = Kind(module, cls, mock)


def output_kinds() -> tuple[str, ...]:
    return tuple(OUTPUTS)


def feedback_kinds() -> tuple[str, ...]:
    return tuple(FEEDBACK)


def _class(kind: Kind):
    return getattr(importlib.import_module(kind.module), kind.cls)


def output_class(kind: str):
    return _class(OUTPUTS[kind])


def feedback_class(kind: str):
    return _class(FEEDBACK[kind])


def output_adapter(output, config):
    """The adapter serving ``output`` (a ControllerOutput whose type is an interface kind)."""
    return output_class(output.type)(output, config)


def feedback_decoder(source, config):
    return feedback_class(source.type)(source, config)


def validate(config) -> None:
    """Let every adapter check its options against the config (errors name the field)."""
    for out in config.adapter_outputs:
        output_class(out.type).validate(out, config)
    for src in config.feedback:
        feedback_class(src.type).validate(src, config)


def mock_nodes(config) -> list[str]:
    """Executables of the native mocks that play this robot's side (in a stable order)."""
    found: list[str] = []
    for out in config.adapter_outputs:
        found.append(OUTPUTS[out.type].mock)
    for src in config.feedback:
        found.append(FEEDBACK[src.type].mock)
    if not config.feedback and any(c.is_ros for c in config.controllers):
        found.append(_MOCK_ROS)  # the generic mock publishes joint_states itself
    return list(dict.fromkeys(found))
