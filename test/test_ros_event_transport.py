"""aux_transport event_packet where event_camera_msgs is missing: the node falls back to events
(seatrack_ros/EventArray) with one warning, instead of refusing to start."""

from __future__ import annotations

import os
from dataclasses import dataclass

import rosutil
from seatrack_ros.ros import event_packet_msgs

DOMAIN = rosutil.domain_id(32)


@dataclass(frozen=True)
class Config:
    aux_transport: str


def test_fallback_only_when_event_camera_msgs_is_missing(monkeypatch):
    warnings = []
    if event_packet_msgs.event_packet_type() is not None:  # installed: nothing changes
        assert event_packet_msgs.with_available_event_transport(Config("event_packet"), warnings.append) == \
            Config("event_packet")
        assert warnings == []
    monkeypatch.setattr(event_packet_msgs, "event_packet_type", lambda: None)
    assert event_packet_msgs.with_available_event_transport(Config("event_packet"), warnings.append) == \
        Config("events")
    assert len(warnings) == 1 and "falling back to aux_transport events" in warnings[0]
    for other in ("events", "raw", "compressed"):  # nothing else is touched
        assert event_packet_msgs.with_available_event_transport(Config(other), warnings.append) == Config(other)
    assert len(warnings) == 1


def test_node_without_event_camera_msgs_takes_event_arrays(tmp_path, monkeypatch):
    # A package of that name that fails to import hides the installed one from the node's process.
    hidden = tmp_path / "hide" / "event_camera_msgs"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text('raise ImportError("event_camera_msgs hidden by the test")\n')
    # rosutil.Client sets this process's ROS variables; monkeypatch puts them back for later modules
    # (test_ros_launch_testing's launched node inherits them)
    for name in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_DEFAULT_PROFILES_FILE"):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hidden.parent), os.environ.get("PYTHONPATH", "")]))
    node = rosutil.NodeProcess(DOMAIN, {"rgb_topic": "/cam/rgb", "aux_topic": "/cam/aux", "reliable_qos": True,
                                        "stats_period": 0.0},
                               params_file=rosutil.ROOT / "config" / "rgbe.yaml")
    client = None
    try:
        node.wait_for_log(r"ready: modality=event rgb=/cam/rgb \(raw\) aux=/cam/aux \(events\)", timeout=180)
        assert node.log().count("falling back to aux_transport events") == 1
        from seatrack_ros.msg import EventArray

        client = rosutil.Client(DOMAIN, aux_type=EventArray)
        client.wait_for_subscribers()  # the node's aux subscription is an EventArray one
    finally:
        if client is not None:
            client.close()
        node.stop()
