"""The tracked target as a 3D point, from a depth image registered to the RGB camera.

For RGB-D robots (person following, grasping): given the box in RGB pixels, a depth image in the same
pixel grid (e.g. a RealSense ``aligned_depth_to_color`` stream) and that camera's pinhole intrinsics
(``sensor_msgs/CameraInfo.k``), the point is

- Z: the median of the valid depth pixels in the central part of the box (the central ``fraction`` of
  its width and height; the median ignores the background around a non-rectangular target and
  isolated holes or flying pixels);
- X, Y: the box centre back-projected at that depth, ``X = (u - cx) Z / fx``, ``Y = (v - cy) Z / fy``,

in the camera's optical frame (x right, y down, z forward; metres), the frame named by the depth/RGB
header. Pixel convention: a box (x, y, w, h) uses the continuous image frame in which pixel column i
covers [i, i + 1); the pinhole model puts pixel i's centre at u = i, so the box centre is
u = x + w / 2 - 0.5 (likewise v). Only K is used: the images are assumed rectified (or of negligible
distortion, as registered depth streams usually are); the distortion coefficients are not applied.

Valid depth: finite, > 0 (0 is the drivers' "no return") and within [min_depth, max_depth] metres.
16UC1 images are millimetres (REP 118 allows 16UC1 in mm, 32FC1 in m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from seatrack_ros.errors import InputError

MM_PER_M = 1000.0


@dataclass(frozen=True)
class PinholeIntrinsics:
    """fx, fy, cx, cy in pixels of an image of ``width`` x ``height`` (0: size not given)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class TargetPoint:
    """The point in metres in the camera's optical frame, the median depth it used and the number of
    valid depth pixels behind it."""

    x: float
    y: float
    z: float
    valid_pixels: int


def intrinsics_from_camera_info(k: Sequence[float], width: int = 0, height: int = 0) -> PinholeIntrinsics:
    """PinholeIntrinsics from CameraInfo's row-major 3x3 ``k`` and its image size.

    Raises InputError for a K that is not 9 finite numbers, a focal length <= 0 (an uncalibrated
    camera publishes all zeros) or a principal point outside the image.
    """
    values = np.asarray(k, dtype=np.float64).reshape(-1)
    if values.size != 9 or not np.all(np.isfinite(values)):
        raise InputError("camera_info", f"camera_info k must be 9 finite numbers, got {values.tolist()}")
    fx, fy, cx, cy = float(values[0]), float(values[4]), float(values[2]), float(values[5])
    if fx <= 0 or fy <= 0:
        raise InputError("camera_info", f"camera_info has focal lengths fx={fx}, fy={fy}: not calibrated (need > 0)")
    width, height = int(width), int(height)
    if width < 0 or height < 0:
        raise InputError("camera_info", f"camera_info has a negative image size {width}x{height}")
    if width and height and not (0 <= cx <= width and 0 <= cy <= height):
        raise InputError("camera_info", f"camera_info principal point ({cx}, {cy}) lies outside its {width}x{height} image")
    return PinholeIntrinsics(fx, fy, cx, cy, width, height)


def depth_in_metres(depth: np.ndarray, encoding: str) -> np.ndarray:
    """A 16UC1 (mm) or 32FC1 (m) depth image as float32 metres. Raises InputError for others."""
    if depth.ndim != 2:
        raise InputError("encoding", f"depth image must be single-channel, got shape {depth.shape}")
    if encoding in ("16UC1", "mono16"):
        return depth.astype(np.float32) / np.float32(MM_PER_M)
    if encoding == "32FC1":
        return depth.astype(np.float32, copy=False)
    raise InputError("encoding", f"depth encoding {encoding!r} not supported for the target point (16UC1 or 32FC1)")


def central_window(box: Sequence[float], fraction: float, height: int, width: int
                   ) -> tuple[slice, slice]:
    """Rows and columns of the pixels whose centres lie in the central ``fraction`` of ``box`` (at least
    the pixel holding the box centre), clipped to the image. Raises InputError if the box centre lies
    outside the image."""
    x, y, w, h = (float(v) for v in box)
    cu, cv = x + w / 2.0, y + h / 2.0  # continuous frame: pixel i covers [i, i + 1)
    if not (0.0 <= cu < width and 0.0 <= cv < height):
        raise InputError("box", f"box centre ({cu:.1f}, {cv:.1f}) lies outside the {width}x{height} depth image")

    def span(centre: float, size: float, limit: int) -> slice:
        half = fraction * size / 2.0
        first = math.ceil(centre - half - 0.5)  # first pixel whose centre i + 0.5 >= centre - half
        stop = math.ceil(centre + half - 0.5)  # pixels whose centre < centre + half
        held = int(math.floor(centre))
        first, stop = min(first, held), max(stop, held + 1)
        return slice(max(0, first), min(limit, stop))

    return span(cv, h, height), span(cu, w, width)


def target_point(depth_m: np.ndarray, box: Sequence[float], intrinsics: PinholeIntrinsics,
                 fraction: float = 0.5, min_depth: float = 0.05, max_depth: float = 100.0
                 ) -> Optional[TargetPoint]:
    """The target's point (see the module docstring), or None when the central part of the box holds no
    valid depth.

    depth_m: (H, W) float depth in metres in the RGB camera's pixel grid (see `depth_in_metres`).
    box: (x, y, w, h) in RGB pixels. fraction: in (0, 1], the central part of the box used.
    Raises InputError when the depth image's size differs from the intrinsics' image size, or the box
    centre lies outside the image.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    height, width = depth_m.shape
    if intrinsics.width and intrinsics.height and (intrinsics.width, intrinsics.height) != (width, height):
        raise InputError("size_mismatch", f"depth image is {width}x{height} but its camera_info describes "
                         f"{intrinsics.width}x{intrinsics.height}: the depth must be registered to the RGB camera")
    rows, cols = central_window(box, fraction, height, width)
    patch = depth_m[rows, cols]
    valid = patch[np.isfinite(patch) & (patch >= min_depth) & (patch <= max_depth)]
    if valid.size == 0:
        return None
    z = float(np.median(valid))
    x, y, w, h = (float(v) for v in box)
    u, v = x + w / 2.0 - 0.5, y + h / 2.0 - 0.5  # pinhole frame: pixel i's centre at u = i
    return TargetPoint(x=(u - intrinsics.cx) * z / intrinsics.fx, y=(v - intrinsics.cy) * z / intrinsics.fy,
                       z=z, valid_pixels=int(valid.size))


def registered_target_point(depth: np.ndarray, encoding: str, rgb_hw: tuple[int, int], box: Sequence[float],
                            intrinsics: PinholeIntrinsics, fraction: float = 0.5) -> Optional[TargetPoint]:
    """`target_point` for a decoded depth image (``encoding`` 16UC1 mm or 32FC1 m) that must be
    registered to the RGB image of size ``rgb_hw`` (H, W): a depth image of another size is not in the
    RGB pixel grid, so the RGB box says nothing about its pixels (InputError ``size_mismatch``)."""
    if tuple(depth.shape[:2]) != tuple(rgb_hw):
        raise InputError("size_mismatch", f"depth image is {depth.shape[1]}x{depth.shape[0]} but the RGB image "
                         f"is {rgb_hw[1]}x{rgb_hw[0]}: the target point needs depth registered to the RGB camera")
    return target_point(depth_in_metres(depth, encoding), box, intrinsics, fraction=fraction)
