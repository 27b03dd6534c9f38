"""The import contract: layers read from the code's own imports, so the build enforces the design.

Each top-level part of the package sits on a layer; a module may import its own part and any part on
a lower layer, never a higher one nor a sibling on the same layer. So ``nodes`` (the rclpy shell)
may import the core and never the reverse, and within the core the order below holds without
circles. Every import counts, also those inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "egoscale_ros"

# Highest first. Parts on one line may not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("cli",),
    ("demo",),
    ("nodes",),
    ("faults",),
    ("process_memory",),
    ("process_graph", "process_cpu", "cpu_hogs", "interrupt", "status_table"),
    ("graph",),
    ("check", "recording"),
    ("reach",),
    ("ik", "policy"),
    ("robot", "chunking"),
    ("retarget",),  # a robot's hands are hand configs: the robot config reads its hands' joints
    ("interfaces",),
    ("hardware",),
    ("kinematics", "safety", "camera"),
    ("schema",),
    ("resources", "fixed_decimals"),
]
# Parts that belong to another's layer as a whole: the remote policy clients are policy backends
# (the manifest and the runtime selection reach them, and they build on the policy's pipeline).
SAME_PART = {"remote": "policy"}
LAYER_OF = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
SHELL_ONLY = ("rclpy", "rclpy_", "builtin_interfaces", "std_msgs", "sensor_msgs", "geometry_msgs",
              "trajectory_msgs", "diagnostic_msgs", "launch", "launch_ros")
SHELL_LAYERS = {"cli", "demo", "nodes", "process_graph"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            out.add(prefix)
            out.update(f"{prefix}.{alias.name}" for alias in node.names)
    return out


def part_of(module: str) -> str | None:
    """``egoscale_ros.robot.config`` -> ``robot``; None for the package root itself."""
    pieces = module.split(".")
    if len(pieces) < 2 or pieces[0] != "egoscale_ros":
        return None
    return SAME_PART.get(pieces[1], pieces[1])


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
# module -> the package modules it imports (a name that is an attribute resolves to its module)
EDGES: dict[str, set[str]] = {}
for _mod, _path in MODULES.items():
    targets = set()
    for imported in imports_of(_path):
        while imported and imported not in MODULES:
            imported = imported.rpartition(".")[0]
        if imported and imported != _mod and imported != "egoscale_ros":
            targets.add(imported)
    EDGES[_mod] = targets


def test_every_part_of_the_package_has_a_layer():
    parts = {part_of(m) for m in MODULES} - {None}
    assert parts <= set(LAYER_OF), f"parts with no layer in the contract: {sorted(parts - set(LAYER_OF))}"


def breaches(module: str, targets: set[str]) -> list[str]:
    """The imports of ``module`` that go up the layers or sideways to a sibling part."""
    part = part_of(module)
    wrong = []
    for target in sorted(targets):
        other = part_of(target)
        if other is not None and other != part and LAYER_OF[other] <= LAYER_OF[part]:
            wrong.append(f"{target} ({other} is not below {part})")
    return wrong


@pytest.mark.parametrize("module", sorted(m for m in MODULES if part_of(m)))
def test_imports_go_down_the_layers(module):
    assert not breaches(module, EDGES[module]), f"{module} imports upward or sideways"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if part_of(m) not in SHELL_LAYERS))
def test_the_core_never_imports_ros(module):
    ros = sorted(i for i in imports_of(MODULES[module]) if i.split(".")[0] in SHELL_ONLY)
    assert not ros, f"{module} is core and imports ROS: {ros}"


def test_no_import_circle_between_modules():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in EDGES[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    assert not circles, f"import circles: {circles}"


def test_the_contract_refuses_upward_and_sideways_imports_and_allows_downward_ones():
    assert breaches("egoscale_ros.safety.gate", {"egoscale_ros.nodes.wiring.qos"})  # core -> shell
    assert breaches("egoscale_ros.kinematics.urdf", {"egoscale_ros.robot.spec"})  # up one layer
    assert breaches("egoscale_ros.ik.wrist_ik", {"egoscale_ros.policy.layout"})  # sideways
    assert not breaches("egoscale_ros.nodes.wrist_ik_node", {"egoscale_ros.ik.wrist_ik", "egoscale_ros.schema"})
    assert not breaches("egoscale_ros.robot.config", {"egoscale_ros.robot.spec"})  # within its own part
