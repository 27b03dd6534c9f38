"""Export the cached reference policies that the PyTorch-free legs run.

The Jazzy leg has no PyTorch, so it cannot train or export; the main leg's environment does it
once per robot config into the shared cache (the same cache the demo and the tests use), and the
Jazzy leg then loads the ONNX files through ONNX Runtime like a robot computer would.
"""

from __future__ import annotations

import sys

from egoscale_ros.policy.export import ensure_default_policy
from egoscale_ros.resources import available_robots


def main(robots: list[str]) -> int:
    """Export the policies of ``robots`` (every robot config when none is named)."""
    for robot in robots or available_robots():
        manifest = ensure_default_policy(preset="tiny", robot=robot, progress=False)
        print(f"{robot}: {manifest.parent.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
