"""event_camera_msgs/msg/EventPacket for the node, where that package is installed.

event_camera_msgs is what event-camera drivers (metavision_driver, libcaer_driver) publish, but it is
not part of every ROS 2 install (and not on PyPI). The event modality's default transport is
``event_packet``; where the package does not import, the node falls back to ``events`` (our
seatrack_ros/EventArray on the same topic) and says so once, instead of refusing to start.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional


def event_packet_type() -> Optional[type]:
    """The EventPacket message class, or None when event_camera_msgs is not importable."""
    try:
        from event_camera_msgs.msg import EventPacket
    except ImportError:
        return None
    return EventPacket


def with_available_event_transport(cfg, warn: Callable[[str], None]):
    """``cfg`` unchanged, or with aux_transport ``events`` (and one warning line) when it asks for
    ``event_packet`` and event_camera_msgs does not import."""
    if cfg.aux_transport != "event_packet" or event_packet_type() is not None:
        return cfg
    warn(
        "aux_transport event_packet needs the event_camera_msgs package, which is not installed: falling "
        "back to aux_transport events (seatrack_ros/EventArray on aux_topic). Install event_camera_msgs "
        "to take a driver's EventPacket topic directly."
    )
    return dataclasses.replace(cfg, aux_transport="events")
