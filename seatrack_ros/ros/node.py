"""The seatrack_ros node: RGB + thermal / depth / event frames in, one tracked box per frame out.

A shell that wires ROS-free parts to topics, services and one worker thread: parameters
(`seatrack_ros.ros.params`), pairing and stream checks (`seatrack_ros.streams.sync`, `.monitor`),
decoding and aux preparation (`.image_conversions`, `.aux`, `.event_input`), the target's life
(`seatrack_ros.tracker.TrackingSession`) and the debug picture (`.debug_view`).

Threading: the executor thread only runs the callbacks, which stamp each message with its receive time
and hand it to the synchronizer. The worker takes the newest matched pair, decodes and encodes it,
steps the session and publishes, so inference (about 1.5 s on a CPU) never blocks the executor and
stale pairs are dropped instead of queued.

In: ``rgb_topic``, ``aux_topic``, ``~/init`` (and ``depth_camera_info_topic``); out: ``~/target``,
``~/debug_image``, ``~/stats``, ``~/detections``, ``~/target_point``, ``/diagnostics``; services
``~/set_init_box``, ``~/reset`` (``~/`` is the node's name, ``seatrack``). See docs/ros.md.

Lifecycle (a managed node): constructing it only declares the parameters and starts /diagnostics;
configure validates the parameters, loads the model and creates the outputs and services; activate
subscribes to the cameras and starts the worker; deactivate unsubscribes, stops the worker and drops
whatever pairs were waiting; cleanup releases the model; shutdown works from every state. With
``autostart`` (the default) `main` configures and activates at start.
"""

from __future__ import annotations

if __name__ == "__main__":  # python -m: a Ctrl-C while the imports below load exits 0 quietly
    from seatrack_ros.ros.stop_signals import exit_quietly_on_stop_signal

    exit_quietly_on_stop_signal()

import json
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import rclpy
from rclpy.exceptions import NameValidationException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.signals import SignalHandlerOptions

try:
    from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
except ImportError:  # Humble: the same classes live in rclpy.qos_event
    from rclpy.qos_event import PublisherEventCallbacks, SubscriptionEventCallbacks
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from seatrack_ros.errors import CheckpointError, ConfigError, InputError
from seatrack_ros.msg import EventArray, InitBox, Target
from seatrack_ros.ros import qos
from seatrack_ros.ros.event_packet_msgs import event_packet_type, with_available_event_transport
from seatrack_ros.modalities.depth_point import intrinsics_from_camera_info, registered_target_point
from seatrack_ros.ros.messages import image_message, target_message
from seatrack_ros.ros.params import (
    HELP,
    PARAMETERS,
    NodeConfig,
    check_command_line_types,
    declare_parameters,
    load_node_tracker,
    model_description,
    node_config,
    one_line,
    refuse_use_sim_time_change,
)
from seatrack_ros.ros.standard_outputs import (
    detection_array,
    diagnostic_array,
    point_stamped,
    vision_msgs_available,
)
from seatrack_ros.ros.stop_signals import StopRequested, StopSignals
from seatrack_ros.ros.typesupport_path import preload_typesupport
from seatrack_ros.srv import SetInitBox
from seatrack_ros.streams.aux import AuxPreparer
from seatrack_ros.streams.debug_view import draw_debug_view
from seatrack_ros.streams.event_input import RgbPacer, make_event_input
from seatrack_ros.streams.health import ERROR, OK, Counters, HealthMonitor, HealthReport
from seatrack_ros.streams.image_conversions import decode_image, to_rgb8
from seatrack_ros.streams.latency import LatencyLog, summary_line
from seatrack_ros.streams.monitor import StreamMonitor, streams_apart_text, time_jump_text
from seatrack_ros.streams.problems import ProblemCounter
from seatrack_ros.streams.stamps import checked_header_stamp_ns
from seatrack_ros.streams.sync import MatchedPair, StampSynchronizer

preload_typesupport()

__all__ = ["PARAMETERS", "ConfigError", "NodeConfig", "SeaTrackNode", "main"]


