"""Detection2DArray, PointStamped and DiagnosticArray built from known results: exact field values."""

from __future__ import annotations

import pytest
from std_msgs.msg import Header

from seatrack_ros.streams.health import ERROR, OK, WARN, HealthReport
from seatrack_ros.modalities.depth_point import TargetPoint
from seatrack_ros.ros.standard_outputs import (
    diagnostic_array,
    detection_array,
    point_stamped,
    vision_msgs_available,
)


def header() -> Header:
    h = Header()
    h.stamp.sec, h.stamp.nanosec = 12, 345
    h.frame_id = "rgb_optical"
    return h


@pytest.mark.skipif(not vision_msgs_available(), reason="vision_msgs is not installed "
                    "(../shared/ros2-upstream/install.sh or a full ROS 2 install)")
def test_detection_array_fields():
    msg = detection_array(header(), (100.0, 50.0, 40.0, 20.0), 0.75, 7)
    assert msg.header.frame_id == "rgb_optical" and (msg.header.stamp.sec, msg.header.stamp.nanosec) == (12, 345)
    assert len(msg.detections) == 1
    det = msg.detections[0]
    assert det.header.frame_id == "rgb_optical"
    assert (det.bbox.center.position.x, det.bbox.center.position.y) == (120.0, 60.0)
    assert (det.bbox.size_x, det.bbox.size_y, det.bbox.center.theta) == (40.0, 20.0, 0.0)
    assert det.id == "7"
    assert len(det.results) == 1
    assert det.results[0].hypothesis.class_id == "target"
    assert det.results[0].hypothesis.score == 0.75


def test_point_stamped_fields():
    msg = point_stamped(header(), TargetPoint(x=0.36, y=-0.52, z=2.0, valid_pixels=100))
    assert msg.header.frame_id == "rgb_optical"
    assert (msg.point.x, msg.point.y, msg.point.z) == (0.36, -0.52, 2.0)


@pytest.mark.parametrize("level, byte", [(OK, b"\x00"), (WARN, b"\x01"), (ERROR, b"\x02")])
def test_diagnostic_array_levels_and_values(level, byte):
    from diagnostic_msgs.msg import DiagnosticStatus

    report = HealthReport(level, "why", (("device", "cpu"), ("rgb rate (Hz)", "30.00")))
    msg = diagnostic_array(header().stamp, "seatrack: /seatrack", "cpu", report, {"track id": 3})
    assert msg.header.stamp.sec == 12
    status = msg.status[0]
    assert status.level == byte
    assert byte == {OK: DiagnosticStatus.OK, WARN: DiagnosticStatus.WARN, ERROR: DiagnosticStatus.ERROR}[level]
    assert (status.name, status.message, status.hardware_id) == ("seatrack: /seatrack", "why", "cpu")
    assert [(kv.key, kv.value) for kv in status.values] == [
        ("device", "cpu"), ("rgb rate (Hz)", "30.00"), ("track id", "3")]
