"""Start seatrack_node for an RGB + thermal camera setup.

    ros2 launch seatrack_ros rgbt.launch.py rgb_topic:=/camera/color/image_raw \
        aux_topic:=/thermal/image_raw checkpoint:=/path/to/seatrack.pth

Defaults come from config/rgbt.yaml; the launch arguments override them. The target is published
on <namespace>/seatrack/target.
"""

from seatrack_ros.ros.launch_common import seatrack_launch_description


def generate_launch_description():
    return seatrack_launch_description("rgbt.yaml", aux_topic="thermal/image_raw", aux_name="thermal", lora_merged=True)
