"""prepare_aux / AuxPreparer: one aux path (encode, then resize or warp to the RGB frame) for all callers."""

from __future__ import annotations

import numpy as np
import pytest

from seatrack_ros.errors import InputError
from seatrack_ros.streams.aux import AuxPreparer, fit_to_rgb, prepare_aux


def test_same_size_is_the_encoder_output():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = prepare_aux("thermal", grey, "mono8", (3, 4))
    assert out.shape == (3, 4, 3) and out.flags.c_contiguous
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], grey)


def test_other_size_is_resized_once_reported():
    said = []
    prepare = AuxPreparer("thermal", info=said.append)
    small = np.full((4, 5), 77, np.uint8)
    out = prepare(small, "mono8", (8, 10))
    assert out.shape == (8, 10, 3) and (out == 77).all()
    prepare(small, "mono8", (8, 10))
    assert said == [
        "aux 5x4 is resized to the RGB size 10x8 (set aux_to_rgb_homography if the cameras are "
        "not pixel-aligned)"
    ]


def test_homography_shifts_and_scales():
    aux = np.zeros((4, 4, 3), np.uint8)
    aux[1, 2] = 200
    # aux px (x, y) -> RGB px (2x + 1, 2y): the bright aux pixel lands at RGB (5, 2)
    matrix = np.array([[2.0, 0, 1], [0, 2.0, 0], [0, 0, 1]])
    out = fit_to_rgb(aux, (8, 8), matrix)
    assert out.shape == (8, 8, 3)
    assert out[2, 5, 0] == 200 and out[2, 5].tolist() == [200, 200, 200]
    assert out[0, 0, 0] == 0 and np.count_nonzero(out[..., 0] == 200) == 1
    assert not np.array_equal(fit_to_rgb(aux, (8, 8)), out)  # negative control: a plain resize differs


def test_mono16_range_and_events_pass_through():
    counts = np.array([[1000, 2000], [3000, 4000]], np.uint16)
    out = prepare_aux("thermal", counts, "mono16", (2, 2), mono16_range=(1000, 4000))
    assert out[0, 0, 0] == 0 and out[1, 1, 0] == 255
    events = (
        np.array([1], np.uint16),
        np.array([0], np.uint16),
        np.array([5], np.int64),
        np.array([1], np.uint8),
    )
    frame = prepare_aux("event", events, None, (4, 6), sensor_hw=(2, 3))
    assert frame.shape == (4, 6, 3)


def test_bad_data_is_an_input_error():
    with pytest.raises(InputError):
        prepare_aux("depth", np.zeros((2, 2), np.uint8), "mono8", (2, 2))
