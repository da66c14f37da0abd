"""The seatrack_ros node: RGB + thermal / depth / event frames in, one tracked box per frame out.

Threading: the executor thread only runs the subscription callbacks, which stamp each message with its
receive time and hand it to a :class:`~seatrack_ros.ros.sync.StampSynchronizer` (or, for raw events,
to an :class:`~seatrack_ros.modalities.EventWindowBuffer`). One worker thread takes the newest matched
pair, converts and encodes it, runs the tracker and publishes. Inference (about 1.5 s on a CPU) thus
never blocks the executor, and when the cameras are faster than the tracker the synchronizer drops
stale pairs instead of queueing them.

Topics (relative names resolve in the node's namespace; ``~/`` is the node's own, so the defaults give
``/seatrack/target`` etc. for the node name ``seatrack``):

- in: ``rgb_topic`` (sensor_msgs/Image or CompressedImage), ``aux_topic`` (Image, CompressedImage or
  seatrack_ros/EventArray), ``~/init`` (seatrack_ros/InitBox)
- out: ``~/target`` (seatrack_ros/Target), ``~/debug_image`` (sensor_msgs/Image rgb8),
  ``~/stats`` (std_msgs/String, JSON counters)
- services: ``~/set_init_box`` (seatrack_ros/SetInitBox), ``~/reset`` (std_srvs/Trigger)
"""

from __future__ import annotations

import collections
import json
import math
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

import cv2
import numpy as np

import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import NameValidationException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.validate_topic_name import validate_topic_name
from rclpy.qos import (
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_policy_name_from_kind,
    qos_profile_sensor_data,
)
try:
    from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
except ImportError:  # Humble: the same classes live in rclpy.qos_event
    from rclpy.qos_event import PublisherEventCallbacks, SubscriptionEventCallbacks
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from seatrack_ros.errors import CheckpointError, InputError
from seatrack_ros.modalities import EventWindowBuffer, count_out_of_range, encode_aux
from seatrack_ros.msg import EventArray, InitBox, Target
from seatrack_ros.ros.image_conversions import compressed_to_array, fill_image_msg, image_to_array, to_rgb8
from seatrack_ros.ros.problems import ProblemCounter
from seatrack_ros.ros.sync import MatchedPair, StampSynchronizer
from seatrack_ros.ros.typesupport_path import preload_typesupport
from seatrack_ros.srv import SetInitBox

preload_typesupport()

MODALITIES = ("thermal", "depth", "event")
TRANSPORTS = {"thermal": ("raw", "compressed"), "depth": ("raw", "compressed"),
              "event": ("events", "raw", "compressed")}
DEVICES = ("auto", "cuda", "cpu")
# A stamp this far behind the previous stamp of the same stream means the clock jumped (a looping
# bag, a restarted simulation): the synchronizer's watermarks are reset instead of rejecting every
# later message. Per stream, so that two cameras whose clocks differ by a constant do not trigger it.
TIME_JUMP_NS = 1_000_000_000
# Messages per stream since the last match after which stamps that stay further apart than
# sync_slop are reported (unsynchronised camera clocks), as a diagnostic only.
APART_STREAK = 5


class ConfigError(ValueError):
    """A parameter value the node cannot start with."""


@dataclass
class Received:
    """A message as handed from a callback to the worker."""

    msg: Any
    stamp_ns: int
    received_ns: int  # ROS clock at callback entry
    previous_stamp_ns: int = 0  # RGB only: stamp of the RGB message received before this one


@dataclass
class Timing:
    """Seconds spent per stage for one published target."""

    transport: float
    sync: float
    encoding: float
    model: float
    publish: float
    total: float


def _describe(description: str, *, read_only: bool = True, float_range=None, int_range=None,
              dynamic_typing: bool = False, constraints: str = "") -> ParameterDescriptor:
    descriptor = ParameterDescriptor(description=description, read_only=read_only,
                                     additional_constraints=constraints, dynamic_typing=dynamic_typing)
    if float_range is not None:
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(float_range[0]), to_value=float(float_range[1]), step=0.0)]
    if int_range is not None:
        descriptor.integer_range = [IntegerRange(
            from_value=int(int_range[0]), to_value=int(int_range[1]), step=1)]
    return descriptor


