"""The node's parameters: declarations (name, default, descriptor) and the frozen `NodeConfig`.

`read_config` turns the declared values into a `NodeConfig` and raises `ConfigError` for anything the
node cannot start with, before the model loads. The table in docs/ros.md is checked against
`PARAMETERS` by a test, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import NameValidationException
from rclpy.validate_topic_name import validate_topic_name

from seatrack_ros.errors import ConfigError
from seatrack_ros.modalities import MODALITIES
from seatrack_ros.model.build import DEVICES, RELEASED_VARIANTS, variant_for_modality
from seatrack_ros.streams.compressed_check import DEFAULT_MAX_IMAGE_PIXELS
from seatrack_ros.streams.event_input import DEFAULT_EVENT_WAIT_S
from seatrack_ros.streams.sync import DEFAULT_SYNC_SLOP

TRANSPORTS = {
    "thermal": ("raw", "compressed"),
    "depth": ("raw", "compressed"),
    "event": ("event_packet", "events", "raw", "compressed"),
}
# aux_transport's declared default per modality (event cameras publish event_camera_msgs/EventPacket;
# the node falls back to events when that package is not installed, see ros/event_packet_msgs.py).
DEFAULT_AUX_TRANSPORT = {"thermal": "raw", "depth": "raw", "event": "event_packet"}


def _describe(
    description: str,
    *,
    read_only: bool = True,
    float_range=None,
    int_range=None,
    dynamic_typing: bool = False,
    constraints: str = "",
) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(
        description=description,
        read_only=read_only,
        additional_constraints=constraints,
        dynamic_typing=dynamic_typing,
    )
    if float_range is not None:
        descriptor.floating_point_range = [
            FloatingPointRange(from_value=float(float_range[0]), to_value=float(float_range[1]), step=0.0)
        ]
    if int_range is not None:
        descriptor.integer_range = [
            IntegerRange(from_value=int(int_range[0]), to_value=int(int_range[1]), step=1)
        ]
    return descriptor


# A summary every few milliseconds would cost more CPU than the tracking it reports on.
MIN_STATS_PERIOD = 0.1
MAX_IMAGE_PIXELS_RANGE = (64 * 64, 1 << 28)

# name -> (default, descriptor). A default of None declares a parameter that may stay unset.
NODE_VARIANTS = ("", *RELEASED_VARIANTS, "demo")
PRECISIONS = ("float32", "bfloat16", "auto")

PARAMETERS: dict[str, tuple[Any, ParameterDescriptor]] = {
    "modality": (
        "thermal",
        _describe("Auxiliary sensor: thermal, depth or event.", constraints="one of: thermal, depth, event"),
    ),
    "rgb_topic": ("rgb/image_raw", _describe("RGB image topic (remappable).")),
    "aux_topic": (
        "aux/image_raw",
        _describe(
            "Auxiliary topic: thermal/depth image, event image or seatrack_ros/EventArray (remappable)."
        ),
    ),
    "rgb_transport": (
        "raw",
        _describe(
            "raw: sensor_msgs/Image; compressed: sensor_msgs/CompressedImage.",
            constraints="one of: raw, compressed",
        ),
    ),
    # The declared default is the modality's (DEFAULT_AUX_TRANSPORT, see `declare_parameters`).
    "aux_transport": (
        "raw",
        _describe(
            "raw: sensor_msgs/Image; compressed: sensor_msgs/CompressedImage; event_packet: "
            "event_camera_msgs/EventPacket (evt3, mono), events: seatrack_ros/EventArray, both rendered per "
            "RGB frame (event modality only). Default: raw; event_packet for the event modality.",
            constraints="one of: raw, compressed, event_packet, events",
        ),
    ),
    "sync_slop": (
        DEFAULT_SYNC_SLOP,
        _describe(
            "Largest |RGB stamp - aux stamp| in seconds for two frames to be paired.",
            float_range=(0.0005, 1.0),
        ),
    ),
    "sync_queue_size": (
        10,
        _describe("Unmatched messages kept per stream while waiting for a partner.", int_range=(1, 100)),
    ),
    "reliable_qos": (
        False,
        _describe("Subscribe with RELIABLE QoS; default false = sensor-data QoS (best effort, keep last 5)."),
    ),
    "checkpoint": (
        "",
        _describe(
            "Path to the SEATrack checkpoint (.pth/.pth.tar). Empty: the demo model that ships with the "
            "package (trained on synthetic scenes only: it follows targets in the demo, not in real "
            "camera images), or the test weights with test_weights:=true."
        ),
    ),
    "variant": (
        "",
        _describe(
            "Architecture of the checkpoint: rgbt, rgbd, rgbe (the released ViT-B models) or demo (the "
            "small demo model, e.g. fine-tuned by seatrack-train). Empty: the modality's released "
            "variant with a checkpoint, the demo model without one.",
            constraints="empty or one of: rgbt, rgbd, rgbe, demo",
        ),
    ),
    "test_weights": (
        False,
        _describe(
            "Run deterministic test weights of the variant instead of a checkpoint (for tests: the boxes "
            "mean nothing; every Target says test_weights=true)."
        ),
    ),
    # The declared default is the modality's released file's convention (see `declare_parameters`).
    "lora_merged": (
        True,
        _describe(
            "True if the checkpoint's qkv weights already include the LoRA update (released RGB-T and "
            "RGB-D), false if they are base weights (released RGB-E). Default: the convention of the "
            "modality's released file."
        ),
    ),
    "device": (
        "auto",
        _describe(
            "Inference device: auto (cuda if available), cuda or cpu.", constraints="one of: auto, cuda, cpu"
        ),
    ),
    "half": (True, _describe("Run the model in float16 on CUDA (ignored on CPU).")),
    "precision": (
        "float32",
        _describe(
            "CPU arithmetic: float32 (the reference's), bfloat16, or auto (bfloat16 where the CPU has "
            "native bfloat16 units). Ignored on CUDA (see half).",
            constraints="one of: float32, bfloat16, auto",
        ),
    ),
    "cuda_graphs": (
        True,
        _describe(
            "Capture the tracker's per-frame work as one CUDA graph when a target is set and replay it "
            "(lower latency; falls back to eager with a warning if capture fails; ignored on CPU)."
        ),
    ),
    "compile_network": (
        False,
        _describe(
            "Compile the network with torch.compile for its fixed shapes when the first target is set "
            "(fewer GPU kernels per frame; that first initialisation takes tens of seconds; falls back to "
            "the plain network with a warning if compiling fails; ignored on CPU)."
        ),
    ),
    "lost_threshold": (
        0.25,
        _describe(
            "Confidence under which the status is LOST (the tracker keeps following its last estimate).",
            read_only=False,
            float_range=(0.0, 1.0),
        ),
    ),
    "init_box": (
        None,
        _describe(
            "Optional [x, y, width, height] in RGB pixels: start tracking it on the first frame.",
            dynamic_typing=True,
            constraints="4 numbers, width and height > 0",
        ),
    ),
    "aux_to_rgb_homography": (
        None,
        _describe(
            "Optional row-major 3x3 homography mapping aux pixel coordinates to RGB pixel coordinates "
            "(for cameras that are not pixel-aligned). Unset: the aux image is resized to the RGB size.",
            dynamic_typing=True,
            constraints="9 numbers, invertible",
        ),
    ),
    "mono16_range": (
        None,
        _describe(
            "Optional [low, high] raw counts mapped to 0..255 for mono16 thermal images; unset: per-frame "
            "min-max.",
            dynamic_typing=True,
            constraints="2 numbers, low < high",
        ),
    ),
    "event_max_window": (
        0.1,
        _describe(
            "Longest event window in seconds rendered for one RGB frame (also the first frame's window).",
            float_range=(0.001, 2.0),
        ),
    ),
    "event_wait_timeout": (
        DEFAULT_EVENT_WAIT_S,
        _describe(
            "Longest wait in seconds, per RGB frame, for the event packet that closes the frame's event "
            "window (it may arrive after the RGB frame); past it the window is rendered with what has "
            "arrived and counted as incomplete. 0 = never wait.",
            float_range=(0.0, 2.0),
        ),
    ),
    "publish_debug_image": (
        True,
        _describe(
            "Publish ~/debug_image (RGB and encoded aux side by side, box, score, status) when someone "
            "subscribes.",
            read_only=False,
        ),
    ),
    "stats_period": (
        5.0,
        _describe(
            "Seconds between summary log lines and ~/stats messages; 0 = off, else at least "
            f"{MIN_STATS_PERIOD} s.",
            float_range=(0.0, 3600.0),
            constraints=f"0 or {MIN_STATS_PERIOD}..3600",
        ),
    ),
    "max_image_pixels": (
        DEFAULT_MAX_IMAGE_PIXELS,
        _describe(
            "Largest width x height an RGB or aux image may declare (raw or compressed); larger ones are "
            "refused before anything is allocated or decoded for them.",
            int_range=MAX_IMAGE_PIXELS_RANGE,
        ),
    ),
    "autostart": (
        True,
        _describe(
            "Configure and activate the (lifecycle) node at start; false leaves it unconfigured for a "
            "lifecycle manager (ros2 lifecycle set /seatrack configure, activate)."
        ),
    ),
    "publish_detections": (
        True,
        _describe(
            "Also publish ~/detections (vision_msgs/Detection2DArray) when vision_msgs is installed."
        ),
    ),
    "depth_camera_info_topic": (
        "",
        _describe(
            "sensor_msgs/CameraInfo of the depth image, which must be registered to the RGB camera "
            "(modality depth): publishes ~/target_point; empty = off (remappable)."
        ),
    ),
    "diagnostics_period": (
        1.0,
        _describe("Seconds between /diagnostics messages.", float_range=(0.1, 60.0)),
    ),
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


@dataclass(frozen=True)
class NodeConfig:
    """Every start-time setting of the node, validated (run-time ones are read per frame)."""

    modality: str
    rgb_topic: str
    aux_topic: str
    rgb_transport: str
    aux_transport: str
    sync_slop: float
    sync_queue_size: int
    reliable_qos: bool
    checkpoint: str
    lora_merged: bool
    device: str
    half: bool
    cuda_graphs: bool
    compile_network: bool
    init_box: Optional[tuple[float, float, float, float]]
    homography: Optional[np.ndarray]
    mono16_range: Optional[tuple[float, float]]
    event_max_window_ns: int
    stats_period: float
    event_wait_timeout: float
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    publish_detections: bool = True
    depth_camera_info_topic: str = ""
    variant: str = ""
    test_weights: bool = False
    precision: str = "float32"


def one_line(exc: Exception) -> str:
    """rclpy's name errors span several lines (a caret diagram) and rcl's end with a source location."""
    lines = [line.strip() for line in str(exc).splitlines()]
    text = " ".join(line for line in lines if line and set(line) != {"^"})
    return text.split(", at /")[0]


def declare_parameters(node) -> None:
    """Declare `PARAMETERS` on ``node``; lora_merged's default comes from the model registry for the
    modality given (so a params file or launch needs it only for a checkpoint saved otherwise), and
    aux_transport's from `DEFAULT_AUX_TRANSPORT`."""
    per_modality = ("lora_merged", "aux_transport")
    for name, (default, descriptor) in PARAMETERS.items():
        if name in per_modality:
            continue
        node.declare_parameter(name, default, descriptor)
    modality = node.get_parameter("modality").value
    lora_default = PARAMETERS["lora_merged"][0]
    transport_default = PARAMETERS["aux_transport"][0]
    if modality in MODALITIES:
        lora_default = bool(variant_for_modality(modality).lora_merged)
        transport_default = DEFAULT_AUX_TRANSPORT[modality]
    node.declare_parameter("lora_merged", lora_default, PARAMETERS["lora_merged"][1])
    node.declare_parameter("aux_transport", transport_default, PARAMETERS["aux_transport"][1])


