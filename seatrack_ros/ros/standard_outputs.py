"""The standard ROS messages downstream stacks read, built from one tracking result:
vision_msgs/Detection2DArray (``~/detections``), geometry_msgs/PointStamped (``~/target_point``) and
diagnostic_msgs/DiagnosticArray (``/diagnostics``).

vision_msgs is not part of every ROS install (nor on PyPI): `vision_msgs_available` says whether it
imports, and the node then publishes detections or logs once that it does not.
"""

from __future__ import annotations

from typing import Optional

from seatrack_ros.streams.health import ERROR, OK, WARN, HealthReport
from seatrack_ros.modalities.depth_point import TargetPoint

# Detection2D's class_id for the tracked target (a single-target tracker has one class).
TARGET_CLASS_ID = "target"


def vision_msgs_available() -> bool:
    try:
        import vision_msgs.msg  # noqa: F401
    except ImportError:
        return False
    return True


def detection_array(header, box: Optional[tuple[float, float, float, float]], confidence: float,
                    track_id: int):
    """Detection2DArray with one detection: ``header`` (the RGB frame's), the box's centre and size in
    pixels, one hypothesis (class ``target``, score = confidence) and ``id`` = the track id; with
    ``box`` None, no detection (the array still carries the frame's header).

    box: (x, y, w, h), (x, y) the top-left corner. The centre is (x + w/2, y + h/2) in the same
    continuous pixel frame as the box.
    """
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    if box is None:
        empty = Detection2DArray()
        empty.header = header
        return empty
    x, y, w, h = (float(v) for v in box)
    detection = Detection2D()
    detection.header = header
    detection.bbox.center.position.x = x + w / 2.0
    detection.bbox.center.position.y = y + h / 2.0
    detection.bbox.center.theta = 0.0
    detection.bbox.size_x = w
    detection.bbox.size_y = h
    hypothesis = ObjectHypothesisWithPose()
    hypothesis.hypothesis.class_id = TARGET_CLASS_ID
    hypothesis.hypothesis.score = float(confidence)
    detection.results = [hypothesis]
    detection.id = str(int(track_id))
    out = Detection2DArray()
    out.header = header
    out.detections = [detection]
    return out


def point_stamped(header, point: TargetPoint):
    """PointStamped in the camera's optical frame (header.frame_id of the depth/RGB image), metres."""
    from geometry_msgs.msg import PointStamped

    msg = PointStamped()
    msg.header = header
    msg.point.x, msg.point.y, msg.point.z = float(point.x), float(point.y), float(point.z)
    return msg


_LEVEL_BYTES = {OK: b"\x00", WARN: b"\x01", ERROR: b"\x02"}


def diagnostic_array(stamp, name: str, hardware_id: str, report: HealthReport, extra: Optional[dict] = None):
    """DiagnosticArray with one status named ``name`` (e.g. "seatrack: /seatrack") from ``report``."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    status = DiagnosticStatus()
    status.level = _LEVEL_BYTES[report.level]
    status.name = name
    status.message = report.message
    status.hardware_id = hardware_id
    pairs = list(report.values) + [(str(k), str(v)) for k, v in (extra or {}).items()]
    status.values = [KeyValue(key=key, value=value) for key, value in pairs]
    out = DiagnosticArray()
    out.header.stamp = stamp
    out.status = [status]
    return out
