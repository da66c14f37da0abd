"""The launch files (for full ROS installs; launch/launch_ros are not on PyPI) and config files:
they parse, and everything they reference exists: the executable the build installs, the config
files, the node's parameters, the launch arguments they use."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import types
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = {"rgbt": "thermal", "rgbd": "depth", "rgbe": "event"}
REQUIRED_ARGUMENTS = {"namespace", "rgb_topic", "aux_topic", "checkpoint", "device"}


def node_parameters():
    from seatrack_ros.ros.node import PARAMETERS

    return PARAMETERS


class _Recorder:
    """Stands in for a launch class: remembers its constructor arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def _fake_launch_modules() -> dict[str, types.ModuleType]:
    classes = {
        "launch": ["LaunchDescription"],
        "launch.actions": ["DeclareLaunchArgument"],
        "launch.substitutions": ["LaunchConfiguration"],
        "launch_ros.actions": ["Node"],
        "launch_ros.parameter_descriptions": ["ParameterValue"],
    }
    modules = {}
    for name, members in classes.items():
        module = types.ModuleType(name)
        for member in members:
            setattr(module, member, type(member, (_Recorder,), {}))
        modules[name] = module
    modules["launch_ros"] = types.ModuleType("launch_ros")
    return modules


def load_description(name, monkeypatch):
    # The installed share dir holds launch/ and config/ as they are in the source tree.
    import ament_index_python.packages

    for module_name, module in _fake_launch_modules().items():
        monkeypatch.setitem(sys.modules, module_name, module)
    monkeypatch.setattr(ament_index_python.packages, "get_package_share_directory",
                        lambda package: str(ROOT) if package == "seatrack_ros" else None)
    spec = importlib.util.spec_from_file_location(f"launch_{name}", ROOT / "launch" / f"{name}.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


@pytest.mark.parametrize("name", sorted(LAUNCH_FILES))
def test_launch_file_parses_and_references_what_exists(name, monkeypatch):
    ast.parse((ROOT / "launch" / f"{name}.launch.py").read_text())
    source = (ROOT / "seatrack_ros" / "ros" / "launch_common.py").read_text()
    description = load_description(name, monkeypatch)
    entities = description.args[0]
    declared = {e.args[0]: e.kwargs for e in entities if type(e).__name__ == "DeclareLaunchArgument"}
    nodes = [e for e in entities if type(e).__name__ == "Node"]
    assert REQUIRED_ARGUMENTS <= set(declared)
    assert all(kw.get("description") for kw in declared.values())
    assert len(nodes) == 1
    node = nodes[0].kwargs
    assert node["package"] == "seatrack_ros"
    # the executable is installed by the build and exists in the source tree
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert re.search(rf"install\(PROGRAMS bin/{node['executable']} DESTINATION lib/\$\{{PROJECT_NAME\}}\)", cmake)
    assert (ROOT / "bin" / node["executable"]).stat().st_mode & 0o111
    # every LaunchConfiguration the node uses is a declared launch argument
    overrides = next(p for p in node["parameters"] if isinstance(p, dict))
    files = [p for p in node["parameters"] if not isinstance(p, dict)]
    used = {value.args[0].args[0] for value in overrides.values()}
    used |= {node["namespace"].args[0]} | {f.args[0] for f in files}
    assert used <= set(declared), used - set(declared)
    assert set(re.findall(r'LaunchConfiguration\("([a-z_]+)"\)', source)) <= set(declared)
    # the default parameter file exists and matches the launch file's modality
    params_file = Path(declared["params_file"]["default_value"])
    assert params_file.is_file(), params_file
    config = yaml.safe_load(params_file.read_text())["/**"]["ros__parameters"]
    assert config["modality"] == LAUNCH_FILES[name]
    # the overrides name real node parameters
    assert set(overrides) <= set(node_parameters())
    assert declared["lora_merged"]["default_value"] == str(config["lora_merged"]).lower()


@pytest.mark.parametrize("name", sorted(LAUNCH_FILES))
def test_config_names_and_types_match_the_node(name):
    config = yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text())
    params = config["/**"]["ros__parameters"]
    declared = node_parameters()
    unknown = set(params) - set(declared)
    assert not unknown, unknown
    for key, value in params.items():
        default = declared[key][0]
        if default is not None:
            assert type(value) is type(default), (key, value, default)
    assert re.search(r"install\(DIRECTORY launch config DESTINATION share/\$\{PROJECT_NAME\}\)",
                     (ROOT / "CMakeLists.txt").read_text())


def test_rviz_config_shows_the_debug_image():
    rviz = yaml.safe_load((ROOT / "config" / "seatrack.rviz").read_text())
    displays = rviz["Visualization Manager"]["Displays"]
    image = [d for d in displays if d["Class"] == "rviz_default_plugins/Image"]
    assert image and image[0]["Topic"]["Value"] == "/seatrack/debug_image"