# name -> (default, descriptor). A default of None declares a parameter that may stay unset.
PARAMETERS: dict[str, tuple[Any, ParameterDescriptor]] = {
    "modality": ("thermal", _describe(
        "Auxiliary sensor: thermal, depth or event.", constraints="one of: thermal, depth, event")),
    "rgb_topic": ("rgb/image_raw", _describe("RGB image topic (remappable).")),
    "aux_topic": ("aux/image_raw", _describe("Auxiliary topic: thermal/depth image, event image or "
                                             "seatrack_ros/EventArray (remappable).")),
    "rgb_transport": ("raw", _describe(
        "raw: sensor_msgs/Image; compressed: sensor_msgs/CompressedImage.",
        constraints="one of: raw, compressed")),
    "aux_transport": ("raw", _describe(
        "raw: sensor_msgs/Image; compressed: sensor_msgs/CompressedImage; events: "
        "seatrack_ros/EventArray rendered per RGB frame (event modality only).",
        constraints="one of: raw, compressed, events")),
    "sync_slop": (0.025, _describe(
        "Largest |RGB stamp - aux stamp| in seconds for two frames to be paired.",
        float_range=(0.0005, 1.0))),
    "sync_queue_size": (10, _describe("Unmatched messages kept per stream while waiting for a partner.",
                                      int_range=(1, 100))),
    "reliable_qos": (False, _describe(
        "Subscribe with RELIABLE QoS; default false = sensor-data QoS (best effort, keep last 5).")),
    "checkpoint": ("", _describe(
        "Path to the SEATrack checkpoint (.pth/.pth.tar). Empty: deterministic test weights whose "
        "boxes mean nothing (for tests and demos).")),
    "lora_merged": (True, _describe(
        "True if the checkpoint's qkv weights already include the LoRA update (released RGB-T and "
        "RGB-D), false if they are base weights (released RGB-E).")),
    "device": ("auto", _describe("Inference device: auto (cuda if available), cuda or cpu.",
                                 constraints="one of: auto, cuda, cpu")),
    "half": (True, _describe("Run the model in float16 on CUDA (ignored on CPU).")),
    "cuda_graphs": (True, _describe(
        "Capture the tracker's per-frame stages as CUDA graphs on the first frame and replay them "
        "(lower latency; falls back to eager with a warning if capture fails; ignored on CPU).")),
    "compile_network": (False, _describe(
        "Compile the network with torch.compile for its fixed shapes when the first target is set "
        "(fewer GPU kernels per frame; that first initialisation takes tens of seconds; falls back to "
        "the plain network with a warning if compiling fails; ignored on CPU).")),
    "lost_threshold": (0.25, _describe(
        "Confidence under which the status is LOST (the tracker keeps following its last estimate).",
        read_only=False, float_range=(0.0, 1.0))),
    "init_box": (None, _describe(
        "Optional [x, y, width, height] in RGB pixels: start tracking it on the first frame.",
        dynamic_typing=True, constraints="4 numbers, width and height > 0")),
    "aux_to_rgb_homography": (None, _describe(
        "Optional row-major 3x3 homography mapping aux pixel coordinates to RGB pixel coordinates "
        "(for cameras that are not pixel-aligned). Unset: the aux image is resized to the RGB size.",
        dynamic_typing=True, constraints="9 numbers, invertible")),
    "mono16_range": (None, _describe(
        "Optional [low, high] raw counts mapped to 0..255 for mono16 thermal images; unset: per-frame "
        "min-max.", dynamic_typing=True, constraints="2 numbers, low < high")),
    "event_max_window": (0.1, _describe(
        "Longest event window in seconds rendered for one RGB frame (also the first frame's window).",
        float_range=(0.001, 2.0))),
    "publish_debug_image": (True, _describe(
        "Publish ~/debug_image (RGB and encoded aux side by side, box, score, status) when someone "
        "subscribes.", read_only=False)),
    "stats_period": (5.0, _describe("Seconds between summary log lines and ~/stats messages; 0 = off.",
                                    float_range=(0.0, 3600.0))),
}


def _number_list(value: Any, name: str, length: int) -> Optional[list[float]]:
    """A list-valued parameter as ``length`` finite floats; None when unset or empty.

    Raises ConfigError for a scalar, a string, a bool list or a list of the wrong length.
    """
    if value is None:
        return None
    # Declared with dynamic typing, so rclpy accepts any type: a scalar (init_box:=5), a bool, a
    # string or a bool array must be refused here rather than crash float().
    if not isinstance(value, (list, tuple, np.ndarray)) or isinstance(value, (str, bytes)):
        raise ConfigError(f"parameter {name} needs a list of {length} numbers, got {value!r}")
    values = list(value)
    if any(isinstance(v, (bool, np.bool_)) for v in values):
        raise ConfigError(f"parameter {name} must be numbers, got {values}")
    if len(values) == 0:
        return None
    if len(values) != length:
        raise ConfigError(f"parameter {name} needs {length} numbers, got {len(values)}: {values}")
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ConfigError(f"parameter {name} must be numbers, got {values}") from None
    if not all(math.isfinite(v) for v in out):
        raise ConfigError(f"parameter {name} has a non-finite value: {out}")
    return out


