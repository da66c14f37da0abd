"""Start seatrack_node for an RGB + depth camera setup.

    ros2 launch seatrack_ros rgbd.launch.py rgb_topic:=/camera/color/image_raw \
        aux_topic:=/depth/image_raw checkpoint:=/path/to/seatrack.pth

Defaults come from config/rgbd.yaml; the launch arguments override them. The target is published
on <namespace>/seatrack/target.
"""

from seatrack_ros.ros.launch_common import seatrack_launch_description


def generate_launch_description():
    return seatrack_launch_description("rgbd.yaml", aux_topic="depth/image_raw", aux_name="depth", lora_merged=True)
