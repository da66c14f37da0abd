"""The launch description shared by launch/rgbt.launch.py, rgbd.launch.py and rgbe.launch.py.

Only a full ROS 2 install has ``launch`` and ``launch_ros``; they are imported when a launch file
calls `seatrack_launch_description`, never by the rest of the package.
"""

from __future__ import annotations

import os


def seatrack_launch_description(config_file: str, aux_topic: str, aux_name: str, lora_merged: bool):
    """seatrack_node with ``config/<config_file>`` defaults, overridable by launch arguments.

    config_file: parameter file in the package's share/config (e.g. ``"rgbt.yaml"``).
    aux_topic, aux_name: the default auxiliary topic and what it carries (for the argument's help).
    lora_merged: default LoRA convention of that modality's released checkpoint.
    """
    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node
    from launch_ros.parameter_descriptions import ParameterValue

    share = get_package_share_directory("seatrack_ros")
    arguments = [
        DeclareLaunchArgument("namespace", default_value="",
                              description="Namespace of the node (outputs go to <namespace>/seatrack/...)."),
        DeclareLaunchArgument("rgb_topic", default_value="rgb/image_raw", description="RGB image topic."),
        DeclareLaunchArgument("aux_topic", default_value=aux_topic, description=f"Auxiliary ({aux_name}) topic."),
        DeclareLaunchArgument("checkpoint", default_value="",
                              description="SEATrack checkpoint file; empty runs test weights (boxes mean nothing)."),
        DeclareLaunchArgument("lora_merged", default_value=str(lora_merged).lower(),
                              description="Whether the checkpoint's qkv weights already include LoRA."),
        DeclareLaunchArgument("device", default_value="auto", description="auto, cuda or cpu."),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", config_file),
                              description="Parameter file with the remaining defaults."),
    ]
    typed = {"rgb_topic": str, "aux_topic": str, "checkpoint": str, "lora_merged": bool, "device": str}
    node = Node(
        package="seatrack_ros",
        executable="seatrack_node",
        name="seatrack",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[
            LaunchConfiguration("params_file"),
            {name: ParameterValue(LaunchConfiguration(name), value_type=kind) for name, kind in typed.items()},
        ],
    )
    return LaunchDescription(arguments + [node])