def _one_line(exc: Exception) -> str:
    """rclpy's name errors span several lines (a caret diagram) and rcl's end with a source location."""
    lines = [line.strip() for line in str(exc).splitlines()]
    text = " ".join(line for line in lines if line and set(line) != {"^"})
    return text.split(", at /")[0]


def select_device(requested: str):
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device:=cuda but no CUDA device is available (use auto or cpu)")
    return torch.device(requested)


def load_tracker(checkpoint: str, lora_merged: bool, device, half: bool = False, cuda_graphs: bool = False,
                 compile_network: bool = False):
    """Build the model and wrap it in a SEATracker. Returns (tracker, uses_test_weights).

    Raises ConfigError for a missing file and CheckpointError for an unreadable or mismatched one.
    """
    from seatrack_ros.model import build_seatrack, load_checkpoint, make_test_state_dict
    from seatrack_ros.tracker import SEATracker

    model = build_seatrack()
    if checkpoint:
        if not os.path.isfile(checkpoint):
            raise ConfigError(f"checkpoint file not found: {checkpoint!r}")
        load_checkpoint(model, checkpoint, lora_merged=lora_merged)
        test_weights = False
    else:
        load_checkpoint(model, make_test_state_dict(model), lora_merged=False)
        test_weights = True
    # float16 and CUDA graphs exist on the tracker's CUDA pipeline only; on the CPU it runs float32 eager.
    on_cuda = device.type == "cuda"
    tracker = SEATracker(model, device=device, half=bool(half and on_cuda),
                         cuda_graphs=bool(cuda_graphs and on_cuda),
                         compile_network=bool(compile_network and on_cuda))
    return tracker, test_weights


