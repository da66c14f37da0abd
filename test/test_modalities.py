"""Tests for seatrack_ros.modalities: expected values are worked out by hand in each test."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from seatrack_ros.errors import InputError
from seatrack_ros.modalities import (
    EventWindowBuffer,
    count_out_of_range,
    depth_to_millimetres,
    encode_aux,
    encode_depth,
    encode_thermal,
    normalize_depth,
    render_events,
)

WHITE = (255, 255, 255)
ON_RGB = (220, 30, 30)
OFF_RGB = (30, 30, 200)


def assert_input_error(kind, func, *args, **kwargs):
    with pytest.raises(InputError) as info:
        func(*args, **kwargs)
    assert info.value.kind == kind, f"expected kind {kind!r}, got {info.value.kind!r}: {info.value}"
    assert str(info.value)


def jet(grey_levels) -> np.ndarray:
    return cv2.applyColorMap(np.asarray(grey_levels, dtype=np.uint8), cv2.COLORMAP_JET)


# --------------------------------------------------------------------------------------------- thermal


def test_thermal_mono8_copies_grey_to_three_channels():
    grey = np.array([[0, 10], [200, 255]], dtype=np.uint8)
    out = encode_thermal(grey, "mono8")
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], grey)
    np.testing.assert_array_equal(encode_thermal(grey[:, :, None], "mono8"), out)
    np.testing.assert_array_equal(encode_thermal(grey, "8UC1"), out)


def test_thermal_mono16_fixed_range_is_linear_clipped_and_rounds_half_to_even():
    # Range (100, 1120): scale 255 / 1020 = 0.25 exactly, so every expected value is exact.
    raw = np.array([[50, 100, 102, 104], [106, 110, 1120, 60000]], dtype=np.uint16)
    # 50 clips to 100 -> 0; 102 -> 0.5 -> 0 (half to even); 104 -> 1; 106 -> 1.5 -> 2;
    # 110 -> 2.5 -> 2 (half to even); 1120 -> 255; 60000 clips to 1120 -> 255.
    expected = np.array([[0, 0, 0, 1], [2, 2, 255, 255]], dtype=np.uint8)
    out = encode_thermal(raw, "mono16", mono16_range=(100, 1120))
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], expected)


def test_thermal_mono16_per_frame_min_max():
    raw = np.array([[1000, 1100], [1200, 2020]], dtype=np.uint16)  # min 1000, max 2020, scale 0.25
    out = encode_thermal(raw, "mono16")
    np.testing.assert_array_equal(out[:, :, 0], [[0, 25], [50, 255]])
    np.testing.assert_array_equal(out[:, :, 2], [[0, 25], [50, 255]])
    np.testing.assert_array_equal(encode_thermal(raw[:, :, None], "16UC1"), out)


def test_thermal_mono16_accepts_big_endian():
    raw = np.array([[1000, 1100], [1200, 2020]], dtype=np.uint16)
    np.testing.assert_array_equal(encode_thermal(raw.astype(">u2"), "mono16"), encode_thermal(raw, "mono16"))


def test_thermal_mono16_constant_frame_is_zero():
    out = encode_thermal(np.full((3, 4), 4242, dtype=np.uint16), "mono16")
    assert out.shape == (3, 4, 3)
    assert not out.any()


def test_thermal_rgb8_passes_through_and_bgr8_is_swapped():
    image = np.zeros((2, 3, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 20, 30
    out = encode_thermal(image, "rgb8")
    np.testing.assert_array_equal(out, image)
    assert out is not image
    swapped = encode_thermal(image, "bgr8")
    assert tuple(swapped[0, 0]) == (30, 20, 10)


@pytest.mark.parametrize("bad_range", [(5, 5), (10, 2), (float("nan"), 3), (0, float("inf")), ("a", "b"), 7])
def test_thermal_bad_mono16_range(bad_range):
    raw = np.ones((2, 2), dtype=np.uint16)
    assert_input_error("thermal_range", encode_thermal, raw, "mono16", mono16_range=bad_range)


@pytest.mark.parametrize(
    "image, encoding, kind",
    [
        (np.zeros((2, 2), np.uint8), "yuv422", "encoding"),
        (np.zeros((2, 2), np.uint8), None, "encoding"),
        (np.zeros((2, 2), np.uint16), "mono8", "dtype"),
        (np.zeros((2, 2), np.uint8), "mono16", "dtype"),
        (np.zeros((2, 2), np.float32), "mono16", "dtype"),
        (np.zeros((2, 2, 3), np.uint16), "rgb8", "dtype"),
        (np.zeros((2, 2, 3), np.uint8), "mono8", "shape"),
        (np.zeros((2, 2, 2), np.uint16), "mono16", "shape"),
        (np.zeros((2, 2), np.uint8), "rgb8", "shape"),
        (np.zeros((2, 2, 4), np.uint8), "bgr8", "shape"),
        (np.zeros((0, 4), np.uint8), "mono8", "empty_image"),
        ([[1, 2], [3, 4]], "mono8", "dtype"),
    ],
)
def test_thermal_errors(image, encoding, kind):
    assert_input_error(kind, encode_thermal, image, encoding)


# ----------------------------------------------------------------------------------------------- depth


def test_depth_median_clip_and_min_max_by_hand():
    depth = np.array([[0, 1000], [2000, 9000]], dtype=np.uint16)
    # median over all four pixels (zero included) = (1000 + 2000) / 2 = 1500 -> clip 3 * 1500 = 4500,
    # so 9000 -> 4500. Min-max over 0..4500: 1000 * 255 / 4500 = 56.67 -> 57; 2000 -> 113.33 -> 113.
    expected_grey = np.array([[0, 57], [113, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(normalize_depth(depth, "16UC1"), expected_grey)
    out = encode_depth(depth, "16UC1")
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, jet(expected_grey))


def test_depth_output_is_bgr_as_opencv_returns_it():
    depth = np.array([[0, 1000], [2000, 9000]], dtype=np.uint16)
    out = encode_depth(depth, "16UC1")
    # JET maps grey 0 to dark blue and 255 to dark red. In BGR order dark blue is (128, 0, 0) and dark
    # red (0, 0, 128); an RGB conversion would have swapped them.
    assert tuple(out[0, 0]) == (128, 0, 0)
    assert tuple(out[1, 1]) == (0, 0, 128)
    assert tuple(out[1, 1]) == tuple(jet([[255]])[0, 0])


def test_depth_clip_is_capped_at_ten_metres():
    depth = np.array([[0, 4000], [8000, 40000]], dtype=np.uint16)
    # median 6000 -> 3 * 6000 = 18000 > 10000, so the clip is 10000 mm. Then 4000 -> 102, 8000 -> 204.
    # (Without the cap 4000 would map to 4000 * 255 / 18000 = 57.)
    np.testing.assert_array_equal(normalize_depth(depth, "16UC1"), [[0, 102], [204, 255]])


def test_depth_fractional_clip_truncates_and_normalisation_rounds_half_to_even():
    depth = np.array([[1, 2], [3, 100]], dtype=np.uint16)
    # median 2.5 -> clip 7.5, truncated to 7 by the uint16 assignment: [[1, 2], [3, 7]].
    # min 1, max 7: (v - 1) * 255 / 6 -> 0, 42.5 -> 42 (half to even), 85, 255.
    # (Rounding the clip up to 8 would give 0, 36, 73, 255.)
    np.testing.assert_array_equal(normalize_depth(depth, "16UC1"), [[0, 42], [85, 255]])


def test_depth_mostly_no_return_gives_uniform_frame_like_the_authors():
    # median of (0, 0, 0, 5000) is 0, so the clip is 0 and every pixel becomes 0.
    depth = np.array([[0, 0], [0, 5000]], dtype=np.uint16)
    np.testing.assert_array_equal(normalize_depth(depth, "16UC1"), np.zeros((2, 2), np.uint8))
    assert (encode_depth(depth, "16UC1") == np.array([128, 0, 0], np.uint8)).all()


def test_depth_constant_frame_is_zero_not_division_by_zero():
    depth = np.full((3, 2), 700, dtype=np.uint16)
    np.testing.assert_array_equal(normalize_depth(depth, "16UC1"), np.zeros((3, 2), np.uint8))


def test_depth_32fc1_equals_16uc1_after_unit_conversion():
    metres = np.array([[np.nan, 1.0], [2.0, 9.0]], dtype=np.float32)
    millimetres = np.array([[0, 1000], [2000, 9000]], dtype=np.uint16)
    np.testing.assert_array_equal(depth_to_millimetres(metres, "32FC1"), millimetres)
    np.testing.assert_array_equal(encode_depth(metres, "32FC1"), encode_depth(millimetres, "16UC1"))

    rng = np.random.default_rng(3)
    random_mm = rng.integers(0, 12000, size=(24, 32)).astype(np.uint16)
    random_m = (random_mm.astype(np.float64) / 1000.0).astype(np.float32)
    random_m[random_mm == 0] = np.nan
    np.testing.assert_array_equal(depth_to_millimetres(random_m, "32FC1"), random_mm)
    np.testing.assert_array_equal(encode_depth(random_m, "32FC1"), encode_depth(random_mm, "16UC1"))


def test_depth_invalid_values_become_no_return():
    metres = np.array([[np.inf, -1.0], [-np.inf, 2.0], [0.0, np.nan], [70.0, 0.0004]], dtype=np.float32)
    # inf / -inf / negative / NaN / 0 -> 0; 70 m saturates at 65535 mm; 0.4 mm rounds to 0.
    expected = np.array([[0, 0], [0, 2000], [0, 0], [65535, 0]], dtype=np.uint16)
    np.testing.assert_array_equal(depth_to_millimetres(metres, "32FC1"), expected)
    np.testing.assert_array_equal(depth_to_millimetres(metres.astype(np.float64), "32FC1"), expected)


def test_depth_accepts_channel_axis_and_big_endian_and_leaves_input_alone():
    depth = np.array([[0, 1000], [2000, 9000]], dtype=np.uint16)
    reference = encode_depth(depth, "16UC1")
    np.testing.assert_array_equal(encode_depth(depth[:, :, None], "16UC1"), reference)
    np.testing.assert_array_equal(encode_depth(depth.astype(">u2"), "16UC1"), reference)
    np.testing.assert_array_equal(depth, [[0, 1000], [2000, 9000]])  # the 9000 was not clipped in place


@pytest.mark.parametrize(
    "depth, encoding, kind",
    [
        (np.full((2, 2), np.nan, np.float32), "32FC1", "depth_invalid"),
        (np.array([[np.inf, -2.0], [0.0, np.nan]], np.float32), "32FC1", "depth_invalid"),
        (np.zeros((2, 2), np.uint16), "16UC1", "depth_invalid"),
        (np.ones((2, 2), np.uint16), "mono16", "encoding"),
        (np.ones((2, 2), np.uint16), None, "encoding"),
        (np.ones((2, 2), np.float32), "16UC1", "dtype"),
        (np.ones((2, 2), np.int16), "16UC1", "dtype"),
        (np.ones((2, 2), np.uint16), "32FC1", "dtype"),
        (np.ones((2, 2), np.float16), "32FC1", "dtype"),
        (np.ones((2, 2, 3), np.uint16), "16UC1", "shape"),
        (np.ones((4,), np.uint16), "16UC1", "shape"),
        (np.ones((0, 3), np.uint16), "16UC1", "empty_image"),
        ([[1, 2]], "16UC1", "dtype"),
    ],
)
def test_depth_errors(depth, encoding, kind):
    assert_input_error(kind, encode_depth, depth, encoding)


# ---------------------------------------------------------------------------------------------- events


def test_render_events_colours_and_off_wins():
    x = np.array([1, 1, 3, 0, 0])
    y = np.array([0, 0, 2, 3, 3])
    t = np.array([0, 1, 2, 3, 4])
    # pixel (1, 0): two ON events -> flat ON colour; (3, 2): OFF; (0, 3): OFF at t=3 then ON at t=4,
    # still OFF because VisEvent paints all OFF events after all ON events.
    polarity = np.array([1, 1, 0, 0, 1])
    out = render_events(x, y, t, polarity, height=4, width=5)
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    expected = np.full((4, 5, 3), 255, dtype=np.uint8)
    expected[0, 1] = ON_RGB
    expected[2, 3] = OFF_RGB
    expected[3, 0] = OFF_RGB
    np.testing.assert_array_equal(out, expected)


def test_render_events_polarity_conventions_agree():
    x, y, t = np.array([0, 1]), np.array([0, 0]), np.array([0, 1])
    reference = render_events(x, y, t, np.array([1, 0]), 1, 2)
    assert tuple(reference[0, 0]) == ON_RGB and tuple(reference[0, 1]) == OFF_RGB
    np.testing.assert_array_equal(render_events(x, y, t, np.array([True, False]), 1, 2), reference)
    np.testing.assert_array_equal(render_events(x, y, t, np.array([1, -1], np.int8), 1, 2), reference)
    np.testing.assert_array_equal(render_events(x, y, None, np.array([1, 0]), 1, 2), reference)


def test_render_events_time_window_is_half_open():
    x = np.array([0, 1, 2, 3])
    y = np.zeros(4, dtype=np.int64)
    t = np.array([5, 10, 15, 20], dtype=np.int64)
    p = np.ones(4, dtype=bool)
    out = render_events(x, y, t, p, 1, 4, t_start=10, t_end=20)
    assert [tuple(px) for px in out[0]] == [WHITE, ON_RGB, ON_RGB, WHITE]
    out = render_events(x, y, t, p, 1, 4, t_start=15)
    assert [tuple(px) for px in out[0]] == [WHITE, WHITE, ON_RGB, ON_RGB]
    out = render_events(x, y, t, p, 1, 4, t_end=10)
    assert [tuple(px) for px in out[0]] == [ON_RGB, WHITE, WHITE, WHITE]


def test_render_no_events_is_white():
    empty = np.array([], dtype=np.int64)
    out = render_events(empty, empty, empty, np.array([], dtype=bool), 3, 2)
    assert out.shape == (3, 2, 3) and (out == 255).all()


def test_render_events_out_of_range():
    x = np.array([0, 2, -1, 1])
    y = np.array([0, 0, 0, 5])
    t = np.array([0, 1, 2, 3])
    p = np.array([1, 1, 0, 0])
    assert_input_error("event_out_of_range", render_events, x, y, t, p, 2, 2)
    out = render_events(x, y, t, p, 2, 2, drop_out_of_range=True)
    expected = np.full((2, 2, 3), 255, dtype=np.uint8)
    expected[0, 0] = ON_RGB
    np.testing.assert_array_equal(out, expected)
    assert count_out_of_range(x, y, 2, 2) == 3
    # Outside the window, an out-of-range event is ignored rather than an error.
    np.testing.assert_array_equal(render_events(x, y, t, p, 2, 2, t_start=0, t_end=1), expected)
    assert count_out_of_range(x, y, 2, 2, t=t, t_start=0, t_end=2) == 1
    assert count_out_of_range(np.array([0, 1]), np.array([1, 1]), 2, 2) == 0


@pytest.mark.parametrize(
    "args, kwargs, kind",
    [
        (([0, 1], [0], [0, 1], [1, 1], 2, 2), {}, "event_input"),
        (([0, 1], [0, 1], [0], [1, 1], 2, 2), {}, "event_input"),
        (([0, 1], [0, 1], [0, 1], [1], 2, 2), {}, "event_input"),
        ((np.array([0.0, 1.0]), [0, 1], [0, 1], [1, 1], 2, 2), {}, "event_input"),
        ((np.zeros((2, 2), int), np.zeros((2, 2), int), None, np.ones((2, 2), int), 2, 2), {}, "event_input"),
        (([0, 1], [0, 1], None, [1, 0], 2, 2), {"t_start": 0}, "event_input"),
        (([0, 1], [0, 1], ["a", "b"], [1, 0], 2, 2), {"t_start": 0}, "event_input"),
        (([0, 1], [0, 1], [0, 1], [1, 2], 2, 2), {}, "event_polarity"),
        (([0, 1], [0, 1], [0, 1], [0.5, 1.0], 2, 2), {}, "event_polarity"),
        (([0, 1], [0, 1], [0, 1], [1, 0], 2, 2), {"t_start": 5, "t_end": 5}, "event_window"),
        (([0, 1], [0, 1], [0, 1], [1, 0], 0, 2), {}, "shape"),
        (([0, 1], [0, 1], [0, 1], [1, 0], 2, 2.5), {}, "shape"),
    ],
)
def test_render_events_errors(args, kwargs, kind):
    assert_input_error(kind, render_events, *args, **kwargs)


# -------------------------------------------------------------------------------------- window buffer


def as_lists(events):
    return [column.tolist() for column in events]


def test_buffer_take_window_and_discard_older():
    buffer = EventWindowBuffer()
    buffer.add(np.array([0, 1, 2]), np.array([0, 0, 0]), np.array([100, 200, 300], np.int64), np.array([1, 0, 1]))
    buffer.add(np.array([3, 4]), np.array([1, 1]), np.array([400, 500], np.int64), np.array([0, 1]))
    assert len(buffer) == 5 and buffer.newest_t_ns == 500
    x, y, t, p = buffer.take(200, 400)
    assert x.dtype == np.int32 and y.dtype == np.int32 and t.dtype == np.int64 and p.dtype == bool
    assert as_lists((x, y, t, p)) == [[1, 2], [0, 0], [200, 300], [False, True]]
    # t=100 is older than the window and gone; 200..500 stay (windows may overlap).
    assert len(buffer) == 4 and buffer.discarded_before_window == 1
    assert as_lists(buffer.take(400, 600)) == [[3, 4], [1, 1], [400, 500], [False, True]]
    assert len(buffer) == 2 and buffer.discarded_before_window == 3


def test_buffer_take_empty_window_has_typed_arrays():
    buffer = EventWindowBuffer()
    x, y, t, p = buffer.take(0, 10)
    assert (x.size, y.size, t.size, p.size) == (0, 0, 0, 0)
    assert (x.dtype, y.dtype, t.dtype, p.dtype) == (np.int32, np.int32, np.int64, bool)


def test_buffer_handles_out_of_order_packets():
    buffer = EventWindowBuffer()
    buffer.add([10, 11], [0, 0], np.array([100, 110], np.int64), [1, 1])
    buffer.add([5, 6], [0, 0], np.array([50, 60], np.int64), [0, 0])
    x, _, t, _ = buffer.take(50, 105)
    assert sorted(t.tolist()) == [50, 60, 100] and sorted(x.tolist()) == [5, 6, 10]


def test_buffer_max_events_drops_oldest_arrivals():
    buffer = EventWindowBuffer(max_events=5)
    buffer.add([0, 1, 2], [0, 0, 0], np.array([0, 1, 2], np.int64), [1, 1, 1])
    buffer.add([3, 4, 5, 6], [0, 0, 0, 0], np.array([3, 4, 5, 6], np.int64), [0, 0, 0, 0])
    assert len(buffer) == 5 and buffer.dropped_overflow == 2
    assert buffer.take(0, 100)[2].tolist() == [2, 3, 4, 5, 6]
    buffer.add(list(range(8)), [0] * 8, np.arange(10, 18, dtype=np.int64), [1] * 8)
    assert len(buffer) == 5 and buffer.dropped_overflow == 2 + 5 + 3
    assert buffer.take(0, 100)[2].tolist() == [13, 14, 15, 16, 17]


def test_buffer_max_age_drops_stale_events():
    buffer = EventWindowBuffer(max_age_ns=50)
    buffer.add([0, 1], [0, 0], np.array([0, 10], np.int64), [1, 1])
    assert len(buffer) == 2 and buffer.dropped_stale == 0
    buffer.add([2], [0], np.array([100], np.int64), [0])
    assert len(buffer) == 1 and buffer.dropped_stale == 2
    assert buffer.take(0, 200)[2].tolist() == [100]


def test_buffer_copies_input_and_clear():
    x = np.array([1, 2], np.int64)
    buffer = EventWindowBuffer()
    buffer.add(x, [0, 0], np.array([1, 2], np.int64), [True, False])
    x[0] = 99
    assert buffer.take(0, 10)[0].tolist() == [1, 2]
    buffer.clear()
    assert len(buffer) == 0 and buffer.newest_t_ns is None


@pytest.mark.parametrize(
    "args, kind",
    [
        (([0, 1], [0, 1], np.array([0.0, 1.0]), [1, 1]), "event_input"),
        (([0, 1], [0], np.array([0, 1], np.int64), [1, 1]), "event_input"),
        (([0, 1], [0, 1], np.array([0], np.int64), [1, 1]), "event_input"),
        ((np.array([0, 2**40]), [0, 1], np.array([0, 1], np.int64), [1, 1]), "event_input"),
        (([0, 1], [0, 1], np.array([0, 2**63], np.uint64), [1, 1]), "event_input"),
        (([0, 1], [0, 1], np.array([0, 1], np.int64), [1, 3]), "event_polarity"),
    ],
)
def test_buffer_add_errors_store_nothing(args, kind):
    buffer = EventWindowBuffer()
    assert_input_error(kind, buffer.add, *args)
    assert len(buffer) == 0


@pytest.mark.parametrize("bounds", [(10, 10), (10, 5), (0.0, 10), (0, 10.5), (True, 10)])
def test_buffer_take_bad_window(bounds):
    assert_input_error("event_window", EventWindowBuffer().take, *bounds)


@pytest.mark.parametrize("kwargs", [{"max_events": 0}, {"max_events": 2.5}, {"max_age_ns": 0}, {"max_age_ns": -5}])
def test_buffer_bad_config(kwargs):
    assert_input_error("event_buffer_config", EventWindowBuffer, **kwargs)


# ------------------------------------------------------------------------------------------ dispatcher


def test_encode_aux_dispatches_each_modality():
    raw = np.array([[1000, 1100], [1200, 2020]], dtype=np.uint16)
    np.testing.assert_array_equal(
        encode_aux("thermal", raw, "mono16", mono16_range=(1000, 2020))[:, :, 1], [[0, 25], [50, 255]]
    )
    depth = np.array([[0, 1000], [2000, 9000]], dtype=np.uint16)
    np.testing.assert_array_equal(encode_aux("depth", depth, "16UC1"), jet([[0, 57], [113, 255]]))

    events = (np.array([1]), np.array([0]), np.array([5], np.int64), np.array([0]))
    out = encode_aux("event", events, height=1, width=2, t_start=0, t_end=10)
    assert [tuple(px) for px in out[0]] == [WHITE, OFF_RGB]

    bgr_frame = np.full((1, 2, 3), 255, dtype=np.uint8)
    bgr_frame[0, 0] = (30, 30, 220)  # VisEvent ON in BGR
    out = encode_aux("event", bgr_frame, "bgr8")
    assert tuple(out[0, 0]) == ON_RGB and tuple(out[0, 1]) == WHITE
    np.testing.assert_array_equal(encode_aux("event", out, "rgb8"), out)


@pytest.mark.parametrize(
    "args, kwargs, kind",
    [
        (("sonar", np.zeros((2, 2), np.uint8), "mono8"), {}, "modality"),
        (("thermal", np.zeros((2, 2), np.uint8)), {}, "encoding"),
        (("depth", np.ones((2, 2), np.uint16)), {}, "encoding"),
        (("event", np.zeros((2, 2, 3), np.uint8)), {}, "encoding"),
        (("event", np.zeros((2, 2, 3), np.uint8), "mono8"), {}, "encoding"),
        (("event", np.zeros((2, 2, 3), np.uint16), "rgb8"), {}, "dtype"),
        (("event", np.zeros((2, 2), np.uint8), "rgb8"), {}, "shape"),
        (("event", np.zeros((0, 2, 3), np.uint8), "rgb8"), {}, "empty_image"),
        (("event", ([0], [0], [0], [1]), "rgb8"), {"height": 1, "width": 1}, "encoding"),
        (("event", ([0], [0], [1])), {"height": 1, "width": 1}, "event_input"),
        (("event", 5), {"height": 1, "width": 1}, "event_input"),
    ],
)
def test_encode_aux_errors(args, kwargs, kind):
    assert_input_error(kind, encode_aux, *args, **kwargs)


def test_encode_aux_rejects_options_that_do_not_apply():
    with pytest.raises(TypeError):
        encode_aux("depth", np.ones((2, 2), np.uint16), "16UC1", mono16_range=(0, 1))
