"""The requirement files of the test legs stay in step, so a new dependency reaches every leg.

Runtime libraries live in requirements-core.txt, which the main and Jazzy legs include; the
Humble-like leg pins its own (older) versions of the same packages. A package left out of a leg
must say so, with the reason, in a comment of the form ``# not in this leg: NAME (why)``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s#;]+)")
LEFT_OUT = re.compile(r"^#\s*not in this leg:\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*\((.+)\)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read(name: str, root: Path = REPO) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Pinned packages, packages left out with their reason, and included files of one file."""
    pins, left_out, includes = {}, {}, []
    for raw in (root / name).read_text().splitlines():
        line = raw.strip()
        if line.startswith("-r "):
            includes.append(line[3:].strip())
        elif match := LEFT_OUT.match(line):
            left_out[_norm(match.group(1))] = match.group(2)
        elif line and not line.startswith("#"):
            match = REQUIREMENT.match(line)
            assert match, f"{name}: '{line}' is not pinned with == (every leg installs tested versions)"
            pins[_norm(match.group(1))] = match.group(2)
    return pins, left_out, includes


def test_the_main_requirements_add_only_ros_wheels_and_torch_to_the_core():
    pins, _, includes = read("requirements.txt")
    assert includes == ["requirements-core.txt"]
    extra = [name for name in pins if not name.startswith("ros-") and name != "torch"]
    assert not extra, f"requirements.txt: move {extra} to requirements-core.txt so every leg gets them"


def test_the_jazzy_leg_has_the_core_and_a_jazzy_wheel_for_every_ros_wheel():
    main, _, _ = read("requirements.txt")
    jazzy, left_out, includes = read("requirements-jazzy.txt")
    assert "requirements-core.txt" in includes
    for name in (n for n in main if n.startswith("ros-")):
        jazzy_name = "ros-jazzy-" + name[len("ros-"):]
        assert jazzy_name in jazzy or jazzy_name in left_out, f"requirements-jazzy.txt lacks {jazzy_name}"
    assert "torch" not in jazzy and "torch" in left_out


def test_the_core310_leg_pins_or_explains_every_core_package():
    core, _, _ = read("requirements-core.txt")
    old, left_out, includes = read("requirements-core310.txt")
    assert not includes, "the 3.10 leg pins its own versions; it must not include the newer core pins"
    missing = [name for name in core if name not in old and name not in left_out]
    assert not missing, f"requirements-core310.txt: pin {missing} or add '# not in this leg: NAME (why)'"
    assert not any(name.startswith("ros-") for name in old), "no ROS 2 wheels exist for Humble"


def test_a_requirement_line_that_is_not_pinned_is_refused(tmp_path):
    (tmp_path / "requirements-x.txt").write_text("numpy>=1.0\n")
    with pytest.raises(AssertionError, match="numpy>=1.0"):
        read("requirements-x.txt", root=tmp_path)