def read_config(values: dict[str, Any], resolve_topic: Callable[[str], str]) -> NodeConfig:
    """Validate the declared values (name -> value) into a NodeConfig; ConfigError otherwise.

    resolve_topic: the node's ``resolve_topic_name`` (unknown substitutions fail there, not later).
    """
    p = values
    if p["modality"] not in MODALITIES:
        raise ConfigError(f"parameter modality must be one of {MODALITIES}, got {p['modality']!r}")
    if p["rgb_transport"] not in ("raw", "compressed"):
        raise ConfigError(f"parameter rgb_transport must be raw or compressed, got {p['rgb_transport']!r}")
    allowed = TRANSPORTS[p["modality"]]
    if p["aux_transport"] not in allowed:
        raise ConfigError(
            f"parameter aux_transport for modality {p['modality']} must be one of "
            f"{allowed}, got {p['aux_transport']!r}"
        )
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
            resolve_topic(p[name])
        except (NameValidationException, RuntimeError) as exc:
            raise ConfigError(
                f"parameter {name} {p[name]!r} is not a valid topic name: {one_line(exc)}"
            ) from None
    camera_info_topic = p["depth_camera_info_topic"]
    if camera_info_topic:
        if p["modality"] != "depth":
            raise ConfigError("parameter depth_camera_info_topic needs modality depth (the target point is "
                              f"computed from a registered depth image), got modality {p['modality']!r}")
        try:
            validate_topic_name(camera_info_topic)
            resolve_topic(camera_info_topic)
        except (NameValidationException, RuntimeError) as exc:
            raise ConfigError(f"parameter depth_camera_info_topic {camera_info_topic!r} is not a valid topic "
                              f"name: {one_line(exc)}") from None
    if p["variant"] not in NODE_VARIANTS:
        raise ConfigError(f"parameter variant must be empty or one of {NODE_VARIANTS[1:]}, got {p['variant']!r}")
    if p["test_weights"] and p["checkpoint"]:
        raise ConfigError("parameters test_weights and checkpoint exclude each other: test_weights:=true "
                          "runs deterministic weights instead of a file")
    if p["test_weights"] and p["variant"] == "demo":
        raise ConfigError("the demo variant has no test weights: its trained weights ship with the package")
    if not p["checkpoint"] and not p["test_weights"] and p["variant"] not in ("", "demo"):
        raise ConfigError(f"parameter variant {p['variant']} needs a checkpoint (or test_weights:=true); "
                          "without one the node runs the demo model")
    if p["precision"] not in PRECISIONS:
        raise ConfigError(f"parameter precision must be one of {PRECISIONS}, got {p['precision']!r}")
    init_box = _number_list(p["init_box"], "init_box", 4)
    if init_box is not None and (init_box[2] <= 0 or init_box[3] <= 0):
        raise ConfigError(f"parameter init_box needs width and height > 0, got {init_box}")
    homography = _number_list(p["aux_to_rgb_homography"], "aux_to_rgb_homography", 9)
    if homography is not None:
        matrix = np.array(homography, dtype=np.float64).reshape(3, 3)
        if abs(np.linalg.det(matrix)) < 1e-12:
            raise ConfigError(f"parameter aux_to_rgb_homography is singular: {homography}")
        homography = matrix
    stats_period = float(p["stats_period"])
    if not (stats_period == 0.0 or MIN_STATS_PERIOD <= stats_period <= 3600.0):
        raise ConfigError(
            f"parameter stats_period must be 0 (off) or {MIN_STATS_PERIOD}..3600 s, got {stats_period!r}"
        )
    _check_ranges(p)
    mono16_range = _number_list(p["mono16_range"], "mono16_range", 2)
    if mono16_range is not None and not mono16_range[0] < mono16_range[1]:
        raise ConfigError(f"parameter mono16_range needs low < high, got {mono16_range}")
    return NodeConfig(
        modality=p["modality"],
        rgb_topic=p["rgb_topic"],
        aux_topic=p["aux_topic"],
        rgb_transport=p["rgb_transport"],
        aux_transport=p["aux_transport"],
        sync_slop=float(p["sync_slop"]),
        sync_queue_size=int(p["sync_queue_size"]),
        reliable_qos=bool(p["reliable_qos"]),
        checkpoint=p["checkpoint"],
        lora_merged=bool(p["lora_merged"]),
        device=p["device"],
        half=bool(p["half"]),
        cuda_graphs=bool(p["cuda_graphs"]),
        compile_network=bool(p["compile_network"]),
        init_box=tuple(init_box) if init_box is not None else None,
        homography=homography,
        mono16_range=tuple(mono16_range) if mono16_range is not None else None,
        event_max_window_ns=int(float(p["event_max_window"]) * 1e9),
        stats_period=stats_period,
        max_image_pixels=int(p["max_image_pixels"]),
        event_wait_timeout=float(p["event_wait_timeout"]),
        publish_detections=bool(p["publish_detections"]),
        depth_camera_info_topic=camera_info_topic,
        variant=p["variant"],
        test_weights=bool(p["test_weights"]),
        precision=p["precision"],
    )


