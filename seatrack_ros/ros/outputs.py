"""The node's per-frame outputs: ``~/target``, ``~/detections``, ``~/target_point`` and ``~/debug_image``.

Made at configure; the worker (ros/worker.py) publishes one set per processed pair. The messages are
built by ROS-free helpers (ros/messages.py, ros/standard_outputs.py); this file decides which outputs
exist and when each is published.

A mixin of :class:`seatrack_ros.ros.node.SeaTrackNode` (uses ``config``, ``_sync``, ``_stop``,
``_latency``, ``_intrinsics``, ``problems``, ``test_weights``, ``model_name``).
"""

from __future__ import annotations

import time
import numpy as np

try:
    from rclpy.event_handler import PublisherEventCallbacks
except ImportError:  # Humble: the same class lives in rclpy.qos_event
    from rclpy.qos_event import PublisherEventCallbacks
from geometry_msgs.msg import PointStamped
from sensor_msgs.msg import Image

from seatrack_ros.errors import InputError
from seatrack_ros.modalities.depth_point import registered_target_point
from seatrack_ros.msg import Target
from seatrack_ros.ros import qos
from seatrack_ros.ros.messages import image_message, target_message
from seatrack_ros.ros.params import NodeConfig
from seatrack_ros.ros.standard_outputs import detection_array, point_stamped, vision_msgs_available
from seatrack_ros.streams.debug_view import draw_debug_view
from seatrack_ros.streams.image_conversions import decode_image
from seatrack_ros.streams.sync import MatchedPair


class TargetOutputs:
    """Publishers of the tracking result (see the module docstring)."""

    def _create_target_outputs(self, cfg: NodeConfig) -> None:
        """The publishers ``cfg`` asks for (``~/detections`` also needs vision_msgs), each kept in
        ``_configured`` as it is made, so _release destroys them also after a failure halfway."""
        made = self._configured
        pub_events = PublisherEventCallbacks(
            incompatible_qos=lambda info: self.get_logger().warning(qos.incompatible_subscriber_text(info))
        )
        self.target_pub = self.create_publisher(
            Target, "~/target", qos.TARGET_QOS, event_callbacks=pub_events
        )
        made.append(self.target_pub)
        self.debug_pub = self.create_publisher(
            Image, "~/debug_image", qos.DEBUG_IMAGE_QOS, event_callbacks=pub_events
        )
        made.append(self.debug_pub)
        self.detections_pub = None
        if cfg.publish_detections:
            if vision_msgs_available():
                from vision_msgs.msg import Detection2DArray

                self.detections_pub = self.create_publisher(Detection2DArray, "~/detections", qos.TARGET_QOS)
                made.append(self.detections_pub)
            else:
                self.get_logger().info("vision_msgs does not import: ~/detections is not published")
        self.point_pub = None
        if cfg.depth_camera_info_topic:
            self.point_pub = self.create_publisher(PointStamped, "~/target_point", qos.TARGET_QOS)
            made.append(self.point_pub)

    def _publish_outputs(self, pair: MatchedPair, rgb: np.ndarray, aux: np.ndarray, step,
                         parts: dict[str, float], t_model: float) -> None:
        """Publish the outputs of one processed pair; ``parts``: its latency seconds so far (the
        publish part, from ``t_model`` until the Target is built, is added here)."""
        point = self._target_point(pair, rgb.shape[:2], step)
        parts["publish"] = time.perf_counter() - t_model
        msg = target_message(
            pair.rgb.msg.header, step, self.test_weights, self._sync.stats().superseded, parts, self.model_name
        )
        msg.point_valid = point is not None
        if self._stop.is_set():  # deactivated or shutting down while the frame was in the model
            return
        self.target_pub.publish(msg)
        self._latency.add(parts)
        if self.detections_pub is not None:
            self.detections_pub.publish(self._detections(msg))
        if point is not None:
            self.point_pub.publish(point_stamped(msg.header, point))
        # drawing costs time on the worker: only while someone listens
        if self.get_parameter("publish_debug_image").value and self.debug_pub.get_subscription_count() > 0:
            view = draw_debug_view(rgb, aux, self.config.modality, msg)  # the box as published (float32)
            self.debug_pub.publish(image_message(msg.header, view))

    def _detections(self, msg: Target):
        """One detection while TRACKING; an empty array otherwise (nothing set yet, or the target lost)."""
        if msg.status != Target.STATUS_TRACKING:
            return detection_array(msg.header, None, 0.0, msg.track_id)
        return detection_array(msg.header, (msg.x, msg.y, msg.width, msg.height), msg.confidence, msg.track_id)

    def _target_point(self, pair: MatchedPair, rgb_hw: tuple[int, int], step):
        """The target's 3D point from the registered depth image (None: not asked for, no camera_info
        yet, not tracking, or no valid depth in the box's centre)."""
        if self.point_pub is None or self._intrinsics is None or int(step.status) != Target.STATUS_TRACKING:
            return None
        try:
            return registered_target_point(*decode_image(pair.aux.msg), rgb_hw, step.box, self._intrinsics)
        except InputError as exc:
            self.problems.report(exc.kind, f"no target point: {exc}")
            return None
