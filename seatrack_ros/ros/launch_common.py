"""The launch description shared by launch/rgbt.launch.py, rgbd.launch.py and rgbe.launch.py.

Only a full ROS 2 install has ``launch`` and ``launch_ros``; they are imported when a launch file
calls `seatrack_launch_description`, never by the rest of the package.
"""

from __future__ import annotations

import os
from typing import Any

# Launch arguments that may override a parameter of the params file, with the parameter's type.
# Their launch default is "" = "not given": the params file's value then stands.
OVERRIDABLE = {"rgb_topic": str, "aux_topic": str, "checkpoint": str, "lora_merged": bool, "device": str,
               "autostart": bool, "depth_camera_info_topic": str}


def parameter_overrides(given: dict[str, str]) -> dict[str, Any]:
    """The node parameters to set on top of the params file, from the launch arguments' values.

    given: launch argument name -> its text value ("" = not given). Only non-empty values are
    returned, converted to the parameter's type (lora_merged: "true"/"false" -> bool).
    Raises ValueError for a lora_merged value other than true/false.
    """
    overrides: dict[str, Any] = {}
    for name, kind in OVERRIDABLE.items():
        text = given.get(name, "").strip()
        if not text:
            continue
        if kind is bool:
            lowered = text.lower()
            if lowered not in ("true", "false"):
                raise ValueError(f"launch argument {name} must be true or false, got {text!r}")
            overrides[name] = lowered == "true"
        else:
            overrides[name] = text
    return overrides


def seatrack_launch_description(variant: str):
    """seatrack_node with ``config/<variant>.yaml`` defaults, overridable by launch arguments.

    variant: a released entry of the model registry (``rgbt``, ``rgbd``, ``rgbe``); its modality and
    its released file's LoRA convention (for the help texts) come from there, the shipped aux topic
    from the params file.
    The node is built at launch time (OpaqueFunction) so that only the arguments the user set
    override the params file, whichever file ``params_file`` names.
    """
    import yaml

    from seatrack_ros.model.build import variant_spec

    spec = variant_spec(variant)
    config_file = f"{variant}.yaml"
    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    share = get_package_share_directory("seatrack_ros")
    with open(os.path.join(share, "config", config_file), encoding="utf-8") as fh:
        shipped = yaml.safe_load(fh)["/**"]["ros__parameters"]
    aux_topic, aux_name, lora_merged = shipped["aux_topic"], spec.modality, spec.lora_merged
    from_file = "empty: the value in params_file"
    arguments = [
        DeclareLaunchArgument("namespace", default_value="",
                              description="Namespace of the node (outputs go to <namespace>/seatrack/...)."),
        DeclareLaunchArgument("rgb_topic", default_value="",
                              description=f"RGB image topic ({from_file}; shipped: rgb/image_raw)."),
        DeclareLaunchArgument("aux_topic", default_value="",
                              description=f"Auxiliary ({aux_name}) topic ({from_file}; shipped: {aux_topic})."),
        DeclareLaunchArgument("checkpoint", default_value="",
                              description=f"SEATrack checkpoint file, e.g. the released {spec.release_file} "
                                          f"({from_file}; shipped: none, which runs the demo model, trained on "
                                          "synthetic scenes only)."),
        DeclareLaunchArgument("lora_merged", default_value="",
                              description="true or false: whether the checkpoint's qkv weights already include "
                                          f"LoRA ({from_file}; shipped: {str(lora_merged).lower()})."),
        DeclareLaunchArgument("device", default_value="",
                              description=f"auto, cuda or cpu ({from_file}; shipped: auto)."),
        DeclareLaunchArgument("autostart", default_value="",
                              description="true or false: configure and activate the lifecycle node at start; "
                                          f"false leaves it unconfigured for a lifecycle manager ({from_file}; "
                                          "shipped: true)."),
        DeclareLaunchArgument("depth_camera_info_topic", default_value="",
                              description="CameraInfo of the depth image registered to the RGB camera (RGB-D): "
                                          f"publishes ~/target_point ({from_file}; shipped: off)."),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", config_file),
                              description="Parameter file with the node's defaults."),
    ]

    def make_node(context, *args, **kwargs):
        given = {name: LaunchConfiguration(name).perform(context) for name in OVERRIDABLE}
        overrides = parameter_overrides(given)  # ValueError stops the launch with its message
        parameters: list[Any] = [LaunchConfiguration("params_file").perform(context)]
        if overrides:
            parameters.append(overrides)  # after the file, so these win
        return [Node(
            package="seatrack_ros",
            executable="seatrack_node",
            name="seatrack",
            namespace=LaunchConfiguration("namespace").perform(context),
            output="screen",
            parameters=parameters,
        )]

    return LaunchDescription(arguments + [OpaqueFunction(function=make_node)])