def _check_ranges(values: dict[str, Any]) -> None:
    """Every declared numeric range again (rclpy enforces them on -p and set_parameters, but not on
    values that reach `read_config` another way, e.g. a test or a future caller)."""
    for name, (_, descriptor) in PARAMETERS.items():
        value = values.get(name)
        for bounds in list(descriptor.floating_point_range) + list(descriptor.integer_range):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if not (math.isfinite(value) and bounds.from_value <= value <= bounds.to_value):
                raise ConfigError(
                    f"parameter {name} must be in {bounds.from_value}..{bounds.to_value}, got {value!r}"
                )


HELP = """usage: seatrack-node [--ros-args -p NAME:=VALUE ... | --params-file FILE]
       ros2 launch seatrack_ros rgbt.launch.py | rgbd.launch.py | rgbe.launch.py [NAME:=VALUE ...]

Tracks one target in RGB + thermal / depth / event frames and publishes ~/target (seatrack_ros/Target).
Parameters (docs/ros.md has the table; config/*.yaml the per-modality settings):
""" + "\n".join(f"  {name:<22} {descriptor.description}" for name, (_, descriptor) in PARAMETERS.items())


def node_config(node) -> NodeConfig:
    """`read_config` on the parameters declared on ``node``."""
    return read_config({name: node.get_parameter(name).value for name in PARAMETERS}, node.resolve_topic_name)


