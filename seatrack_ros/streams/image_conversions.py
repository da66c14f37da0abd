"""sensor_msgs/Image and CompressedImage <-> numpy, without rclpy or cv_bridge.

Why this exists: cv_bridge is not installable from PyPI for ROS 2 (the ``cv-bridge`` package there is
ROS 1's and fails on numpy 2), and rosbags-image's converter returns rows with padding wrong and hands
back a view of the message buffer. The functions here are duck-typed on the message fields, so they
accept rclpy messages, rosbags messages and plain test objects alike.

API convention: decoders return ``(array, encoding)``. ``encoding`` is a ROS encoding string naming
the array's channel order and pixel type, so callers never guess whether a frame is RGB or BGR:

========  ===============  =========  ================================================
encoding  array shape      dtype      meaning
========  ===============  =========  ================================================
rgb8      (H, W, 3)        uint8      red, green, blue
bgr8      (H, W, 3)        uint8      blue, green, red (OpenCV order)
rgba8     (H, W, 4)        uint8      red, green, blue, alpha
bgra8     (H, W, 4)        uint8      blue, green, red, alpha
mono8     (H, W)           uint8      intensity (``8UC1`` is returned as ``mono8``)
8UC3      (H, W, 3)        uint8      three channels of unknown order (kept as is)
mono16    (H, W)           uint16     intensity (e.g. raw thermal counts)
16UC1     (H, W)           uint16     usually depth in millimetres
32FC1     (H, W)           float32    usually depth in metres, NaN where unknown
========  ===============  =========  ================================================

Returned arrays are C-contiguous, native byte order, and never share memory with the message, so
they stay valid after the middleware reuses the message buffer.

``8UC1`` is treated as ``mono8`` because the bytes and meaning are identical. ``8UC3`` is NOT treated
as ``bgr8``: it carries no channel order (cv_bridge itself reinterprets it as whatever colour
encoding is requested), so ``to_rgb8`` refuses it rather than guess.
"""

from __future__ import annotations

import array as _array
import struct
from typing import Any

import cv2
import numpy as np

from seatrack_ros.errors import InputError
from seatrack_ros.streams.compressed_check import (
    DEFAULT_MAX_IMAGE_PIXELS,
    check_compressed,
    check_declared_size,
    check_png,
)

# encoding -> (element dtype, channels)
_RAW_ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "8UC3": (np.dtype(np.uint8), 3),
    "mono16": (np.dtype(np.uint16), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
}
_ALIASES = {"8UC1": "mono8"}
SUPPORTED_IMAGE_ENCODINGS: tuple[str, ...] = tuple(_RAW_ENCODINGS)
RGB8_SOURCE_ENCODINGS: tuple[str, ...] = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "8UC1")

# compressed_depth_image_transport prefixes its PNG with a 12-byte configuration header:
# int32 format, float32 depthParam[2] (quantisation A, B), in the publisher's (little-endian) layout.
_DEPTH_HEADER = struct.Struct("<iff")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COMPRESSED_FORMATS_HELP = ("'jpeg', 'png', '<enc>; jpeg compressed <enc>', '<enc>; png compressed "
                            "<enc>', '16UC1; compressedDepth [png]', '32FC1; compressedDepth [png]'")


