"""The launch files (for full ROS installs; launch/launch_ros are not on PyPI) and config files:
they parse, and everything they reference exists: the executable the build installs, the config
files, the node's parameters, the launch arguments they use.

The launch-file tests run them against stand-in launch modules, and only where the real launch
system is absent: with it, test_ros_real_launch.py runs `ros2 launch` itself."""

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


def _real_launch_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("launch", "launch_ros", "ros2launch"))


stand_in_only = pytest.mark.skipif(
    _real_launch_installed(),
    reason="the real launch system is installed: test_ros_real_launch.py runs the launch files with it")


def node_parameters():
    from seatrack_ros.ros.node import PARAMETERS

    return PARAMETERS


class _Recorder:
    """Stands in for a launch class: remembers its constructor arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _LaunchConfiguration(_Recorder):
    """Stands in for launch.substitutions.LaunchConfiguration: ``perform`` reads the context's launch
    configurations, failing (like the real one) for a name no launch argument declared."""

    def perform(self, context):
        name = self.args[0]
        if name not in context.launch_configurations:
            raise AssertionError(f"LaunchConfiguration({name!r}) is not a declared launch argument")
        return context.launch_configurations[name]


def _fake_launch_modules() -> dict[str, types.ModuleType]:
    classes = {
        "launch": ["LaunchDescription"],
        "launch.actions": ["DeclareLaunchArgument", "OpaqueFunction"],
        "launch.substitutions": [],
        "launch_ros.actions": ["Node"],
        "launch_ros.parameter_descriptions": ["ParameterValue"],
    }
    modules = {}
    for name, members in classes.items():
        module = types.ModuleType(name)
        for member in members:
            setattr(module, member, type(member, (_Recorder,), {}))
        modules[name] = module
    modules["launch.substitutions"].LaunchConfiguration = _LaunchConfiguration
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


def declared_arguments(description):
    entities = description.args[0]
    return {e.args[0]: e.kwargs for e in entities if type(e).__name__ == "DeclareLaunchArgument"}


def launch_nodes(description, **given):
    """Run the description's OpaqueFunctions against a stand-in launch context holding the declared
    defaults with ``given`` launch arguments on top (as `ros2 launch ... name:=value` does)."""
    declared = declared_arguments(description)
    unknown = set(given) - set(declared)
    assert not unknown, f"not declared: {unknown}"
    context = types.SimpleNamespace(launch_configurations={
        name: kwargs["default_value"] for name, kwargs in declared.items()})
    context.launch_configurations.update(given)
    entities = list(description.args[0])
    nodes = [e for e in entities if type(e).__name__ == "Node"]
    for opaque in (e for e in entities if type(e).__name__ == "OpaqueFunction"):
        nodes += [e for e in opaque.kwargs["function"](context) if type(e).__name__ == "Node"]
    return nodes


def split_parameters(node):
    """(parameter files, override dicts) of a stand-in Node, in order."""
    parameters = node.kwargs["parameters"]
    return [p for p in parameters if not isinstance(p, dict)], [p for p in parameters if isinstance(p, dict)]


@stand_in_only
@pytest.mark.parametrize("name", sorted(LAUNCH_FILES))
def test_launch_file_parses_and_references_what_exists(name, monkeypatch):
    ast.parse((ROOT / "launch" / f"{name}.launch.py").read_text())
    description = load_description(name, monkeypatch)
    declared = declared_arguments(description)
    assert REQUIRED_ARGUMENTS <= set(declared)
    assert all(kw.get("description") for kw in declared.values())
    # every LaunchConfiguration the node uses is a declared launch argument (the stand-in context
    # fails otherwise), here with every overridable argument given
    nodes = launch_nodes(description, rgb_topic="/cam/rgb", aux_topic="/cam/aux", checkpoint="/x.pth",
                         lora_merged="false", device="cpu", namespace="robot1")
    assert len(nodes) == 1
    node = nodes[0].kwargs
    assert node["package"] == "seatrack_ros"
    assert node["namespace"] == "robot1"
    # the executable is installed by the build and exists in the source tree
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert re.search(rf"install\(PROGRAMS bin/{node['executable']} DESTINATION lib/\$\{{PROJECT_NAME\}}\)", cmake)
    assert (ROOT / "bin" / node["executable"]).stat().st_mode & 0o111
    files, overrides = split_parameters(nodes[0])
    assert len(overrides) == 1
    # the default parameter file exists and matches the launch file's modality
    params_file = Path(declared["params_file"]["default_value"])
    assert params_file.is_file(), params_file
    assert files == [str(params_file)]
    assert node["parameters"][0] == str(params_file)  # the file first: the overrides win
    config = yaml.safe_load(params_file.read_text())["/**"]["ros__parameters"]
    assert config["modality"] == LAUNCH_FILES[name]
    # the overrides name real node parameters
    assert set(overrides[0]) <= set(node_parameters())
    assert set(overrides[0]) == {"rgb_topic", "aux_topic", "checkpoint", "lora_merged", "device"}
    # the help names the shipped file's LoRA convention
    assert f"shipped: {str(config['lora_merged']).lower()}" in declared["lora_merged"]["description"]


@stand_in_only
@pytest.mark.parametrize("name", sorted(LAUNCH_FILES))
def test_launch_arguments_not_given_leave_params_file_values(name, monkeypatch, tmp_path):
    """params_file:=my.yaml with its own checkpoint/device: nothing the user did not set shadows them."""
    own = tmp_path / "my.yaml"
    own.write_text("/**:\n  ros__parameters:\n    checkpoint: /x.pth\n    device: cuda\n"
                   "    lora_merged: false\n    rgb_topic: /mine/rgb\n")
    description = load_description(name, monkeypatch)
    nodes = launch_nodes(description, params_file=str(own))
    files, overrides = split_parameters(nodes[0])
    assert files == [str(own)]
    shadowing = {k: v for o in overrides for k, v in o.items()}
    assert shadowing == {}, shadowing
    # the shipped file too: no launch default overrides it
    files, overrides = split_parameters(launch_nodes(description)[0])
    assert files == [declared_arguments(description)["params_file"]["default_value"]]
    assert not {k: v for o in overrides for k, v in o.items()}


@stand_in_only
@pytest.mark.parametrize("name", sorted(LAUNCH_FILES))
def test_launch_arguments_given_override_with_parameter_types(name, monkeypatch):
    description = load_description(name, monkeypatch)
    nodes = launch_nodes(description, checkpoint="/models/seatrack.pth", device="cpu")
    files, overrides = split_parameters(nodes[0])
    assert node_parameters()["checkpoint"][0] == "" and node_parameters()["device"][0] == "auto"
    assert len(files) == 1 and len(overrides) == 1
    assert overrides[0] == {"checkpoint": "/models/seatrack.pth", "device": "cpu"}
    assert nodes[0].kwargs["parameters"].index(overrides[0]) > nodes[0].kwargs["parameters"].index(files[0])
    for value, expected in (("true", True), ("False", False)):
        override = split_parameters(launch_nodes(description, lora_merged=value)[0])[1][0]
        assert override == {"lora_merged": expected}
        assert type(override["lora_merged"]) is type(node_parameters()["lora_merged"][0])
    with pytest.raises(ValueError, match="lora_merged must be true or false"):
        launch_nodes(description, lora_merged="yes")


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