TEST_WEIGHTS_WARNING = (
    "test_weights:=true: running DETERMINISTIC TEST WEIGHTS. The boxes mean nothing; every "
    "Target is marked test_weights=true. Set the 'checkpoint' parameter for real tracking."
)
DEMO_MODEL_WARNING = (
    "No checkpoint given: running the DEMO MODEL (docs/demo-model.md), trained on the project's synthetic "
    "scenes only. It follows targets in the demo, not in real camera images; every Target says "
    "model='demo'. Set the 'checkpoint' parameter to a released SEATrack file for real tracking."
)


def node_variant(cfg: NodeConfig) -> str:
    """The registry variant the node runs: the demo model without a checkpoint (unless test weights),
    else ``variant`` or the modality's released one."""
    if not cfg.checkpoint and not cfg.test_weights:
        return "demo"
    return cfg.variant or variant_for_modality(cfg.modality).name


def model_description(variant: str, checkpoint: str, test_weights: bool) -> str:
    """What runs, for /diagnostics: "rgbt: /path/file.pth", "rgbt test weights", "demo (shipped ...)"."""
    if test_weights:
        return f"{variant} test weights"
    if not checkpoint:
        return f"{variant} (shipped weights, synthetic scenes only)"
    return f"{variant}: {checkpoint}"


