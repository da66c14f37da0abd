"""Start seatrack_node for an RGB + event camera setup.

    ros2 launch seatrack_ros rgbe.launch.py rgb_topic:=/camera/color/image_raw \
        aux_topic:=/event_camera/events checkpoint:=/path/to/seatrack.pth

Defaults come from config/rgbe.yaml; the launch arguments override them. The target is published
on <namespace>/seatrack/target.
"""

from seatrack_ros.ros.launch_common import seatrack_launch_description


def generate_launch_description():
    return seatrack_launch_description("rgbe.yaml", aux_topic="events", aux_name="event", lora_merged=False)
