"""``egoscale-ros check``: the static check of configs, URDFs and manifests, or with ``--live`` the
preflight that listens to the robot's feedback before anything moves.

The static check is core (``egoscale_ros/check.py``, no ROS); the live one needs ROS and the
maker's middleware, so the command that offers both lives in the shell.
"""

from __future__ import annotations

import argparse

from egoscale_ros import check
from egoscale_ros.nodes import preflight


def add_arguments(parser: argparse.ArgumentParser) -> None:
    check.add_arguments(parser)
    preflight.add_arguments(parser)  # --live: listen to the robot's feedback before anything moves


def run(args: argparse.Namespace) -> int:
    if getattr(args, "live", False):
        return preflight.run(args)
    return check.run(args)
