"""Depth frames -> the JET colour-mapped auxiliary image SEATrack's RGB-D weights expect.

The RGB-D weights were trained on DepthTrack (tested on DepthTrack and VOT-RGBD), whose depth frames
are 16-bit PNG files in millimetres with 0 meaning "no return". The authors' loader
(``lib/train/dataset/depth_utils.py``, used with ``depth_clip=True`` for both training and testing)
does, per frame:

1. ``max_depth = min(3 * median(depth), 10000)``: the median over *all* pixels, zeros included,
   computed in float64 (``numpy.median`` of the uint16 array).
2. Pixels with ``depth > max_depth`` are set to ``max_depth``. Because the array is uint16 the
   assignment truncates a fractional ``max_depth`` (7.5 -> 7), so in integer terms the frame is clipped
   to ``floor(max_depth)``.
3. ``cv2.normalize(depth, None, alpha=0, beta=255, norm_type=cv2.NORM_MINMAX)`` on the uint16 array,
   zeros included in the minimum. The result stays uint16: ``(v - min) * 255 / (max - min)`` rounded
   half to even by OpenCV's saturating cast; when ``max == min`` OpenCV uses scale 0, so the whole
   frame becomes 0. It is then cast to uint8 (values are already in 0..255).
4. ``cv2.applyColorMap(..., cv2.COLORMAP_JET)``, kept in OpenCV's BGR channel order: the colour map is
   concatenated to the RGB image without a BGR -> RGB conversion, so that is what the network saw.

This module follows those steps, using the same OpenCV calls for steps 3 and 4 so the arithmetic
(rounding, the ``max == min`` case) is OpenCV's own.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from seatrack_ros.errors import InputError
from seatrack_ros.modalities.thermal import single_channel

DEPTH_ENCODINGS = ("16UC1", "32FC1")

# The authors cap the clip at 10 m because targets in DepthTrack and CDTB are almost always nearer.
MAX_CLIP_MM = 10000

_UINT16_MAX = np.iinfo(np.uint16).max


def depth_to_millimetres(depth: np.ndarray, encoding: str) -> np.ndarray:
    """Convert a ROS depth image to the uint16 millimetre frame the weights were trained on.

    Args:
        depth: ``(H, W)`` or ``(H, W, 1)``.

            - ``"16UC1"``: unsigned 16-bit integers (any byte order), millimetres, 0 = no return.
            - ``"32FC1"``: float32 (float64 also accepted), metres. NaN (no return, the ROS
              convention), +/-inf (out of range, REP 117) and values <= 0 are invalid.
        encoding: ``"16UC1"`` or ``"32FC1"``.

    Returns:
        ``(H, W)`` ``uint16`` millimetres. Every invalid pixel becomes 0, which is how the 16-bit
        training files mark "no return". Valid metres are converted as ``rint(m * 1000)`` (half to
        even) and saturated at 65535 mm; a positive depth under 0.5 mm rounds to 0 and so also reads
        as "no return", exactly as it would in a 16-bit file.

    Raises:
        InputError: ``"encoding"``, ``"dtype"``, ``"shape"``, ``"empty_image"`` for malformed input;
            ``"depth_invalid"`` when no pixel holds a valid (non-zero) depth.
    """
    if not isinstance(encoding, str) or encoding not in DEPTH_ENCODINGS:
        raise InputError(
            "encoding", f"depth: unsupported encoding {encoding!r}; expected one of {', '.join(DEPTH_ENCODINGS)}"
        )
    what = f"depth {encoding}"
    if not isinstance(depth, np.ndarray):
        raise InputError("dtype", f"{what}: expected a numpy array, got {type(depth).__name__}")
    if depth.size == 0:
        raise InputError("empty_image", f"{what}: image is empty (shape {depth.shape})")
    depth = single_channel(depth, what)

    if encoding == "16UC1":
        if depth.dtype.kind != "u" or depth.dtype.itemsize != 2:
            raise InputError("dtype", f"{what}: expected uint16 millimetres, got {depth.dtype}")
        millimetres = depth.astype(np.uint16, copy=True)
    else:
        if depth.dtype.kind != "f" or depth.dtype.itemsize not in (4, 8):
            raise InputError("dtype", f"{what}: expected float32 metres, got {depth.dtype}")
        metres = depth.astype(np.float64)
        valid = np.isfinite(metres) & (metres > 0)
        scaled = np.where(valid, metres, 0.0) * 1000.0
        millimetres = np.clip(np.rint(scaled), 0, _UINT16_MAX).astype(np.uint16)

    if not millimetres.any():
        raise InputError("depth_invalid", f"{what}: no pixel holds a valid depth (all zero / NaN / inf / negative)")
    return millimetres


def normalize_depth(depth: np.ndarray, encoding: str) -> np.ndarray:
    """Clip and min-max normalise a depth frame to 8 bits, as the authors do before colour mapping.

    Args:
        depth, encoding: as for :func:`depth_to_millimetres`.

    Returns:
        ``(H, W)`` ``uint8``. ``clip = floor(min(3 * median(mm), 10000))`` over all pixels (zeros
        included), ``mm = min(mm, clip)``, then ``rint((mm - min) * 255 / (max - min))`` with the min
        and max over all pixels (zeros included, so 0 stays 0 whenever any pixel has no return). A
        frame that is constant after clipping (e.g. more than half of it without return, which makes
        the median and therefore the clip 0) gives all zeros, as in the authors' code.
    """
    millimetres = depth_to_millimetres(depth, encoding)
    max_depth = min(float(np.median(millimetres)) * 3.0, float(MAX_CLIP_MM))
    # The authors assign the float clip value into the uint16 array, which truncates it.
    np.minimum(millimetres, np.uint16(math.floor(max_depth)), out=millimetres)
    normalized = cv2.normalize(millimetres, None, alpha=0, beta=255, norm_type=cv2.NORM_MINMAX)
    return normalized.astype(np.uint8)


def encode_depth(depth: np.ndarray, encoding: str) -> np.ndarray:
    """Encode one depth frame as the auxiliary image the RGB-D weights saw in training.

    Args:
        depth: ``(H, W)`` or ``(H, W, 1)``; ``"16UC1"`` uint16 millimetres (0 = no return) or
            ``"32FC1"`` float32 metres (NaN / inf / <= 0 = no return). See :func:`depth_to_millimetres`.
        encoding: ``"16UC1"`` or ``"32FC1"``.

    Returns:
        ``(H, W, 3)`` ``uint8``: ``cv2.applyColorMap(normalize_depth(...), cv2.COLORMAP_JET)`` in
        **BGR** channel order, deliberately not converted to RGB (see the module docstring). Near / no
        return (grey 0) is BGR (128, 0, 0), the far clip (grey 255) is BGR (0, 0, 128).

    Raises:
        InputError: ``"encoding"``, ``"dtype"``, ``"shape"``, ``"empty_image"``, ``"depth_invalid"``.
    """
    return cv2.applyColorMap(normalize_depth(depth, encoding), cv2.COLORMAP_JET)
