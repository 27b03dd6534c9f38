"""The README's layout section names every part of the package, and nothing that is not there.

Catches: a new top-level module or folder added without a word in the layout, or one renamed or
removed while the README still describes it (the section is how a newcomer finds their way).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "egoscale_ros"


def layout_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Layout", 1)[1]
    return section.split("```", 2)[1]


def named_parts(block: str) -> set[str]:
    """Top-level names the block lists under ``egoscale_ros/`` (two-space indent), folders with '/'."""
    names: set[str] = set()
    for line in block.splitlines():
        if not line.startswith("  ") or line.startswith("   "):
            continue
        for token in re.findall(r"[a-z_0-9]+(?:\.py|/)", line.split("  ", 2)[1]):
            names.add(token)
    return names


def package_parts() -> set[str]:
    parts = {f"{p.name}/" for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    parts |= {p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    return parts


def test_every_part_of_the_package_is_in_the_layout():
    missing = package_parts() - named_parts(layout_block())
    assert not missing, f"README layout does not mention {sorted(missing)}"


def test_the_layout_names_nothing_that_does_not_exist():
    stale = named_parts(layout_block()) - package_parts()
    assert not stale, f"README layout names {sorted(stale)}, which egoscale_ros/ does not have"


def test_wiring_modules_are_listed():
    block = layout_block()
    wiring_line = block[block.index("wiring/"):block.index("faults/")]
    modules = {p.stem for p in (PACKAGE / "nodes" / "wiring").glob("*.py") if p.stem != "__init__"}
    missing = {m for m in modules if not re.search(rf"\b{m}\b", wiring_line)}
    assert not missing, f"README layout's wiring/ line does not mention {sorted(missing)}"


def test_top_level_folders_of_the_repository_are_listed():
    block = layout_block()
    for folder in ("config/robots/", "config/hands/", "urdf/", "launch/"):
        assert (ROOT / folder).is_dir() and folder in block, folder