def load_node_tracker(cfg: NodeConfig, log):
    """The tracker for ``cfg`` (`seatrack_ros.tracker.load_tracker`; torch is imported only now, so a
    bad parameter fails fast), with the start-up lines on ``log``. Returns (tracker, test_weights,
    variant name)."""
    import time

    from seatrack_ros.tracker import load_tracker

    started = time.perf_counter()
    variant = node_variant(cfg)
    tracker, test_weights = load_tracker(
        cfg.modality,
        cfg.checkpoint or None,
        None if variant == "demo" else cfg.lora_merged,  # seatrack-train's files record theirs
        cfg.device,
        variant=variant,
        half=cfg.half,
        cuda_graphs=cfg.cuda_graphs,
        compile_network=cfg.compile_network,
        precision=cfg.precision,
    )
    if test_weights:
        log.warning(TEST_WEIGHTS_WARNING)
    elif not cfg.checkpoint:
        log.warning(DEMO_MODEL_WARNING)
    precision = tracker.precision_choice.name if tracker.precision_choice is not None else ""
    log.info(
        f"model loaded in {time.perf_counter() - started:.1f} s ({variant}) on {tracker.device}"
        f"{' float16' if tracker.half else ''}{' with CUDA graphs' if tracker.cuda_graphs else ''}"
        f"{f' {precision}' if precision else ''}{f' from {cfg.checkpoint}' if cfg.checkpoint else ''}"
    )
    return tracker, test_weights, variant


