"""Tracker geometry by hand (crops, mapping back, clipping, size damping) and its error paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seatrack_ros.errors import InputError
from seatrack_ros.geometry.boxes import damp_size, finish_box
from seatrack_ros.model import build_seatrack
from seatrack_ros.model.build import RELEASED_VARIANTS
from seatrack_ros.tracker import SEATracker, TrackerSettings, clip_box, crop_window, map_box_back, sample_crop


def test_crop_window_by_hand():
    # sqrt(40*30)*2 = 69.28 -> 70; x1 = round(140 + 20 - 35) = 125; y1 = round(100 + 15 - 35) = 80
    win = crop_window((140, 100, 40, 30), 2.0, (240, 320))
    assert (win.crop_size, win.x1, win.y1) == (70, 125, 80)
    assert (win.pad_left, win.pad_right, win.pad_top, win.pad_bottom) == (0, 0, 0, 0)


def test_crop_window_uses_bankers_rounding_and_the_border_quirk():
    # crop = ceil(sqrt(4*4)*1) = 4; x1 = round(0.5 + 2 - 2) = round(0.5) = 0 (half to even)
    assert crop_window((0.5, 1.5, 4, 4), 1.0, (10, 10)).x1 == 0
    assert crop_window((0.5, 1.5, 4, 4), 1.0, (10, 10)).y1 == 2  # round(1.5) = 2
    # a crop ending exactly at the right border (x2 = W) still gets one column of padding
    win = crop_window((6, 0, 4, 4), 1.0, (10, 10))
    assert (win.x1, win.pad_right) == (6, 1)


def test_sample_crop_pads_with_zeros_and_drops_the_last_column():
    image = np.full((10, 10, 6), 200, np.uint8)
    crop, factor = sample_crop(image, (6, 3, 4, 4), 1.0, 4)
    assert factor == 1.0
    assert (crop[:, :3] == 200).all() and (crop[:, 3] == 0).all()


@pytest.mark.parametrize("box", [(50, 40, 30, 20), (-12, -8, 30, 20), (95, 70, 30, 20), (0, 0, 120, 90)])
def test_sample_crop_of_two_planes_is_the_crop_of_the_stacked_frame(box):
    rng = np.random.default_rng(1)
    rgb, aux = (rng.integers(0, 256, (90, 120, 3), dtype=np.uint8) for _ in range(2))
    stacked, factor = sample_crop(np.concatenate([rgb, aux], axis=2), box, 4.0, 64)
    planes, planes_factor = sample_crop((rgb, aux), box, 4.0, 64)
    assert planes.shape == (64, 64, 6) and planes_factor == factor
    np.testing.assert_array_equal(planes, stacked)
    # control: the planes in the other order are another crop
    assert not np.array_equal(sample_crop((aux, rgb), box, 4.0, 64)[0], stacked)


def test_clip_box_by_hand():
    assert clip_box([-30.0, 5.0, 20.0, 20.0], 100, 200) == [0, 5.0, 10, 20.0]  # x2 = -10 -> margin 10
    assert clip_box([195.0, 95.0, 20.0, 20.0], 100, 200) == [190, 90, 10, 10]
    assert clip_box([50.0, 40.0, 20.0, 10.0], 100, 200) == [50.0, 40.0, 20.0, 10.0]


def test_map_box_back_by_hand():
    # previous centre (60, 50); crop side 256/2 = 128 px -> origin (-4, -14)
    assert map_box_back((64.0, 64.0, 20.0, 10.0), (50, 45, 20, 10), 256, 2.0) == [50.0, 45.0, 20.0, 10.0]


def test_damp_size_by_hand():
    # predicted (0, 0, 40, 40), centre (20, 20); a quarter of the way from 20x20 to 40x40 is 25x25
    assert damp_size([0.0, 0.0, 40.0, 40.0], (10, 10, 20, 20), 0.25) == [7.5, 7.5, 25.0, 25.0]
    assert damp_size([0.0, 0.0, 40.0, 10.0], (10, 10, 20, 20), 1.0) == [0.0, 0.0, 40.0, 10.0]


def test_finish_box_takes_the_predicted_size_unless_told_to_damp_it():
    # the network's box in the 256 px crop around (50, 45, 20, 10): the crop centre -> image centre
    # (60, 50), size 40x30 px at resize factor 2 (the normalised raw box is crop px / 256)
    raw = torch.tensor([128.0, 128.0, 80.0, 60.0]) / 256
    previous = (50.0, 45.0, 20.0, 10.0)
    authors = finish_box(raw, previous, (480, 640), TrackerSettings(), 2.0)
    assert authors[1] == [40.0, 35.0, 40.0, 30.0]  # the reference's tail: the predicted size as is
    damped = finish_box(raw, previous, (480, 640), TrackerSettings(size_update_rate=0.5), 2.0)
    assert damped[1] == [45.0, 40.0, 30.0, 20.0]  # halfway in size, the same centre
    assert damped[0] == damped[1] and authors[0] == authors[1]  # well inside the image: clipping is a no-op


@pytest.mark.parametrize("rate", [0.0, -0.5, 1.5, float("nan")])
def test_tracker_settings_refuse_a_size_update_rate_outside_0_1(rate):
    with pytest.raises(ValueError, match="size_update_rate"):
        TrackerSettings(size_update_rate=rate)


def test_released_variants_track_with_the_authors_settings_and_the_demo_with_its_own():
    for name in RELEASED_VARIANTS:
        assert SEATracker(build_seatrack(name)).settings == TrackerSettings()
    demo = SEATracker(build_seatrack("demo")).settings
    assert (demo.template_size, demo.search_size, demo.search_factor) == (64, 128, 4.0)
    assert demo.size_update_rate < 1.0
    # a replaced architecture gets the authors' tracker at its own crop sizes, not the variant's extras
    from seatrack_ros.model.backbone import BackboneConfig

    custom = build_seatrack("demo", BackboneConfig(embed_dim=64, depth=2, num_heads=2, fusion_blocks=(1,)))
    assert SEATracker(custom).settings == TrackerSettings()
    # explicit settings win
    assert SEATracker(build_seatrack("demo"), settings=TrackerSettings()).settings == TrackerSettings()


@pytest.fixture(scope="module")
def tracker():
    return SEATracker(build_seatrack())


FRAME = np.zeros((48, 64, 3), np.uint8)


@pytest.mark.parametrize(
    "box,kind",
    [
        ((10, 10, 0, 5), "box"),
        ((10, 10, 5, -1), "box"),
        ((math.nan, 10, 5, 5), "box"),
        ((10, math.inf, 5, 5), "box"),
        ((10, 10, 5), "box"),
        ("abcd", "box"),
        ((64, 10, 5, 5), "box_outside"),
        ((-10, 10, 10, 5), "box_outside"),
        ((10, 48, 5, 5), "box_outside"),
        ((0, 0, 1e200, 1e200), "box"),
        ((0, 0, 129, 20), "box"),
        ((-990, 10, 1000, 0.01), "box"),
        ((30, -20, 1, 21), "box_outside"),  # template window would wrap around the image's top
    ],
)
def test_bad_init_boxes_raise_clear_errors(tracker, box, kind):
    with pytest.raises(InputError) as err:
        tracker.initialize(FRAME, FRAME, box)
    assert err.value.kind == kind
    assert not tracker.initialized


@pytest.mark.parametrize(
    "rgb,aux,kind",
    [
        (FRAME, np.zeros((48, 60, 3), np.uint8), "size_mismatch"),
        (FRAME, np.zeros((48, 64), np.uint8), "image"),
        (FRAME.astype(np.float32), FRAME, "image"),
        (np.zeros((0, 64, 3), np.uint8), np.zeros((0, 64, 3), np.uint8), "empty"),
        ([[0]], FRAME, "image"),
    ],
)
def test_bad_frames_raise_clear_errors(tracker, rgb, aux, kind):
    with pytest.raises(InputError) as err:
        tracker.initialize(rgb, aux, (10, 10, 5, 5))
    assert err.value.kind == kind


def test_track_needs_initialize_and_a_constant_frame_size(unmerged_model):
    tracker = SEATracker(unmerged_model)
    with pytest.raises(RuntimeError, match="before initialize"):
        tracker.track(FRAME, FRAME)
    tracker.initialize(FRAME, FRAME, (10, 10, 20, 20))
    bigger = np.zeros((96, 128, 3), np.uint8)
    with pytest.raises(InputError) as err:
        tracker.track(bigger, bigger)
    assert err.value.kind == "size_change"
    tracker.reset()
    assert not tracker.initialized


def test_input_errors_are_value_errors():
    assert issubclass(InputError, ValueError)