class SeaTrackNode(Node):
    """ROS 2 node around :class:`seatrack_ros.tracker.SEATracker` (see the module docstring)."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("seatrack", **node_kwargs)
        log = self.get_logger()
        for name, (default, descriptor) in PARAMETERS.items():
            if default is None:
                self.declare_parameter(name, None, descriptor)
            else:
                self.declare_parameter(name, default, descriptor)
        self._read_config()
        self.problems = ProblemCounter(log.warning)

        # torch is imported only now (select_device, load_tracker), so a bad parameter fails fast.
        self._device = select_device(self._device_name)
        self._use_half = bool(self._half and self._device.type == "cuda")
        started = time.perf_counter()
        self._tracker, self.test_weights = load_tracker(self._checkpoint, self._lora_merged, self._device,
                                                        self._use_half, self._cuda_graphs,
                                                        self._compile_network)
        if self.test_weights:
            log.warning("No checkpoint given: running DETERMINISTIC TEST WEIGHTS. The boxes mean nothing; "
                        "every Target is marked test_weights=true. Set the 'checkpoint' parameter for "
                        "real tracking.")
        log.info(f"model loaded in {time.perf_counter() - started:.1f} s on {self._device}"
                 f"{' float16' if getattr(self._tracker, 'half', False) else ''}"
                 f"{' with CUDA graphs' if getattr(self._tracker, 'cuda_graphs', False) else ''}"
                 f"{'' if self.test_weights else f' from {self._checkpoint}'}")

        self._sync: StampSynchronizer[Received, Received] = StampSynchronizer(
            self._sync_slop, self._sync_queue_size)
        self._events = EventWindowBuffer(max_age_ns=int(2e9)) if self._aux_transport == "events" else None
        self._event_sensor_hw: Optional[tuple[int, int]] = None
        self._lock = threading.Lock()
        self._last_rgb_stamp_ns = 0
        # per stream ("rgb", "aux"): newest stamp seen (time-jump check) and messages since the
        # last matched pair (diagnostic for clocks that differ by more than sync_slop)
        self._newest_stamp_ns = {"rgb": 0, "aux": 0}
        self._unmatched_streak = {"rgb": 0, "aux": 0}
        self._last_init_error = ""
        self._last_rgb_hw: Optional[tuple[int, int]] = None
        self._pending_init: Optional[tuple[tuple[float, float, float, float], int, str]] = None
        self._reset_requested = False
        self._next_track_id = 1
        self._track_id = 0
        self._status = Target.STATUS_WAITING_FOR_INIT
        self._last_box = (0.0, 0.0, 0.0, 0.0)
        self._processed = 0
        self._resize_logged = False
        self._last_activity = (0, 0, 0)
        self._timings: collections.deque[Timing] = collections.deque(maxlen=200)
        if self._init_box is not None:
            self._queue_init(tuple(self._init_box), "init_box parameter")

        self._subscribe_inputs()
        # Outputs are RELIABLE: a reliable publisher serves best-effort and reliable subscribers.
        pub_events = PublisherEventCallbacks(incompatible_qos=self._on_incompatible_publisher_qos)
        self.target_pub = self.create_publisher(Target, "~/target", 10, event_callbacks=pub_events)
        self.debug_pub = self.create_publisher(
            Image, "~/debug_image", QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE),
            event_callbacks=pub_events)
        self.stats_pub = self.create_publisher(String, "~/stats", 10)
        self.create_subscription(InitBox, "~/init", self._on_init_topic, 10)
        self.create_service(SetInitBox, "~/set_init_box", self._on_set_init_box)
        self.create_service(Trigger, "~/reset", self._on_reset)
        if self._stats_period > 0:
            self.create_timer(self._stats_period, self._log_summary)

        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="seatrack_worker", daemon=True)
        self._worker.start()
        log.info(f"ready: modality={self._modality} rgb={self._resolve(self._rgb_topic)} "
                 f"({self._rgb_transport}) aux={self._resolve(self._aux_topic)} ({self._aux_transport}) "
                 f"target={self.target_pub.topic_name}")

    # ----------------------------------------------------------------------------------- config
    def _read_config(self) -> None:
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        if p["modality"] not in MODALITIES:
            raise ConfigError(f"parameter modality must be one of {MODALITIES}, got {p['modality']!r}")
        if p["rgb_transport"] not in ("raw", "compressed"):
            raise ConfigError(f"parameter rgb_transport must be raw or compressed, got {p['rgb_transport']!r}")
        allowed = TRANSPORTS[p["modality"]]
        if p["aux_transport"] not in allowed:
            raise ConfigError(f"parameter aux_transport for modality {p['modality']} must be one of "
                              f"{allowed}, got {p['aux_transport']!r}")
        if p["device"] not in DEVICES:
            raise ConfigError(f"parameter device must be one of {DEVICES}, got {p['device']!r}")
        for name in ("rgb_topic", "aux_topic"):
            if not p[name]:
                raise ConfigError(f"parameter {name} must not be empty")
            # Checked now, before the model loads, instead of failing in create_subscription later.
            # validate_topic_name raises NameValidationException; resolve_topic_name (repeated '/',
            # unknown substitutions) raises rclpy's RCLError, a RuntimeError.
            try:
                validate_topic_name(p[name])
                self.resolve_topic_name(p[name])
            except (NameValidationException, RuntimeError) as exc:
                raise ConfigError(f"parameter {name} {p[name]!r} is not a valid topic name: "
                                  f"{_one_line(exc)}") from None
        init_box = _number_list(p["init_box"], "init_box", 4)
        if init_box is not None and (init_box[2] <= 0 or init_box[3] <= 0):
            raise ConfigError(f"parameter init_box needs width and height > 0, got {init_box}")
        homography = _number_list(p["aux_to_rgb_homography"], "aux_to_rgb_homography", 9)
        if homography is not None:
            matrix = np.array(homography, dtype=np.float64).reshape(3, 3)
            if abs(np.linalg.det(matrix)) < 1e-12:
                raise ConfigError(f"parameter aux_to_rgb_homography is singular: {homography}")
            homography = matrix
        mono16_range = _number_list(p["mono16_range"], "mono16_range", 2)
        if mono16_range is not None and not mono16_range[0] < mono16_range[1]:
            raise ConfigError(f"parameter mono16_range needs low < high, got {mono16_range}")

        self._modality = p["modality"]
        self._rgb_topic, self._aux_topic = p["rgb_topic"], p["aux_topic"]
        self._rgb_transport, self._aux_transport = p["rgb_transport"], p["aux_transport"]
        self._sync_slop, self._sync_queue_size = float(p["sync_slop"]), int(p["sync_queue_size"])
        self._reliable = bool(p["reliable_qos"])
        self._checkpoint, self._lora_merged = p["checkpoint"], bool(p["lora_merged"])
        self._device_name, self._half = p["device"], bool(p["half"])
        self._cuda_graphs = bool(p["cuda_graphs"])
        self._compile_network = bool(p["compile_network"])
        self._init_box = init_box
        self._homography = homography
        self._mono16_range = tuple(mono16_range) if mono16_range is not None else None
        self._event_max_window_ns = int(float(p["event_max_window"]) * 1e9)
        self._stats_period = float(p["stats_period"])

    def _resolve(self, topic: str) -> str:
        return self.resolve_topic_name(topic)

    # ------------------------------------------------------------------------------ callbacks
    def _subscribe_inputs(self) -> None:
        if self._reliable:
            qos = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
        else:
            qos = qos_profile_sensor_data
        rgb_type = CompressedImage if self._rgb_transport == "compressed" else Image
        aux_type = {"raw": Image, "compressed": CompressedImage, "events": EventArray}[self._aux_transport]
        self.rgb_sub = self.create_subscription(
            rgb_type, self._rgb_topic, self._on_rgb, qos,
            event_callbacks=SubscriptionEventCallbacks(
                incompatible_qos=lambda info: self._on_incompatible_subscription_qos(self._rgb_topic, info)))
        aux_callback = self._on_events if aux_type is EventArray else self._on_aux
        self.aux_sub = self.create_subscription(
            aux_type, self._aux_topic, aux_callback, qos,
            event_callbacks=SubscriptionEventCallbacks(
                incompatible_qos=lambda info: self._on_incompatible_subscription_qos(self._aux_topic, info)))

    def _on_incompatible_subscription_qos(self, topic: str, info) -> None:
        policy = qos_policy_name_from_kind(info.last_policy_kind)
        offered = "RELIABLE" if self._reliable else "BEST_EFFORT"
        self.get_logger().warning(
            f"{self._resolve(topic)}: a publisher's QoS is incompatible with this subscription "
            f"(policy {policy}, {info.total_count} time(s)); its messages will not arrive. This node "
            f"subscribes {offered} (parameter reliable_qos); publish RELIABLE or set reliable_qos:=false.")

    def _on_incompatible_publisher_qos(self, info) -> None:
        policy = qos_policy_name_from_kind(info.last_policy_kind)
        self.get_logger().warning(
            f"a subscriber requests QoS this node's outputs do not offer (policy {policy}); it will "
            f"receive nothing. Outputs are RELIABLE, VOLATILE.")

    def _stamp_of(self, msg: Any, stream: str) -> int:
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        if stamp_ns <= 0:
            self.problems.report(f"{stream}_no_stamp",
                                 f"{stream} message without header.stamp dropped (it cannot be synchronised)")
        return stamp_ns

    def _check_time_jump(self, stream: str, stamp_ns: int) -> None:
        """Reset the synchroniser when a stamp lies far behind the newest one seen on its stream."""
        other = "aux" if stream == "rgb" else "rgb"
        with self._lock:
            newest = self._newest_stamp_ns[stream]
            jumped = newest and stamp_ns < newest - TIME_JUMP_NS
            if jumped:
                # The other stream's next stamp will jump as well; not comparing it with its old
                # newest stamp keeps that from resetting the synchroniser a second time.
                self._newest_stamp_ns = {stream: stamp_ns, other: 0}
                self._unmatched_streak = {"rgb": 0, "aux": 0}
                self._last_rgb_stamp_ns = 0
            else:
                self._newest_stamp_ns[stream] = max(stamp_ns, newest)
        if jumped:
            self.problems.report("time_jump", f"{stream} stamps jumped back by {(newest - stamp_ns) / 1e9:.1f} s "
                                 "(looping bag or restarted clock?); synchroniser reset")
            self._sync.reset()
            if self._events is not None:
                self._events.clear()

    def _note_match(self, stream: str, matched: bool) -> None:
        """Report streams whose stamps keep differing by more than sync_slop (clocks not synchronised)."""
        with self._lock:
            if matched:
                self._unmatched_streak = {"rgb": 0, "aux": 0}
                return
            self._unmatched_streak[stream] += 1
            streak = min(self._unmatched_streak.values())
            offset_ns = self._newest_stamp_ns["rgb"] - self._newest_stamp_ns["aux"]
            apart = (streak >= APART_STREAK and min(self._newest_stamp_ns.values()) > 0
                     and abs(offset_ns) > self._sync_slop * 1e9)
            if apart:
                self._unmatched_streak = {"rgb": 0, "aux": 0}  # count each streak once
        if apart:
            self.problems.report(
                "streams_apart", f"RGB and aux stamps differ by {offset_ns / 1e9:+.3f} s (RGB - aux) and "
                f"nothing matched for {APART_STREAK}+ messages per stream; are the cameras' clocks "
                f"synchronised? (sync_slop {self._sync_slop} s)")

    def _on_rgb(self, msg) -> None:
        received_ns = self.get_clock().now().nanoseconds
        stamp_ns = self._stamp_of(msg, "rgb")
        if stamp_ns <= 0:
            return
        self._check_time_jump("rgb", stamp_ns)
        with self._lock:
            previous = self._last_rgb_stamp_ns
            self._last_rgb_stamp_ns = max(stamp_ns, previous)
        self._note_match("rgb", self._sync.add_rgb(stamp_ns, Received(msg, stamp_ns, received_ns, previous)))

    def _on_aux(self, msg) -> None:
        received_ns = self.get_clock().now().nanoseconds
        stamp_ns = self._stamp_of(msg, "aux")
        if stamp_ns > 0:
            self._check_time_jump("aux", stamp_ns)
            self._note_match("aux", self._sync.add_aux(stamp_ns, Received(msg, stamp_ns, received_ns)))

    def _on_events(self, msg: EventArray) -> None:
        received_ns = self.get_clock().now().nanoseconds
        x = np.frombuffer(msg.x, dtype=np.uint16) if len(msg.x) else np.zeros(0, np.uint16)
        y = np.frombuffer(msg.y, dtype=np.uint16) if len(msg.y) else np.zeros(0, np.uint16)
        t = np.frombuffer(msg.t_ns, dtype=np.int64) if len(msg.t_ns) else np.zeros(0, np.int64)
        p = np.frombuffer(msg.polarity, dtype=np.uint8) if len(msg.polarity) else np.zeros(0, np.uint8)
        if msg.height == 0 or msg.width == 0:
            self.problems.report("event_size", "EventArray with height or width 0 dropped")
            return
        if not (len(x) == len(y) == len(t) == len(p)):
            self.problems.report("event_input", f"EventArray with arrays of different lengths "
                                 f"(x {len(x)}, y {len(y)}, t_ns {len(t)}, polarity {len(p)}) dropped")
            return
        if len(p) and int(p.max()) > 1:
            self.problems.report("event_polarity", "EventArray polarity values other than 0/1 dropped")
            return
        stamp_ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        if stamp_ns <= 0:
            if len(t) == 0:
                self.problems.report("aux_no_stamp", "EventArray without header.stamp or events dropped")
                return
            stamp_ns = int(t.max())
        self._check_time_jump("aux", stamp_ns)
        try:
            self._events.add(x, y, t, p)
        except InputError as exc:
            self.problems.report(exc.kind, f"EventArray dropped: {exc}")
            return
        self._event_sensor_hw = (int(msg.height), int(msg.width))
        # The packet stands for "events up to stamp_ns have arrived"; the worker renders the
        # RGB frame's interval from the buffer.
        self._note_match("aux", self._sync.add_aux(stamp_ns, Received(None, stamp_ns, received_ns)))

    # ---------------------------------------------------------------------------- init / reset
    def _queue_init(self, box, source: str) -> int:
        with self._lock:
            track_id = self._next_track_id
            self._next_track_id += 1
            self._pending_init = (tuple(float(v) for v in box), track_id, source)
        return track_id

    def _validate_box(self, box) -> tuple[tuple[float, float, float, float], bool]:
        """check_box against the latest RGB size. Returns (box, checked_against_a_frame): before the
        first frame only the box itself is checked (finite, width/height > 0); the worker checks it
        against the frame it initialises on."""
        from seatrack_ros.tracker import check_box

        with self._lock:
            hw = self._last_rgb_hw
        return check_box(box, hw if hw is not None else (1 << 30, 1 << 30)), hw is not None

    def _on_init_topic(self, msg: InitBox) -> None:
        box = (msg.x, msg.y, msg.width, msg.height)
        try:
            box, against_frame = self._validate_box(box)
        except InputError as exc:
            self.get_logger().warning(f"init box on {self.resolve_topic_name('~/init')} rejected: {exc}")
            return
        track_id = self._queue_init(box, "init topic")
        checked = "" if against_frame else "; checked against the next frame"
        self.get_logger().info(f"init box {box} accepted (track id {track_id}){checked}")

    def _on_set_init_box(self, request, response):
        box = (request.x, request.y, request.width, request.height)
        try:
            box, against_frame = self._validate_box(box)
        except InputError as exc:
            response.success = False
            response.message = f"rejected: {exc}"
            response.track_id = 0
            self.get_logger().warning(f"set_init_box {box} {response.message}")
            return response
        response.track_id = self._queue_init(box, "set_init_box service")
        response.success = True
        if against_frame:
            response.message = f"accepted; tracking starts on the next frame with track id {response.track_id}"
        else:
            # No frame size is known yet: a box outside the first frame is rejected by the worker
            # (counted as init_rejected, reason in ~/stats last_init_error).
            response.message = "accepted; checked against the next frame"
        self.get_logger().info(f"set_init_box {box} {response.message}")
        return response

    def _on_reset(self, request, response):
        with self._lock:
            self._reset_requested = True
            self._pending_init = None
        response.success = True
        response.message = "reset: waiting for a new init box"
        self.get_logger().info(response.message)
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
                self.problems.report(f"internal_{type(exc).__name__}",
                                     f"frame pair skipped after an unexpected error: {exc!r}")

    def _decode_image(self, msg, stream: str) -> tuple[np.ndarray, str]:
        if isinstance(msg, CompressedImage):
            return compressed_to_array(msg)
        return image_to_array(msg)

    def _encode_aux(self, pair: MatchedPair, rgb_hw: tuple[int, int]) -> np.ndarray:
        if self._aux_transport == "events":
            rgb_item: Received = pair.rgb
            t_end = rgb_item.stamp_ns
            t_start = t_end - self._event_max_window_ns
            if rgb_item.previous_stamp_ns and rgb_item.previous_stamp_ns > t_start:
                t_start = rgb_item.previous_stamp_ns
            x, y, t, p = self._events.take(t_start, t_end)
            height, width = self._event_sensor_hw
            outside = count_out_of_range(x, y, height, width)
            if outside:
                self.problems.report("event_out_of_range", f"{outside} event(s) outside the "
                                     f"{width}x{height} sensor ignored")
            aux = encode_aux("event", (x, y, t, p), height=height, width=width,
                             drop_out_of_range=True)
        else:
            image, encoding = self._decode_image(pair.aux.msg, "aux")
            options = {}
            if self._modality == "thermal" and self._mono16_range is not None:
                options["mono16_range"] = self._mono16_range
            aux = encode_aux(self._modality, image, encoding, **options)
        height, width = rgb_hw
        if self._homography is not None:
            aux = cv2.warpPerspective(aux, self._homography, (width, height), flags=cv2.INTER_LINEAR)
        elif aux.shape[:2] != (height, width):
            if not self._resize_logged:
                self._resize_logged = True
                self.get_logger().info(
                    f"aux {aux.shape[1]}x{aux.shape[0]} is resized to the RGB size {width}x{height} "
                    "(set aux_to_rgb_homography if the cameras are not pixel-aligned)")
            aux = cv2.resize(aux, (width, height), interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(aux)

    def _process(self, pair: MatchedPair) -> None:
        t_taken = time.perf_counter()
        now_ns = self.get_clock().now().nanoseconds
        rgb_item: Received = pair.rgb
        transport = max(0.0, (rgb_item.received_ns - rgb_item.stamp_ns) / 1e9)
        sync_wait = max(0.0, (now_ns - rgb_item.received_ns) / 1e9)

        image, encoding = self._decode_image(rgb_item.msg, "rgb")
        rgb = to_rgb8(image, encoding)
        rgb_hw = rgb.shape[:2]
        with self._lock:
            self._last_rgb_hw = rgb_hw
        aux = self._encode_aux(pair, rgb_hw)
        t_encoded = time.perf_counter()

        with self._lock:
            reset, self._reset_requested = self._reset_requested, False
            pending, self._pending_init = self._pending_init, None
        if reset:
            # The synchronizer is left alone: resetting it would drop the next parked pair and its
            # watermarks, letting output stamps go backwards. track_id keeps the last id.
            self._tracker.reset()
            self._status = Target.STATUS_WAITING_FOR_INIT
            self._last_box = (0.0, 0.0, 0.0, 0.0)
        confidence = 0.0
        initialised_now = False
        if pending is not None:
            box, track_id, source = pending
            try:
                self._tracker.initialize(rgb, aux, box)
            except InputError as exc:
                reason = f"init box {box} from {source} rejected on the {rgb_hw[1]}x{rgb_hw[0]} frame: {exc}"
                with self._lock:
                    self._last_init_error = reason
                self.problems.report("init_rejected", reason)
            else:
                self._track_id = track_id
                self._status = Target.STATUS_TRACKING
                self._last_box = tuple(float(v) for v in box)
                confidence = 1.0
                self.get_logger().info(f"tracking {self._last_box} as track {track_id} ({source})")
                initialised_now = True
        if not initialised_now and self._tracker.initialized:
            result = self._tracker.track(rgb, aux)
            self._last_box = tuple(float(v) for v in result.box)
            confidence = float(result.score)
            lost_threshold = float(self.get_parameter("lost_threshold").value)
            self._status = Target.STATUS_TRACKING if confidence >= lost_threshold else Target.STATUS_LOST
        t_model = time.perf_counter()

        msg = Target()
        msg.header = rgb_item.msg.header
        msg.x, msg.y, msg.width, msg.height = self._last_box
        msg.confidence = confidence
        msg.status = self._status
        msg.track_id = self._track_id
        msg.test_weights = self.test_weights
        msg.dropped_pairs = self._sync.stats().superseded
        encoding_s, model_s = t_encoded - t_taken, t_model - t_encoded
        publish_s = time.perf_counter() - t_model
        total = transport + sync_wait + encoding_s + model_s + publish_s
        msg.latency, msg.latency_transport, msg.latency_sync = total, transport, sync_wait
        msg.latency_encoding, msg.latency_model, msg.latency_publish = encoding_s, model_s, publish_s
        self.target_pub.publish(msg)
        with self._lock:
            self._processed += 1
            self._timings.append(Timing(transport, sync_wait, encoding_s, model_s, publish_s, total))

        if self.get_parameter("publish_debug_image").value and self.debug_pub.get_subscription_count() > 0:
            self._publish_debug(rgb, aux, msg)

    def _publish_debug(self, rgb: np.ndarray, aux: np.ndarray, target: Target) -> None:
        if self._modality == "depth":
            # The depth encoding is BGR (what the network was trained on); the debug image is rgb8.
            aux = cv2.cvtColor(aux, cv2.COLOR_BGR2RGB)
        canvas = np.concatenate([rgb, aux], axis=1)
        width = rgb.shape[1]
        colour = {Target.STATUS_TRACKING: (0, 220, 0), Target.STATUS_LOST: (255, 140, 0)}.get(
            target.status, (160, 160, 160))
        status = {Target.STATUS_TRACKING: "TRACKING", Target.STATUS_LOST: "LOST"}.get(
            target.status, "WAITING FOR INIT")
        if target.status != Target.STATUS_WAITING_FOR_INIT:
            x, y, w, h = target.x, target.y, target.width, target.height
            for offset in (0, width):
                cv2.rectangle(canvas, (int(round(x)) + offset, int(round(y))),
                              (int(round(x + w)) + offset, int(round(y + h))), colour, 2)
        label = f"{status}  score {target.confidence:.2f}  id {target.track_id}"
        if target.test_weights:
            label += "  TEST WEIGHTS (box meaningless)"
        cv2.putText(canvas, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(canvas, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 1, cv2.LINE_AA)
        cv2.putText(canvas, f"aux: {self._modality} (as encoded for the model)", (width + 8, 24),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        msg = Image()
        msg.header = target.header
        fill_image_msg(msg, canvas, "rgb8")
        self.debug_pub.publish(msg)

    # ---------------------------------------------------------------------------------- stats
    def stats(self) -> dict[str, Any]:
        with self._lock:
            timings = list(self._timings)
            processed = self._processed
        latency = {}
        if timings:
            for field in ("transport", "sync", "encoding", "model", "publish", "total"):
                latency[field] = round(float(np.median([getattr(t, field) for t in timings])) * 1e3, 2)
        with self._lock:
            last_init_error = self._last_init_error
        return {"processed": processed, "status": int(self._status), "track_id": self._track_id,
                "test_weights": self.test_weights, "last_init_error": last_init_error,
                "median_latency_ms": latency,
                "sync": self._sync.stats().as_dict(), "problems": self.problems.totals()}

    def _log_summary(self) -> None:
        stats = self.stats()
        recent = self.problems.take_summary()
        sync = stats["sync"]
        self.stats_pub.publish(String(data=json.dumps(stats)))
        activity = (stats["processed"], sync["rgb_received"], sync["aux_received"])
        if activity == self._last_activity and not recent:
            return  # nothing new to say
        self._last_activity = activity
        dropped = {k: sync[k] for k in ("superseded", "rgb_unmatched", "aux_unmatched", "too_old",
                                         "stamp_zero", "duplicate") if sync[k]}
        self.get_logger().info(
            f"processed {stats['processed']} pairs; median latency ms {stats['median_latency_ms']}; "
            f"dropped {dropped or 'none'}; problems since last summary {recent or 'none'}")

    def shutdown(self) -> None:
        self._stop.set()
        self._sync.close()
        self._worker.join(timeout=10.0)


def main(argv: Optional[list[str]] = None) -> int:
    """Run the node; ``argv`` defaults to ``sys.argv`` (accepts ``--ros-args ...``)."""
    try:
        rclpy.init(args=sys.argv if argv is None else argv)
    except Exception as exc:  # rcl rejects malformed --ros-args (e.g. a remap rule) with a bare RCLError
        rclpy.logging.get_logger("seatrack").error(f"cannot start, invalid command-line arguments: {_one_line(exc)}")
        return 2
    node = None
    exit_code = 0
    try:
        try:
            node = SeaTrackNode()
        except (ConfigError, CheckpointError) as exc:
            rclpy.logging.get_logger("seatrack").error(f"cannot start: {exc}")
            return 2
        except (rclpy.exceptions.ParameterException, rclpy.exceptions.InvalidParameterTypeException) as exc:
            rclpy.logging.get_logger("seatrack").error(f"cannot start, invalid parameter: {exc}")
            return 2
        except NameValidationException as exc:  # e.g. a bad remapping
            rclpy.logging.get_logger("seatrack").error(f"cannot start, invalid name: {_one_line(exc)}")
            return 2
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        try:
            executor.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
    finally:
        if node is not None:
            node.shutdown()
            node.destroy_node()
        rclpy.try_shutdown()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
