"""The node's camera inputs: subscribing the RGB, aux and camera_info topics and handing each frame on.

The callbacks run on the executor thread, so they only stamp a message with its receive time, check
its stamp and give it to the synchronizer; everything slow happens on the worker (ros/worker.py).

A mixin of :class:`seatrack_ros.ros.node.SeaTrackNode`: it reads the state configure made
(``config``, ``_sync``, ``_monitor``, ``_events``, ``problems``, ``health``) and fills ``_inputs``
(the subscriptions deactivate destroys) and ``_intrinsics``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble: the same class lives in rclpy.qos_event
    from rclpy.qos_event import SubscriptionEventCallbacks
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from seatrack_ros.errors import InputError
from seatrack_ros.modalities.depth_point import intrinsics_from_camera_info
from seatrack_ros.msg import EventArray
from seatrack_ros.ros import qos
from seatrack_ros.ros.event_packet_msgs import event_packet_type
from seatrack_ros.streams.monitor import streams_apart_text, time_jump_text
from seatrack_ros.streams.stamps import checked_header_stamp_ns


@dataclass
class Received:
    """A message as handed from a callback to the worker."""

    msg: Any
    stamp_ns: int
    received_ns: int  # ROS clock at callback entry
    previous_stamp_ns: int = 0  # RGB only: stamp of the RGB message received before this one


class CameraInputs:
    """Subscriptions and callbacks of the camera streams (see the module docstring)."""

    def _subscribe_inputs(self) -> None:
        cfg = self.config
        rgb_type = CompressedImage if cfg.rgb_transport == "compressed" else Image
        aux_type = {"raw": Image, "compressed": CompressedImage, "events": EventArray}.get(cfg.aux_transport)
        aux_type = aux_type or event_packet_type()  # event_packet (imports: with_available_event_transport)
        for topic, msg_type, callback in (
            (cfg.rgb_topic, rgb_type, self._on_rgb),
            (cfg.aux_topic, aux_type, self._on_aux if self._events is None else self._on_events),
        ):
            events = SubscriptionEventCallbacks(
                incompatible_qos=lambda info, topic=topic: self.get_logger().warning(
                    qos.incompatible_publisher_text(self.resolve_topic_name(topic), info, cfg.reliable_qos)
                )
            )
            self._inputs.append(self.create_subscription(
                msg_type, topic, callback, qos.input_qos(cfg.reliable_qos), event_callbacks=events
            ))
        if cfg.depth_camera_info_topic:
            self._inputs.append(self.create_subscription(
                CameraInfo, cfg.depth_camera_info_topic, self._on_camera_info, qos.input_qos(cfg.reliable_qos)
            ))

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._intrinsics = intrinsics_from_camera_info(msg.k, msg.width, msg.height)
        except InputError as exc:
            self._intrinsics = None
            self.problems.report(exc.kind, f"{exc}; no ~/target_point until a valid one arrives")

    def _stamp_of(self, msg: Any, stream: str) -> int:
        try:
            stamp_ns = checked_header_stamp_ns(msg, stream)
        except InputError as exc:
            self.problems.report(exc.kind, str(exc))
            return 0
        if stamp_ns <= 0:
            self.problems.report(
                f"{stream}_no_stamp",
                f"{stream} message without header.stamp dropped (it cannot be synchronised)",
            )
        return stamp_ns

    def _check_time_jump(self, stream: str, stamp_ns: int) -> None:
        """Reset the synchroniser when a stamp lies far behind the newest one seen on its stream."""
        back_ns = self._monitor.time_jump(stream, stamp_ns)
        if back_ns:
            self.problems.report("time_jump", time_jump_text(stream, back_ns))
            self._sync.reset()
            if self._events is not None:
                self._events.clear()

    def _note_match(self, stream: str, matched: bool) -> None:
        """Report streams whose stamps keep differing by more than sync_slop (clocks not synchronised)."""
        offset_ns = self._monitor.note_match(stream, matched)
        if offset_ns is not None:
            self.problems.report("streams_apart", streams_apart_text(offset_ns, self.config.sync_slop))

    def _on_rgb(self, msg) -> None:
        received_ns = self.get_clock().now().nanoseconds
        self.health.note_message("rgb", time.monotonic())
        stamp_ns = self._stamp_of(msg, "rgb")
        if stamp_ns <= 0:
            return
        self._check_time_jump("rgb", stamp_ns)
        previous = self._monitor.previous_rgb(stamp_ns)
        self._note_match("rgb", self._sync.add_rgb(stamp_ns, Received(msg, stamp_ns, received_ns, previous)))

    def _on_aux(self, msg) -> None:
        received_ns = self.get_clock().now().nanoseconds
        self.health.note_message("aux", time.monotonic())
        stamp_ns = self._stamp_of(msg, "aux")
        if stamp_ns > 0:
            self._check_time_jump("aux", stamp_ns)
            self._note_match("aux", self._sync.add_aux(stamp_ns, Received(msg, stamp_ns, received_ns)))

    def _on_events(self, msg) -> None:
        """EventArray or EventPacket: decoded and stored for the worker's windows (streams/event_input.py)."""
        received_ns = self.get_clock().now().nanoseconds
        self.health.note_message("aux", time.monotonic())
        try:
            stamp_ns = self._events.packet_stamp(msg)
            self._check_time_jump("aux", stamp_ns)
            self._events.add(msg)
        except InputError as exc:
            self.problems.report(exc.kind, str(exc))
            return
        # Only counted: the worker waits (bounded) for the RGB frame's window in the buffer.
        self._note_match("aux", self._sync.add_aux(stamp_ns, Received(None, stamp_ns, received_ns)))
