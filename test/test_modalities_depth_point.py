"""The target's 3D point from registered depth: hand-computed scenes with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from seatrack_ros.errors import InputError
from seatrack_ros.modalities.depth_point import (
    PinholeIntrinsics,
    central_window,
    depth_in_metres,
    intrinsics_from_camera_info,
    target_point,
)

H, W = 480, 640
K = [500.0, 0.0, 319.5, 0.0, 500.0, 239.5, 0.0, 0.0, 1.0]


def intrinsics() -> PinholeIntrinsics:
    return intrinsics_from_camera_info(K, W, H)


def wall(mm: int) -> np.ndarray:
    return np.full((H, W), mm, np.uint16)


def test_box_on_the_optical_axis_is_straight_ahead():
    # centre u = 300 + 20 - 0.5 = 319.5 = cx, v = 200 + 40 - 0.5 = 239.5 = cy
    point = target_point(depth_in_metres(wall(2000), "16UC1"), (300, 200, 40, 80), intrinsics())
    assert (point.x, point.y, point.z) == pytest.approx((0.0, 0.0, 2.0), abs=1e-9)
    assert point.valid_pixels == 20 * 40  # the central half of 40 x 80


def test_off_axis_box_back_projects_with_the_intrinsics():
    # u = 400 + 10 - 0.5 = 409.5 -> X = (409.5 - 319.5) * 2 / 500 = 0.36
    # v = 100 + 10 - 0.5 = 109.5 -> Y = (109.5 - 239.5) * 2 / 500 = -0.52
    point = target_point(depth_in_metres(wall(2000), "16UC1"), (400, 100, 20, 20), intrinsics())
    assert (point.x, point.y, point.z) == pytest.approx((0.36, -0.52, 2.0), abs=1e-6)
    # negative control: the pixel-centre convention matters (u = x + w/2 would give 0.362)
    assert point.x != pytest.approx((410 - 319.5) * 2 / 500, abs=1e-4)


def test_median_of_the_central_part_ignores_background_and_holes():
    depth = np.full((H, W), 3.0, np.float32)  # background at 3 m
    depth[210:270, 300:340] = 1.5  # the target: 40 x 60 px at 1.5 m
    depth[230:235, 310:315] = 0.0  # a hole (no return)
    depth[240, 320] = np.nan
    box = (290, 200, 60, 80)  # the tracker's box is larger than the target
    point = target_point(depth_in_metres(depth, "32FC1"), box, intrinsics(), fraction=0.5)
    assert point.z == pytest.approx(1.5)
    # central half: columns 305..334, rows 220..259 = 30 x 40, minus 25 hole pixels and 1 NaN
    assert point.valid_pixels == 30 * 40 - 25 - 1
    # negative control: the whole box holds more background (2400 px) than target (2400 - 26) -> 3 m
    whole = target_point(depth_in_metres(depth, "32FC1"), box, intrinsics(), fraction=1.0)
    assert whole.z == pytest.approx(3.0)


def test_no_valid_depth_gives_no_point():
    depth = wall(2000)
    depth[200:280, 300:340] = 0
    assert target_point(depth_in_metres(depth, "16UC1"), (300, 200, 40, 80), intrinsics()) is None
    too_far = np.full((H, W), 500.0, np.float32)
    assert target_point(too_far, (300, 200, 40, 80), intrinsics(), max_depth=100.0) is None


def test_central_window_rows_and_columns():
    # box centre 14, half-width 2: pixels whose centres i + 0.5 lie in [12, 16) -> 12..15
    rows, cols = central_window((10, 10, 8, 8), 0.5, 100, 100)
    assert (cols.start, cols.stop, rows.start, rows.stop) == (12, 16, 12, 16)
    # a tiny box still uses the pixel holding its centre
    rows, cols = central_window((10.2, 10.2, 0.5, 0.5), 0.5, 100, 100)
    assert (cols.start, cols.stop) == (10, 11)
    # clipped at the border
    rows, cols = central_window((-20, -20, 40, 40), 1.0, 100, 100)
    assert (cols.start, cols.stop) == (0, 20)


@pytest.mark.parametrize("k, size, message", [
    ([0.0] * 9, (W, H), "not calibrated"),
    (K[:8], (W, H), "9 finite numbers"),
    ([float("nan")] + K[1:], (W, H), "9 finite numbers"),
    ([500.0, 0, 900.0, 0, 500.0, 239.5, 0, 0, 1], (W, H), "outside"),
])
def test_bad_camera_info_is_a_clear_error(k, size, message):
    with pytest.raises(InputError, match=message):
        intrinsics_from_camera_info(k, *size)


def test_depth_of_another_size_or_encoding_is_a_clear_error():
    small = np.full((240, 320), 2.0, np.float32)
    with pytest.raises(InputError, match="registered"):
        target_point(small, (100, 100, 20, 20), intrinsics())
    with pytest.raises(InputError, match="not supported"):
        depth_in_metres(wall(2000), "rgb8")
    with pytest.raises(InputError, match="outside"):
        target_point(depth_in_metres(wall(2000), "16UC1"), (700, 10, 20, 20), intrinsics())
