"""Thermal (infrared) frames -> the 3-channel auxiliary image SEATrack's RGB-T weights expect.

The RGB-T weights were trained on LasHeR infrared frames (RGBT234 for testing). Those are 8-bit JPEG
files that hold a grey infrared image in three equal channels; the training loader reads them with
OpenCV and converts BGR -> RGB, so the network saw the grey level copied to R, G and B, with no colour
map. This module produces exactly that: an ``(H, W, 3)`` ``uint8`` array in RGB order whose three
channels are equal for grey input.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from seatrack_ros.errors import InputError

# ROS names some single-channel encodings two ways (sensor_msgs/image_encodings.hpp); both spellings
# describe the same bytes, so they map to the same conversion.
_ENCODING_ALIASES = {"8UC1": "mono8", "16UC1": "mono16"}

THERMAL_ENCODINGS = ("mono8", "mono16", "rgb8", "bgr8", "8UC1", "16UC1")


def _check_nonempty(image: np.ndarray, what: str) -> None:
    if not isinstance(image, np.ndarray):
        raise InputError("dtype", f"{what}: expected a numpy array, got {type(image).__name__}")
    if image.size == 0:
        raise InputError("empty_image", f"{what}: image is empty (shape {image.shape})")


def single_channel(image: np.ndarray, what: str) -> np.ndarray:
    """Return a 2-D view of an HxW or HxWx1 array; anything else is an InputError("shape")."""
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim != 2:
        raise InputError("shape", f"{what}: expected HxW or HxWx1, got shape {image.shape}")
    return image


def _three_channel(image: np.ndarray, what: str) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError("shape", f"{what}: expected HxWx3, got shape {image.shape}")
    return image


def _require_dtype(image: np.ndarray, kind: str, itemsize: int, what: str) -> None:
    # Compared by kind and size rather than equality so that a big-endian uint16 buffer (ROS images
    # may set is_bigendian) is accepted; it is converted to native byte order below.
    if image.dtype.kind != kind or image.dtype.itemsize != itemsize:
        expected = {("u", 1): "uint8", ("u", 2): "uint16"}[(kind, itemsize)]
        raise InputError("dtype", f"{what}: expected {expected}, got {image.dtype}")


def grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    """Copy an ``(H, W)`` ``uint8`` grey image into an ``(H, W, 3)`` ``uint8`` RGB image (R=G=B)."""
    return cv2.cvtColor(np.ascontiguousarray(grey), cv2.COLOR_GRAY2RGB)


def mono16_to_mono8(image: np.ndarray, mono16_range: tuple[float, float] | None = None) -> np.ndarray:
    """Map a 16-bit thermal frame to 8 bits.

    Args:
        image: ``(H, W)`` ``uint16`` raw sensor counts (or radiometric units, whatever the camera sends).
        mono16_range: ``(lo, hi)`` in the same units as ``image``, ``lo < hi``, both finite. Values are
            clipped to ``[lo, hi]`` and mapped linearly, ``lo -> 0`` and ``hi -> 255``. With ``None`` the
            frame's own minimum and maximum are used instead (per-frame min-max).

    Returns:
        ``(H, W)`` ``uint8``: ``rint((clip(v, lo, hi) - lo) * 255 / (hi - lo))``, computed in float64 and
        rounded half to even. With ``mono16_range=None`` a constant frame (min == max) gives all zeros.

    The weights only ever saw 8-bit infrared frames whose grey levels come from the camera's own
    fixed mapping, so a fixed range that matches the camera's radiometric setup reproduces training
    conditions best. Per-frame min-max is a fallback: it changes the grey level of the same object
    whenever something hotter or colder enters the view.
    """
    values = image.astype(np.float64)
    if mono16_range is None:
        lo = float(values.min())
        hi = float(values.max())
        if hi <= lo:
            return np.zeros(image.shape, dtype=np.uint8)
    else:
        try:
            lo, hi = (float(v) for v in mono16_range)
        except (TypeError, ValueError) as exc:
            raise InputError("thermal_range", f"mono16_range must be two numbers (lo, hi), got {mono16_range!r}") from exc
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise InputError("thermal_range", f"mono16_range must be finite with lo < hi, got ({lo}, {hi})")
    scaled = (np.clip(values, lo, hi) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def encode_thermal(
    image: np.ndarray, encoding: str, mono16_range: tuple[float, float] | None = None
) -> np.ndarray:
    """Encode one thermal frame as the auxiliary image the RGB-T weights saw in training.

    Args:
        image: the frame as a numpy array, laid out as the ROS ``sensor_msgs/Image`` encoding says:

            - ``"mono8"`` (alias ``"8UC1"``): ``(H, W)`` or ``(H, W, 1)`` ``uint8`` grey levels.
            - ``"mono16"`` (alias ``"16UC1"``): ``(H, W)`` or ``(H, W, 1)`` ``uint16``; mapped to 8 bits by
              :func:`mono16_to_mono8` (fixed ``mono16_range`` preferred, per-frame min-max otherwise).
            - ``"rgb8"``: ``(H, W, 3)`` ``uint8`` in RGB order; returned unchanged (a copy). It should be
              a grey frame stored in 3 channels; a false-colour palette image is passed through as is,
              but the weights never saw one.
            - ``"bgr8"``: ``(H, W, 3)`` ``uint8`` in BGR order; converted to RGB.
        encoding: one of the strings above.
        mono16_range: ``(lo, hi)`` for ``"mono16"`` only; ignored for the 8-bit encodings.

    Returns:
        ``(H, W, 3)`` ``uint8``, channel order RGB. For single-channel input the grey level is copied
        to all three channels (``out[..., 0] == out[..., 1] == out[..., 2]``), as LasHeR/RGBT234
        infrared JPEGs are read.

    Raises:
        InputError: ``kind="encoding"`` for an unknown encoding, ``"dtype"`` / ``"shape"`` when the
            array does not match the encoding, ``"empty_image"`` for a zero-size frame,
            ``"thermal_range"`` for a bad ``mono16_range``.
    """
    if not isinstance(encoding, str) or encoding not in THERMAL_ENCODINGS:
        raise InputError(
            "encoding", f"thermal: unsupported encoding {encoding!r}; expected one of {', '.join(THERMAL_ENCODINGS)}"
        )
    encoding = _ENCODING_ALIASES.get(encoding, encoding)
    what = f"thermal {encoding}"
    _check_nonempty(image, what)

    if encoding == "mono8":
        _require_dtype(image, "u", 1, what)
        return grey_to_rgb(single_channel(image, what))
    if encoding == "mono16":
        _require_dtype(image, "u", 2, what)
        grey16 = single_channel(image, what).astype(np.uint16, copy=False)
        return grey_to_rgb(mono16_to_mono8(grey16, mono16_range))

    _require_dtype(image, "u", 1, what)
    _three_channel(image, what)
    if encoding == "rgb8":
        return np.array(image, dtype=np.uint8, order="C", copy=True)
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2RGB)
