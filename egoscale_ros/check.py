"""``egoscale-ros check``: validate robot configs against their URDFs before going near a robot.

Prints what the config resolves to (URDFs, arms, hands, controllers, limits in force) or one
error line naming the file and field; exit status 1 on any error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from egoscale_ros import resources
from egoscale_ros.kinematics.urdf import UrdfError
from egoscale_ros.retarget.config import HandRetargetConfig
from egoscale_ros.robot.config import load_robot_config
from egoscale_ros.robot.spec import RobotConfig
from egoscale_ros.schema import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", action="append", help="robot config name or YAML path (repeatable; default: all)")
    parser.add_argument("--urdf", default="", help="check against this URDF instead of the config's")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--policy", default="", help="also check this policy manifest against each robot")


def robot_hand_configs(config: RobotConfig) -> dict[str, HandRetargetConfig]:
    """Each hand's retargeting config, as the robot config read it.

    Loading the robot config reads every hand's config (its joints are stated there, once) and
    refuses a hand type that disagrees with it, naming both files; so ``egoscale-ros check`` and
    hand_retarget_node, which both start from the loaded robot, never judge differently.
    """
    out = {}
    for side, hand in config.hands.items():
        if hand.model is None:  # a RobotConfig built by hand, not loaded
            raise ConfigError(f"{config.path.name}.hands.{side}: its hand config was not read")
        out[side] = hand.model
    return out


def describe(config: RobotConfig) -> dict:
    def limit(j: str) -> list[float]:
        info = config.joint_info(j)
        return [info.lower, info.upper, info.velocity if math.isfinite(info.velocity) else None]

    return {
        "name": config.name,
        "urdf": str(config.urdf),
        "extra_urdfs": [str(p) for p in config.extra_urdfs],
        "base_frame": config.base_frame,
        "arms": {s: {"joints": list(a.joints), "ee_frame": a.ee_frame} for s, a in config.arms.items()},
        "hands": {s: {"type": h.type, "joints": list(h.joints), "retarget": str(c.path)}
                  for (s, h), c in zip(config.hands.items(), robot_hand_configs(config).values())},
        "cameras": [c.name for c in config.cameras],
        "controllers": {c.topic: {"type": c.type, "joints": len(c.joints)} for c in config.controllers},
        "joint_limits": {j: limit(j) for j in config.arm_joints + config.hand_joints},
        "joint_states": len(config.movable_joints()),
    }


def run(args: argparse.Namespace) -> int:
    robots = args.robot or resources.available_robots()
    results, errors = {}, {}
    for robot in robots:
        try:
            config = load_robot_config(robot, urdf_override=args.urdf or None)
            results[robot] = describe(config)
            if getattr(args, "policy", ""):
                from egoscale_ros.policy.fit import check_policy

                results[robot]["policy"] = check_policy(args.policy, config)
        except (ConfigError, UrdfError, ValueError) as exc:
            errors[robot] = str(exc)
    if args.json:
        print(json.dumps({"ok": results, "errors": errors}, indent=2))
    else:
        for robot, d in results.items():
            print(f"{robot}: OK — {len(d['joint_limits'])} commanded joints, {d['joint_states']} joint states, "
                  f"controllers {', '.join(d['controllers'])}")
        for robot, err in errors.items():
            print(f"{robot}: ERROR — {err}", file=sys.stderr)
    return 1 if errors else 0