@dataclass
class Received:
    """A message as handed from a callback to the worker."""

    msg: Any
    stamp_ns: int
    received_ns: int  # ROS clock at callback entry
    previous_stamp_ns: int = 0  # RGB only: stamp of the RGB message received before this one


class SeaTrackNode(LifecycleNode):
    """ROS 2 lifecycle node around :class:`seatrack_ros.tracker.TrackingSession` (see the module docstring)."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("seatrack", **node_kwargs)
        try:
            check_command_line_types(sys.argv)
            declare_parameters(self)
        except BaseException:
            # A half-built node left to the garbage collector after rclpy shut down crashes the process
            # at exit (exit -11): destroy it now, then report.
            self.destroy_node()
            raise
        self.autostart = bool(self.get_parameter("autostart").value)
        self.add_on_set_parameters_callback(refuse_use_sim_time_change)
        log = self.get_logger()
        self.problems = ProblemCounter(log.warning)
        # init / reset requests and track starts: informational, logged once per kind and counted
        # (a lambda gives rclpy's logger a call site of its own: one call site keeps one severity)
        self.requests = ProblemCounter(lambda text: log.info(text))
        self.health = HealthMonitor()
        self.config: Optional[NodeConfig] = None
        self.session = None
        self._tracker = None
        self.test_weights = False
        self.model_name = ""  # the registry variant running (Target.model)
        self._internal_errors = 0
        self._configured: list[Any] = []  # publishers, subscriptions, services, timers of configure
        self._inputs: list[Any] = []  # subscriptions of activate
        self._worker: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._intrinsics = None
        self._sync: Optional[StampSynchronizer] = None
        self._events = None  # streams/event_input.py: EventArray or EventPacket windows, if any
        # /diagnostics runs in every state, so a lifecycle manager also sees why configure failed.
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(float(self.get_parameter("diagnostics_period").value), self._publish_diagnostics)

    # ------------------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except Exception as exc:  # a transition must answer, never raise (rclpy would hide the reason)
            text = start_error_text(exc)
            self.get_logger().error(text)
            self.health.set_model_error(text)
            self._release()
            return TransitionCallbackReturn.FAILURE
        self.health.set_model_error(None)
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._subscribe_inputs()
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="seatrack_worker", daemon=True)
        self._worker.start()
        cfg = self.config
        self.get_logger().info(
            f"ready: modality={cfg.modality} rgb={self.resolve_topic_name(cfg.rgb_topic)} "
            f"({cfg.rgb_transport}) aux={self.resolve_topic_name(cfg.aux_topic)} ({cfg.aux_transport}) "
            f"target={self.target_pub.topic_name}"
        )
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self.get_logger().info("inactive: not taking frames")
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.get_logger().info("cleaned up: model released")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._deactivate()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _configure(self) -> None:
        log = self.get_logger()
        cfg = with_available_event_transport(node_config(self), log.warning)  # self.config is set last: it marks the node as configured
        self._tracker, self.test_weights, self.model_name = load_node_tracker(cfg, log)
        from seatrack_ros.tracker import TrackingSession  # torch, once the parameters are known good

        self.session = TrackingSession(self._tracker)
        # Event windows are cut per RGB frame (streams/event_input.py): the RGB frame alone makes a pair.
        self._events = make_event_input(cfg.aux_transport, cfg.event_max_window_ns, self.problems.report)
        sync_type = StampSynchronizer if self._events is None else RgbPacer
        self._sync: StampSynchronizer = sync_type(cfg.sync_slop, cfg.sync_queue_size)
        self._monitor = StreamMonitor(cfg.sync_slop)
        self._prepare_aux = AuxPreparer(cfg.modality, cfg.homography, cfg.mono16_range, info=log.info)
        self._latency = LatencyLog()
        self._last_activity = (0, 0, 0)
        self._internal_errors = 0
        if cfg.init_box is not None:
            self.session.request_init(cfg.init_box, "init_box parameter")

        pub_events = PublisherEventCallbacks(
            incompatible_qos=lambda info: self.get_logger().warning(qos.incompatible_subscriber_text(info))
        )
        made = self._configured
        self.target_pub = self.create_publisher(
            Target, "~/target", qos.TARGET_QOS, event_callbacks=pub_events
        )
        self.debug_pub = self.create_publisher(
            Image, "~/debug_image", qos.DEBUG_IMAGE_QOS, event_callbacks=pub_events
        )
        self.stats_pub = self.create_publisher(String, "~/stats", 10)
        made += [self.target_pub, self.debug_pub, self.stats_pub]
        self.detections_pub = None
        if cfg.publish_detections:
            if vision_msgs_available():
                from vision_msgs.msg import Detection2DArray

                self.detections_pub = self.create_publisher(Detection2DArray, "~/detections", qos.TARGET_QOS)
                made.append(self.detections_pub)
            else:
                log.info("vision_msgs does not import: ~/detections is not published")
        self.point_pub = None
        if cfg.depth_camera_info_topic:
            self.point_pub = self.create_publisher(PointStamped, "~/target_point", qos.TARGET_QOS)
            made.append(self.point_pub)
        made.append(self.create_subscription(InitBox, "~/init", self._on_init_topic, 10))
        made.append(self.create_service(SetInitBox, "~/set_init_box", self._on_set_init_box))
        made.append(self.create_service(Trigger, "~/reset", self._on_reset))
        if cfg.stats_period > 0:
            made.append(self.create_timer(cfg.stats_period, self._log_summary))
        self.config = cfg

    def _deactivate(self) -> None:
        """Unsubscribe, stop the worker (after its frame in flight) and drop the waiting pairs."""
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs = []
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=60.0)
            if self._worker.is_alive():
                self.get_logger().error("the worker did not finish its frame within 60 s")
            self._worker = None
        if self._sync is not None:
            self._sync.reset()
        if self._events is not None:
            self._events.clear()
        self._intrinsics = None

    def _release(self) -> None:
        """Destroy what configure made and drop the model (and its GPU memory)."""
        destroy = {"Publisher": self.destroy_publisher, "Subscription": self.destroy_subscription,
                   "Service": self.destroy_service, "Timer": self.destroy_timer}
        for entity in self._configured:
            for kind, method in destroy.items():
                if kind in type(entity).__name__:
                    method(entity)
                    break
        self._configured = []
        on_cuda = self._tracker is not None and str(getattr(self._tracker, "device", "cpu")).startswith("cuda")
        self.session = self._tracker = None
        self.config = None
        if on_cuda:
            import gc

            import torch

            gc.collect()
            torch.cuda.empty_cache()

    def close(self) -> None:
        """Shut down from whatever state the node is in, then destroy it (before rclpy shuts down)."""
        try:
            if self._state_machine.current_state[1] in ("unconfigured", "inactive", "active"):
                self.trigger_shutdown()
        finally:
            self._deactivate()  # also when the transition could not run
            self._release()
            self.destroy_node()

    # ------------------------------------------------------------------------------ callbacks
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

    # ---------------------------------------------------------------------------- init / reset
    def _on_init_topic(self, msg: InitBox) -> None:
        box = (msg.x, msg.y, msg.width, msg.height)
        offer = self.session.offer_init(box, "init topic")
        if not offer.accepted:
            self.problems.report(
                "init_topic_rejected", f"init box on {self.resolve_topic_name('~/init')} {offer.message}"
            )
        else:
            checked = "" if offer.checked_against_frame else "; checked against the next frame"
            self.requests.report(
                "init_topic", f"init box {box} accepted (track id {offer.track_id}){checked}"
            )

    def _on_set_init_box(self, request, response):
        box = (request.x, request.y, request.width, request.height)
        offer = self.session.offer_init(box, "set_init_box service")
        response.success, response.track_id, response.message = offer.accepted, offer.track_id, offer.message
        if offer.accepted:
            self.requests.report("set_init_box", f"set_init_box {box} {response.message}")
        else:
            self.problems.report("set_init_box_rejected", f"set_init_box {box} {response.message}")
        return response

    def _on_reset(self, request, response):
        # The synchronizer is left alone: resetting it would drop the next parked pair and its
        # watermarks, letting output stamps go backwards. The session keeps the last track id.
        self.session.request_reset()
        response.success, response.message = True, "reset: waiting for a new init box"
        self.requests.report("reset", response.message)
        return response

    # ---------------------------------------------------------------------------------- worker
    def _work(self) -> None:
        while not self._stop.is_set():
            pair = self._sync.take(timeout=0.2)
            if pair is None:
                continue
            try:
                self._process(pair)
            except InputError as exc:
                self.problems.report(exc.kind, f"frame pair skipped: {exc}")
            except Exception as exc:  # keep the node alive; a bug is still reported loudly once per kind
                self._internal_errors += 1
                self.problems.report(
                    f"internal_{type(exc).__name__}", f"frame pair skipped after an unexpected error: {exc!r}"
                )

    def _aux_image(self, pair: MatchedPair, rgb_hw: tuple[int, int]) -> np.ndarray:
        if self._events is None:
            return self._prepare_aux(*decode_image(pair.aux.msg, self.config.max_image_pixels), rgb_hw)
        cfg = self.config
        window = self._events.window(pair.rgb.stamp_ns, pair.rgb.previous_stamp_ns, cfg.event_wait_timeout)
        # no packet decoded yet: an empty (white) frame at the RGB size
        return self._prepare_aux(window.events, None, rgb_hw, sensor_hw=window.sensor_hw or rgb_hw)

    def _process(self, pair: MatchedPair) -> None:
        t_taken = time.perf_counter()
        rgb_item: Received = pair.rgb
        transport = max(0.0, (rgb_item.received_ns - rgb_item.stamp_ns) / 1e9)
        sync_wait = max(0.0, (self.get_clock().now().nanoseconds - rgb_item.received_ns) / 1e9)
        rgb = to_rgb8(*decode_image(rgb_item.msg, self.config.max_image_pixels))
        aux = self._aux_image(pair, rgb.shape[:2])
        t_encoded = time.perf_counter()
        if self._events is not None:  # the wait for the event window is synchronisation, not encoding
            sync_wait += self._events.last_window.waited_s
            t_taken += self._events.last_window.waited_s
        step = self.session.step(rgb, aux, lost_threshold=self.get_parameter("lost_threshold").value)
        if step.init_error is not None:
            self.problems.report("init_rejected", str(step.init_error))
        if step.problem is not None:  # each resolution change is a change of state: logged each time
            # the string of tracker.session.RESOLUTION_CHANGE: importing it here would import torch
            changed = step.problem.kind == "resolution_change"
            self.problems.report(step.problem.kind, str(step.problem), every_time=changed)
        if step.initialized:
            self.requests.report(
                "track_started", f"tracking {step.box} as track {step.track_id} ({step.source})"
            )
        t_model = time.perf_counter()

        parts = dict(
            transport=transport, sync=sync_wait, encoding=t_encoded - t_taken, model=t_model - t_encoded
        )
        point = self._target_point(pair, rgb.shape[:2], step)
        parts["publish"] = time.perf_counter() - t_model
        msg = target_message(
            rgb_item.msg.header, step, self.test_weights, self._sync.stats().superseded, parts, self.model_name
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

    # ---------------------------------------------------------------------------------- stats
    def stats(self) -> dict[str, Any]:
        return {
            "processed": self._latency.processed,
            "status": int(self.session.status),
            "track_id": self.session.track_id,
            "test_weights": self.test_weights,
            "model": self.model_name,
            "last_init_error": self.session.last_init_error,
            "median_latency_ms": self._latency.medians_ms(),
            "sync": self._sync.stats().as_dict(),
            "problems": self.problems.totals(),
            "requests": self.requests.totals(),
            **({"events": self._events.counters()} if self._events is not None else {}),
        }

    def _log_summary(self) -> None:
        stats = self.stats()
        recent = self.problems.take_summary()
        self.stats_pub.publish(String(data=json.dumps(stats)))
        activity = (stats["processed"], stats["sync"]["rgb_received"], stats["sync"]["aux_received"])
        if activity != self._last_activity or recent:  # else nothing new to say
            self._last_activity = activity
            self.get_logger().info(summary_line(stats, recent))

    def health_report(self) -> HealthReport:
        """The /diagnostics report for the current lifecycle state."""
        state = self._state_machine.current_state[1]
        info = {"lifecycle state": state}
        if self.config is None:
            error = self.health.model_error
            if error:
                return HealthReport(ERROR, f"model failed: {error}", tuple(info.items()))
            return HealthReport(OK, f"{state}: not configured", tuple(info.items()))
        cfg, tracker = self.config, self._tracker
        info.update({
            "modality": cfg.modality,
            "model": model_description(self.model_name, cfg.checkpoint, self.test_weights),
            "device": str(tracker.device),
            "precision": tracker.precision,
        })
        sync = self._sync.stats()
        counters = Counters(
            processed=self._latency.processed,
            matched=sync.matched,
            received={"rgb": sync.rgb_received, "aux": sync.aux_received},
            dropped=sync.as_dict(),
            internal_errors=self._internal_errors,
        )
        report = self.health.report(time.monotonic(), counters, self._latency.samples(), info)
        if state != "active" and report.level != ERROR:
            return HealthReport(OK, f"{state}: not taking frames", report.values)
        return report

    def _publish_diagnostics(self) -> None:
        report = self.health_report()
        name = f"seatrack: {self.get_fully_qualified_name()}"
        stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(diagnostic_array(stamp, name, self.get_fully_qualified_name(), report))


def start_error_text(exc: Exception) -> str:
    """The one-line error for a node that cannot configure (what a user should fix)."""
    if isinstance(exc, (ConfigError, CheckpointError)):
        return f"cannot start: {exc}"
    if isinstance(exc, (rclpy.exceptions.ParameterException, rclpy.exceptions.InvalidParameterTypeException)):
        return f"cannot start, invalid parameter: {exc}"
    if isinstance(exc, NameValidationException):  # e.g. a bad remapping
        return f"cannot start, invalid name: {one_line(exc)}"
    return f"cannot start, unexpected error: {exc!r}"


def main(argv: Optional[list[str]] = None) -> int:
    """Run the node; ``argv`` defaults to ``sys.argv`` (accepts ``--ros-args ...``; ``--help`` prints help).

    Exit codes: 0 after SIGINT/SIGTERM (also during start-up), 2 when the node cannot start.
    As the process's entry point (``argv`` None) it leaves SIGINT/SIGTERM ignored for the interpreter's
    exit; called with ``argv`` it restores the caller's handlers.
    """
    args = sys.argv if argv is None else argv
    if any(arg in ("-h", "--help") for arg in args[1:2]):
        print(HELP)
        return 0
    signals = StopSignals().install()
    fail = rclpy.logging.get_logger("seatrack").error
    node = None
    try:
        try:
            # rclpy's own handlers would leave a second SIGINT to Python's KeyboardInterrupt.
            rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        except Exception as exc:  # rcl rejects malformed --ros-args (e.g. a remap rule) with a bare RCLError
            fail(f"cannot start, invalid command-line arguments: {one_line(exc)}")
            return 2
        try:
            node = SeaTrackNode()
        except (ConfigError, CheckpointError, rclpy.exceptions.ParameterException,
                rclpy.exceptions.InvalidParameterTypeException, NameValidationException) as exc:
            fail(start_error_text(exc))
            return 2
        if node.autostart:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                return 2  # on_configure logged why
            if node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                fail("cannot start: activation failed")
                return 2
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        signals.running()
        while not signals.requested.is_set():
            executor.spin_once(timeout_sec=0.1)  # returns to Python, so the signal flag is seen
    except (StopRequested, KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        signals.stopping()
        if node is not None:
            node.close()
        rclpy.try_shutdown()
        signals.stopping()
        if argv is not None:  # called in-process, not as the entry point that exits right after
            signals.restore()
    return 0


if __name__ == "__main__":
    sys.exit(main())