def _byte_buffer(data: Any) -> np.ndarray:
    """The message's ``data`` field as a 1-D uint8 array (a view where the field allows one)."""
    try:
        flat = np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError):
        # Plain sequences of ints (hand-built messages) or non-contiguous arrays.
        try:
            flat = np.asarray(data, dtype=np.uint8).reshape(-1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InputError("data", f"image data is not a byte buffer: {type(data).__name__}") from exc
    return flat


def _int_field(msg: Any, name: str) -> int:
    value = getattr(msg, name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError("size", f"image field {name} is not an integer: {value!r}") from None


def image_to_array(msg: Any, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[np.ndarray, str]:
    """Copy a sensor_msgs/Image (any object with ``height``, ``width``, ``encoding``,
    ``is_bigendian``, ``step``, ``data``) into a numpy array.

    Returns ``(array, encoding)``: shape (H, W) for one channel, (H, W, C) otherwise; dtype and
    channel order as in the module table; C-contiguous, native byte order, an independent copy.
    Row padding (``step > width * bytes_per_pixel``) is removed and big-endian data is byte-swapped.

    Raises InputError with kind ``"encoding"`` (unsupported encoding), ``"empty"`` (zero width or
    height), ``"image_too_large"`` (more than ``max_pixels`` declared) or ``"size"`` (``step``
    shorter than a row, or ``len(data) != step * height``).
    """
    encoding = getattr(msg, "encoding")
    if encoding not in _RAW_ENCODINGS:
        raise InputError(
            "encoding",
            f"unsupported image encoding {encoding!r}; supported: {', '.join(SUPPORTED_IMAGE_ENCODINGS)}")
    dtype, channels = _RAW_ENCODINGS[encoding]
    height = _int_field(msg, "height")
    width = _int_field(msg, "width")
    step = _int_field(msg, "step")
    if height < 0 or width < 0:
        raise InputError("size", f"negative image size {width}x{height}")
    if height == 0 or width == 0:
        raise InputError("empty", f"empty image: {width}x{height} ({encoding})")
    check_declared_size(width, height, max_pixels, f"Image ({encoding})")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise InputError(
            "size", f"step {step} is shorter than one row of {width} px {encoding} ({row_bytes} bytes)")
    flat = _byte_buffer(msg.data)
    # The message definition fixes the data size to step * height; anything else means the
    # header fields do not describe the data, and guessing would give a sheared image.
    if flat.size != step * height:
        raise InputError(
            "size", f"image data has {flat.size} bytes, expected step*height = {step}*{height} = "
                    f"{step * height} ({width}x{height} {encoding})")
    # Drop the row padding and copy in one go: the copy is contiguous and owns its memory.
    rows = np.array(flat.reshape(height, step)[:, :row_bytes], copy=True, order="C")
    big_endian = bool(getattr(msg, "is_bigendian", 0)) and dtype.itemsize > 1
    wire_dtype = dtype.newbyteorder(">" if big_endian else "<")
    pixels = rows.view(wire_dtype)
    if not wire_dtype.isnative:
        pixels = pixels.astype(dtype)  # byte swap to native order (allocates a new array)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return pixels.reshape(shape), _ALIASES.get(encoding, encoding)


def compressed_to_array(msg: Any, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[np.ndarray, str]:
    """Decode a sensor_msgs/CompressedImage (any object with ``format`` and ``data``).

    Handles JPEG and PNG as published by image_transport's ``compressed`` plugin (format
    ``"jpeg"``, ``"png"`` or ``"<orig>; <jpeg|png> compressed <enc>"``) and the ``compressedDepth``
    plugin's PNG variant (``"16UC1; compressedDepth"``, ``"32FC1; compressedDepth png"``).

    Returns ``(array, encoding)`` as in the module table: colour comes back as ``bgr8`` (or ``bgra8``
    for PNG with alpha) like OpenCV decodes it, grey as ``mono8`` / ``mono16`` (``16UC1`` when the
    format names 16UC1 as the original encoding), compressedDepth as ``16UC1`` or ``32FC1`` (metres,
    NaN where the publisher had no depth).

    Raises InputError with kind ``"encoding"`` (unsupported format, e.g. RVL depth or 16-bit colour),
    ``"empty"`` (no data), ``"image_too_large"`` (the header declares more than ``max_pixels``) or
    ``"decode"`` (neither PNG nor JPEG, or corrupt: checked by `compressed_check` before OpenCV sees
    the bytes, so that libpng / libjpeg print nothing).
    """
    fmt = str(getattr(msg, "format", "") or "").strip()
    data = _byte_buffer(msg.data)
    if data.size == 0:
        raise InputError("empty", f"compressed image with format {fmt!r} has no data")
    original_encoding = fmt.split(";", 1)[0].strip() if ";" in fmt else ""
    lowered = fmt.lower()
    if "compresseddepth" in lowered:
        return _decode_compressed_depth(fmt, data, max_pixels)
    if fmt and not any(codec in lowered for codec in ("jpeg", "jpg", "png")):
        raise InputError("encoding",
                         f"unsupported CompressedImage format {fmt!r}; supported: {_COMPRESSED_FORMATS_HELP}")
    check_compressed(data.tobytes(), max_pixels)
    # IMREAD_UNCHANGED keeps 16-bit PNG and alpha, and ignores EXIF rotation (camera frames are
    # already in sensor orientation).
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise InputError("decode", f"could not decode {data.size} bytes as {fmt or 'an image'}")
    if decoded.ndim == 3 and decoded.shape[2] == 1:
        decoded = decoded[:, :, 0]
    if decoded.dtype == np.uint8:
        if decoded.ndim == 2:
            encoding = "mono8"
        elif decoded.shape[2] == 3:
            encoding = "bgr8"
        elif decoded.shape[2] == 4:
            encoding = "bgra8"
        else:
            encoding = ""
    elif decoded.dtype == np.uint16 and decoded.ndim == 2:
        encoding = "16UC1" if original_encoding == "16UC1" else "mono16"
    else:
        encoding = ""
    if not encoding:
        raise InputError(
            "encoding", f"decoded {fmt or 'image'} has unsupported pixel layout {decoded.dtype} "
                        f"{decoded.shape[2:] or '(1 channel)'}; supported: 8-bit grey/BGR/BGRA, 16-bit grey")
    return np.ascontiguousarray(decoded), encoding


def decode_image(msg: Any, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[np.ndarray, str]:
    """An Image or a CompressedImage -> ``(array, encoding)``: one entry point for every caller.

    A CompressedImage is recognised by its ``format`` field (sensor_msgs/Image has none), so rclpy
    and rosbags messages need no type name. ``max_pixels``: the largest declared width x height
    accepted (the node's ``max_image_pixels``).
    """
    if hasattr(msg, "format") and not hasattr(msg, "encoding"):
        return compressed_to_array(msg, max_pixels)
    return image_to_array(msg, max_pixels)


def _decode_compressed_depth(fmt: str, data: np.ndarray, max_pixels: int) -> tuple[np.ndarray, str]:
    encoding, _, method = fmt.partition(";")
    encoding = encoding.strip()
    method = method.strip().lower()
    # Formats: "<enc>; compressedDepth" (older, PNG), "<enc>; compressedDepth png|rvl".
    if method not in ("compresseddepth", "compresseddepth png"):
        raise InputError(
            "encoding", f"unsupported compressedDepth variant {fmt!r} (only PNG is decoded; "
                        f"republish with the compressedDepth format parameter set to png)")
    if encoding not in ("16UC1", "32FC1"):
        raise InputError("encoding", f"compressedDepth image with encoding {encoding!r}; expected 16UC1 or 32FC1")
    if data.size <= _DEPTH_HEADER.size:
        raise InputError("size", f"compressedDepth data of {data.size} bytes is shorter than its header")
    _format_id, quant_a, quant_b = _DEPTH_HEADER.unpack(data[:_DEPTH_HEADER.size].tobytes())
    png = data[_DEPTH_HEADER.size:]
    if png[:len(_PNG_SIGNATURE)].tobytes() != _PNG_SIGNATURE:
        raise InputError("decode", f"compressedDepth payload ({fmt!r}) is not PNG after the 12-byte header")
    check_png(png.tobytes(), max_pixels)
    decoded = cv2.imdecode(png, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16 or decoded.ndim != 2:
        raise InputError("decode", f"compressedDepth PNG ({fmt!r}) did not decode to one 16-bit channel")
    if encoding == "16UC1":
        return np.ascontiguousarray(decoded), "16UC1"
    # 32FC1 is sent as quantised inverse depth q = A / depth + B; q == 0 marks "no depth".
    # Same float32 arithmetic as the publisher's decoder: depth = A / (q - B).
    inverse = decoded.astype(np.float32)
    depth = np.full(decoded.shape, np.nan, dtype=np.float32)
    valid = decoded != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        depth[valid] = np.float32(quant_a) / (inverse[valid] - np.float32(quant_b))
    return depth, "32FC1"


def to_rgb8(image: np.ndarray, encoding: str) -> np.ndarray:
    """Convert a colour or grey 8-bit image to (H, W, 3) uint8 in RGB order, C-contiguous.

    Accepts ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8`` (alpha dropped) and ``mono8`` / ``8UC1``
    (grey replicated to three channels). An ``rgb8`` input that is already C-contiguous is returned
    as is (no copy). Everything else (16-bit, float depth, ``8UC3`` of unknown order) raises
    InputError kind ``"encoding"``; those need a modality encoder, not a colour conversion.
    Wrong dtype/shape for the encoding raises kind ``"shape"``.
    """
    if encoding not in RGB8_SOURCE_ENCODINGS:
        hint = (" (8UC3 has no defined channel order; publish rgb8 or bgr8)" if encoding == "8UC3"
                else "")
        raise InputError("encoding", f"cannot convert {encoding!r} to rgb8{hint}; "
                                     f"supported: {', '.join(RGB8_SOURCE_ENCODINGS)}")
    # OpenCV rejects some strided views (e.g. negative strides from flips): make rows contiguous.
    image = np.ascontiguousarray(_check_layout(image, encoding))
    if encoding == "rgb8":
        return image
    if encoding == "bgr8":
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if encoding == "rgba8":
        return np.ascontiguousarray(image[:, :, :3])
    if encoding == "bgra8":
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)  # mono8 / 8UC1


def _check_layout(image: Any, encoding: str) -> np.ndarray:
    """Check dtype and shape of ``image`` against ``encoding``; returns it as (H, W) or (H, W, C)."""
    if encoding not in _RAW_ENCODINGS:
        raise InputError("encoding",
                         f"unsupported image encoding {encoding!r}; supported: {', '.join(SUPPORTED_IMAGE_ENCODINGS)}")
    if not isinstance(image, np.ndarray):
        raise InputError("shape", f"expected a numpy array for {encoding}, got {type(image).__name__}")
    dtype, channels = _RAW_ENCODINGS[encoding]
    if image.dtype.base.kind != dtype.kind or image.dtype.itemsize != dtype.itemsize:
        raise InputError("shape", f"{encoding} needs dtype {dtype}, got {image.dtype}")
    if channels == 1 and image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    expected_ndim = 2 if channels == 1 else 3
    if image.ndim != expected_ndim or (channels > 1 and image.shape[2] != channels):
        want = "(H, W)" if channels == 1 else f"(H, W, {channels})"
        raise InputError("shape", f"{encoding} needs shape {want}, got {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError("empty", f"empty {encoding} image of shape {image.shape}")
    return image


def array_to_image_fields(image: np.ndarray, encoding: str) -> dict[str, Any]:
    """Fields of a sensor_msgs/Image holding ``image`` (no header).

    ``image``: (H, W) or (H, W, C) array whose dtype and channel count match ``encoding`` (see the
    module table; ``8UC1`` is accepted and kept as given). Returns ``dict(height, width, encoding,
    is_bigendian=0, step, data)`` with unpadded rows (``step = W * C * itemsize``) and little-endian
    data in an ``array.array('B')``: assigning that to an rclpy message is a memcpy, whereas assigning
    a numpy array costs a per-element check (about 100x slower for a VGA frame).
    Raises InputError kind ``"encoding"``, ``"shape"`` or ``"empty"``.
    """
    image = _check_layout(image, encoding)
    dtype, channels = _RAW_ENCODINGS[encoding]
    # is_bigendian is always 0: convert to little-endian whatever the host or array byte order.
    little = np.ascontiguousarray(image, dtype=dtype.newbyteorder("<"))
    data = _array.array("B")
    data.frombytes(memoryview(little).cast("B"))
    height, width = little.shape[:2]
    return {
        "height": int(height),
        "width": int(width),
        "encoding": encoding,
        "is_bigendian": 0,
        "step": int(width * channels * dtype.itemsize),
        "data": data,
    }


def fill_image_msg(msg: Any, image: np.ndarray, encoding: str) -> Any:
    """Set ``height``, ``width``, ``encoding``, ``is_bigendian``, ``step`` and ``data`` of ``msg``
    (a sensor_msgs/Image or similar) from ``image``; the header is left to the caller. Returns
    ``msg``. Validation as in :func:`array_to_image_fields`; ``msg`` is untouched if it raises."""
    fields = array_to_image_fields(image, encoding)
    for name, value in fields.items():
        setattr(msg, name, value)
    return msg
