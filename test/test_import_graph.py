"""The package's layers: which subpackage may import which, no import cycle, rclpy only under ros/.

Read from the source with ``ast`` (nothing is imported), counting every import, also those inside
functions: a lazy import still makes the importing layer depend on the imported one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[1] / "seatrack_ros"

# layer -> the seatrack_ros layers it may import (itself always). A layer is a subpackage or a
# top-level module; "msg"/"srv" are the generated ROS interfaces.
ALLOWED = {
    "errors": set(),
    "model": {"errors"},
    "geometry": {"errors"},
    "engine": {"errors", "model", "geometry", "testing"},  # testing: the fidelity tool's golden lookup
    "tracker": {"errors", "model", "geometry", "engine"},
    "modalities": {"errors"},
    "streams": {"errors", "modalities"},
    "cli": {"errors", "model"},
    "testing": {"errors", "model", "modalities", "streams"},
    "offline": {"errors", "model", "geometry", "tracker", "modalities", "streams", "cli"},
    "bench": {"errors", "model", "geometry", "engine", "tracker", "cli", "testing"},
    "ros": {"errors", "model", "tracker", "modalities", "streams", "msg", "srv"},
    "training": {"errors", "model", "geometry", "tracker", "modalities", "streams", "offline", "cli"},
}
# third-party packages that only some layers may import
RESTRICTED = {
    "rclpy": {"ros"},
    "rosbags": {"offline"},
    "launch": {"ros"},
    "launch_ros": {"ros"},
    "sensor_msgs": {"ros"},
    "std_msgs": {"ros"},
    "std_srvs": {"ros"},
    "rcl_interfaces": {"ros"},
    "diagnostic_msgs": {"ros"},
    "geometry_msgs": {"ros"},
    "vision_msgs": {"ros"},
    "event_camera_msgs": {"ros"},
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imports(module: str, path: Path) -> set[str]:
    """Absolute names of everything ``module`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names.add(target)
            # "from seatrack_ros.x import y" may name a submodule y
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def _layer(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "seatrack_ros" or len(parts) < 2:
        return None
    return parts[1]


MODULES = dict(_modules())
IMPORTS = {module: _imports(module, path) for module, path in MODULES.items()}


def test_the_graph_was_read():
    assert "seatrack_ros.ros.node" in MODULES and "seatrack_ros.model.build" in MODULES
    assert "seatrack_ros.streams.sync" in IMPORTS["seatrack_ros.ros.node"]
    assert len(MODULES) > 40


def _violations(module: str, names) -> list[str]:
    layer = _layer(module)
    if layer not in ALLOWED:
        return [f"{module}: layer {layer!r} is missing from the table"]
    found = []
    for name in sorted(names):
        target = _layer(name)
        if target is not None and target != layer and target not in ALLOWED[layer]:
            found.append(f"{module} imports {name}: {layer} may not import {target}")
        top = name.split(".")[0]
        if top in RESTRICTED and layer not in RESTRICTED[top]:
            found.append(f"{module} imports {name}; only {sorted(RESTRICTED[top])} may")
    return found


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _layer(m)))
def test_layers_import_only_what_they_may(module):
    assert _violations(module, IMPORTS[module]) == []


def test_the_checker_finds_forbidden_imports(tmp_path):
    """Negative control: a streams module importing the node, rclpy or torch's tracker is flagged."""
    source = tmp_path / "bad.py"
    source.write_text(
        "import rclpy\nfrom ..ros import node\n\ndef f():\n    from ..tracker import SEATracker\n"
    )
    names = _imports("seatrack_ros.streams.bad", source)
    assert {"rclpy", "seatrack_ros.ros", "seatrack_ros.tracker"} <= names
    assert len(_violations("seatrack_ros.streams.bad", names)) == 5  # rclpy; ros, ros.node; tracker, its name


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_cycle_between_layers():
    graph: dict[str, set[str]] = {}
    for module, names in IMPORTS.items():
        layer = _layer(module)
        if layer:
            graph.setdefault(layer, set()).update(
                t for t in (_layer(n) for n in names) if t and t != layer and t in ALLOWED
            )
    assert _cycle(graph) is None, f"import cycle between layers: {_cycle(graph)}"


def test_no_cycle_between_modules():
    """Module level, with a package's __init__ counted as imported by everything that imports below it."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, names in IMPORTS.items():
        for name in names:
            parts = name.split(".")
            for end in range(2, len(parts) + 1):  # the package chain down to the module
                target = ".".join(parts[:end])
                if target in MODULES and target != module and not module.startswith(target + "."):
                    graph[module].add(target)
    assert _cycle(graph) is None, f"import cycle: {_cycle(graph)}"


def test_the_checker_finds_a_cycle():
    """Negative control: the cycle search is not vacuous."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
