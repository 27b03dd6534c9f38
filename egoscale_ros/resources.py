"""Locate the package's data files (config/, urdf/, launch/) and its cache folder.

The share folder is searched in this order (see :func:`share_dir`):

1. ``EGOSCALE_ROS_SHARE`` when set (overrides everything).
2. A source checkout (the dev venv installs the package in editable mode): the repository root,
   one folder above the Python package, when it holds ``config/robots``.
3. An installed ROS 2 package (colcon): ``<prefix>/share/egoscale_ros`` from the ament index.

Generated files (exported policies, engine caches, compiled kinematics) go under
:func:`cache_dir`, which is user-writable on a robot, unlike the installed share folder.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

PACKAGE = "egoscale_ros"


@cache
def share_dir() -> Path:
    """Return the folder that holds ``config/``, ``urdf/`` and ``launch/``."""
    override = os.environ.get("EGOSCALE_ROS_SHARE")
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "config" / "robots").is_dir():
        return checkout
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except Exception as exc:
        raise FileNotFoundError(
            f"cannot find the {PACKAGE} share folder (config/, urdf/): not a source checkout, "
            f"not in the ament index ({exc}); set EGOSCALE_ROS_SHARE"
        ) from exc


def resolve(path: str | os.PathLike, base: Path | None = None) -> Path:
    """Resolve a config-relative path.

    Absolute paths are returned as they are (an operator may point at a vendor file);
    ``package://egoscale_ros/<rel>`` and bare relative paths are taken relative to ``base``
    (the file that mentions them) when that exists there, else to the share folder.
    """
    text = str(path)
    prefix = f"package://{PACKAGE}/"
    if text.startswith(prefix):
        return share_dir() / text[len(prefix):]
    p = Path(os.path.expanduser(text))
    if p.is_absolute():
        return p
    if base is not None and (base / p).exists():
        return base / p
    return share_dir() / p


def robot_config_path(robot: str) -> Path:
    """Path of ``config/robots/<robot>.yaml`` (or ``robot`` itself when it is a file)."""
    if robot.endswith((".yaml", ".yml")) or os.sep in robot:
        return Path(robot)
    return share_dir() / "config" / "robots" / f"{robot}.yaml"


def available_robots() -> list[str]:
    return sorted(p.stem for p in (share_dir() / "config" / "robots").glob("*.yaml"))


def cache_dir(*parts: str) -> Path:
    """``$EGOSCALE_ROS_CACHE``, else ``$XDG_CACHE_HOME/egoscale_ros``, else ``~/.cache/egoscale_ros``;
    ``parts`` name a subfolder (e.g. ``cache_dir("tensorrt")``). Not created here."""
    root = os.environ.get("EGOSCALE_ROS_CACHE")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, PACKAGE)
    return Path(root).joinpath(*parts)
