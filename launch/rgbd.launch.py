"""Start seatrack_node for an RGB + depth camera setup.

    ros2 launch seatrack_ros rgbd.launch.py rgb_topic:=/camera/color/image_raw \
        aux_topic:=/depth/image_raw checkpoint:=/path/to/SEATrack_ep0025.pth.tar

Defaults come from config/rgbd.yaml (what differs per modality) and the node's declarations (the
rest, with lora_merged from the model registry); the launch arguments override them. The target is published
on <namespace>/seatrack/target.
"""

from seatrack_ros.ros.launch_common import seatrack_launch_description


def generate_launch_description():
    return seatrack_launch_description("rgbd")