def refuse_use_sim_time_change(parameters) -> SetParametersResult:
    """on-set-parameters callback: ``use_sim_time`` is fixed at start.

    Switched at run time it would move every timer and latency part to /clock, and without a /clock
    publisher stop ``~/stats`` and zero the latency parts, with nothing saying why.
    """
    for parameter in parameters:
        if parameter.name == "use_sim_time":
            return SetParametersResult(
                successful=False, reason="use_sim_time is read-only after start: set it at launch"
            )
    return SetParametersResult(successful=True)


def command_line_overrides(argv: list[str]) -> dict[str, str]:
    """``NAME:=VALUE`` texts of the ``-p`` / ``--param`` arguments inside ``--ros-args`` blocks."""
    overrides: dict[str, str] = {}
    inside = False
    args = iter(argv)
    for arg in args:
        if arg == "--ros-args":
            inside = True
        elif arg == "--":
            inside = False
        elif inside and arg in ("-p", "--param"):
            rule = next(args, "")
            name, separator, text = rule.partition(":=")
            if separator and ":" not in name:  # "node:name:=v" targets another node name
                overrides[name] = text
    return overrides


def _declared_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "list"


def _command_line_type(text: str) -> str:
    """The type rcl gives a ``-p`` value: list, quoted string, bool word, number, else string."""
    text = text.strip()
    if text.startswith("["):
        return "list"
    if text[:1] in ("'", '"'):
        return "string"
    if text.lower() in ("true", "false", "yes", "no", "on", "off"):
        return "bool"
    try:
        float(text)
    except ValueError:
        return "string"
    return "number"


def check_command_line_types(argv: list[str]) -> None:
    """Refuse a ``-p`` value whose type does not fit the parameter's (ConfigError).

    With a ``--params-file`` that sets the same parameter, ROS's merging silently keeps the file's
    value when the command-line one has another type (``-p sync_slop:=abc``); without a file rclpy
    refuses it itself. Types are told apart as rcl does (`_command_line_type`); integer versus
    double is left to rclpy, and the dynamically typed lists to `read_config`.
    """
    for name, text in command_line_overrides(argv).items():
        if name not in PARAMETERS or PARAMETERS[name][1].dynamic_typing:
            continue
        expected, got = _declared_type(PARAMETERS[name][0]), _command_line_type(text)
        if got != expected:
            raise ConfigError(
                f"parameter {name}:={text} on the command line is a {got}, {name} needs a {expected}"
            )
