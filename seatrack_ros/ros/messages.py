"""Building the node's output messages from ROS-free results."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

from seatrack_ros.msg import Target
from seatrack_ros.streams.image_conversions import fill_image_msg


def target_message(header, step, test_weights: bool, dropped_pairs: int, parts: dict[str, float],
                   model: str = "") -> Target:
    """seatrack_ros/Target for one `StepResult`; ``parts``: latency seconds by stage (total = their sum);
    ``model``: the registry variant that computed it."""
    msg = Target()
    msg.header = header
    msg.model = model
    msg.x, msg.y, msg.width, msg.height = step.box
    msg.confidence, msg.status, msg.track_id = step.confidence, int(step.status), step.track_id
    msg.test_weights, msg.dropped_pairs = test_weights, dropped_pairs
    msg.latency, msg.latency_transport, msg.latency_sync = (
        sum(parts.values()),
        parts["transport"],
        parts["sync"],
    )
    msg.latency_encoding, msg.latency_model = parts["encoding"], parts["model"]
    msg.latency_publish = parts["publish"]
    return msg


def image_message(header, image: np.ndarray, encoding: str = "rgb8") -> Image:
    """sensor_msgs/Image of ``image`` (e.g. the debug view) with ``header``."""
    return fill_image_msg(Image(header=header), image, encoding)
