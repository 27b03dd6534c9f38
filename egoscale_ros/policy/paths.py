"""Where the policy code keeps generated files (exported reference policies, engine caches)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/egoscale_ros`` (or ``~/.cache/egoscale_ros``): user-writable on a robot,
    unlike the installed share folder."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "egoscale_ros"
