"""Auxiliary-modality encoders: thermal, depth and event data -> the ``(H, W, 3)`` ``uint8`` image that
SEATrack's second stream saw in training (numpy and OpenCV only).

================  ==========================================  =================================
modality          input                                       output channel order
================  ==========================================  =================================
``"thermal"``     mono8 / mono16 / rgb8 / bgr8 image           RGB, grey copied to 3 channels
``"depth"``       16UC1 millimetres / 32FC1 metres             BGR (JET colour map, as trained)
``"event"``       raw events ``(x, y, t, p)`` or an rgb8/bgr8  RGB (VisEvent colours on white)
                  pre-rendered event frame
================  ==========================================  =================================

Bad input raises :class:`seatrack_ros.errors.InputError` with one of these ``kind`` keys:
``"modality"``, ``"encoding"``, ``"dtype"``, ``"shape"``, ``"empty_image"``, ``"thermal_range"``,
``"depth_invalid"``, ``"event_input"``, ``"event_polarity"``, ``"event_window"``,
``"event_out_of_range"``, ``"event_buffer_config"``.
"""

from __future__ import annotations

import cv2
import numpy as np

from seatrack_ros.errors import InputError
from seatrack_ros.modalities.depth import (
    DEPTH_ENCODINGS,
    depth_to_millimetres,
    encode_depth,
    normalize_depth,
)
from seatrack_ros.modalities.event import (
    EventWindowBuffer,
    count_out_of_range,
    render_events,
)
from seatrack_ros.modalities.thermal import THERMAL_ENCODINGS, encode_thermal, mono16_to_mono8

MODALITIES = ("thermal", "depth", "event")
EVENT_IMAGE_ENCODINGS = ("rgb8", "bgr8")

__all__ = [
    "DEPTH_ENCODINGS",
    "EVENT_IMAGE_ENCODINGS",
    "MODALITIES",
    "THERMAL_ENCODINGS",
    "EventWindowBuffer",
    "count_out_of_range",
    "depth_to_millimetres",
    "encode_aux",
    "encode_depth",
    "encode_event_image",
    "encode_thermal",
    "mono16_to_mono8",
    "normalize_depth",
    "render_events",
]


def encode_event_image(image: np.ndarray, encoding: str) -> np.ndarray:
    """Pass on an event frame that something upstream already rendered.

    Args:
        image: ``(H, W, 3)`` ``uint8``.
        encoding: ``"rgb8"`` (returned as a copy) or ``"bgr8"`` (converted to RGB).

    Returns:
        ``(H, W, 3)`` ``uint8`` in RGB order. The colours are not changed: the weights expect
        VisEvent's colours (see :mod:`seatrack_ros.modalities.event`), which other renderers may not use.
    """
    if not isinstance(encoding, str) or encoding not in EVENT_IMAGE_ENCODINGS:
        raise InputError(
            "encoding", f"event image: unsupported encoding {encoding!r}; expected one of rgb8, bgr8"
        )
    if not isinstance(image, np.ndarray):
        raise InputError("dtype", f"event image: expected a numpy array, got {type(image).__name__}")
    if image.size == 0:
        raise InputError("empty_image", f"event image: image is empty (shape {image.shape})")
    if image.dtype != np.uint8:
        raise InputError("dtype", f"event image {encoding}: expected uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError("shape", f"event image {encoding}: expected HxWx3, got shape {image.shape}")
    if encoding == "rgb8":
        return np.array(image, order="C", copy=True)
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2RGB)


def encode_aux(modality: str, image_or_events, encoding: str | None = None, **options) -> np.ndarray:
    """Encode one auxiliary input for the tracker, whatever its modality.

    Args:
        modality: ``"thermal"``, ``"depth"`` or ``"event"``.
        image_or_events: a numpy image for thermal and depth, and for a pre-rendered event frame; or
            a tuple ``(x, y, t, polarity)`` of raw events (e.g. from :meth:`EventWindowBuffer.take`).
        encoding: the ROS image encoding of an image (required for images, must be None for raw
            events).
        **options: passed on: ``mono16_range`` for thermal; ``height``, ``width`` (required),
            ``t_start``, ``t_end``, ``drop_out_of_range`` for raw events; none for depth or
            pre-rendered event frames.

    Returns:
        ``(H, W, 3)`` ``uint8``: see :func:`encode_thermal` (RGB), :func:`encode_depth` (BGR, as
        trained), :func:`render_events` / :func:`encode_event_image` (RGB).

    Raises:
        InputError: ``"modality"`` for an unknown modality, ``"encoding"`` for a missing or unexpected
            encoding, plus whatever the chosen encoder raises. Unknown option names raise TypeError
            (a programming error, not bad data).
    """
    if modality not in MODALITIES:
        raise InputError("modality", f"unknown modality {modality!r}; expected one of {', '.join(MODALITIES)}")

    if modality == "event" and not isinstance(image_or_events, np.ndarray):
        if encoding is not None:
            raise InputError("encoding", f"raw events take no image encoding, got {encoding!r}")
        try:
            x, y, t, polarity = image_or_events
        except (TypeError, ValueError) as exc:
            raise InputError(
                "event_input", "raw events must be a tuple (x, y, t, polarity) of 1-D arrays"
            ) from exc
        return render_events(x, y, t, polarity, **options)

    if encoding is None:
        raise InputError("encoding", f"{modality}: an image needs its encoding")
    if modality == "thermal":
        return encode_thermal(image_or_events, encoding, **options)
    if options:
        raise TypeError(f"{modality} images take no options, got {sorted(options)}")
    if modality == "depth":
        return encode_depth(image_or_events, encoding)
    return encode_event_image(image_or_events, encoding)
