"""Dataset layout detection and lazy sequence readers on tiny synthetic sequences in each layout."""

import numpy as np
import pytest

from offline_helpers import (
    EVENT_BGR, RGB_COLOR, THERMAL_BGR, depth_frame, make_depthtrack_sequence, make_gtot_sequence,
    make_rgbt_sequence, make_visevent_sequence,
)
from seatrack_ros.errors import InputError
from seatrack_ros.offline import datasets


def test_lasher_layout_reads_rgb_in_rgb_order_and_thermal_raw_bgr(tmp_path):
    make_rgbt_sequence(tmp_path, "seqB", n=3, newline="\r\n", delimiter="\t")
    make_rgbt_sequence(tmp_path, "seqA", n=2)
    benchmark, seqs = datasets.open_dataset(tmp_path)
    assert benchmark == "lasher"
    assert [s.name for s in seqs] == ["seqA", "seqB"]
    seq = seqs[1]
    assert seq.modality == "thermal"
    assert seq.num_frames == 3
    # CRLF + tab-separated ground truth is parsed.
    np.testing.assert_array_equal(seq.gt, [[10, 12, 20, 16], [11, 12, 20, 16], [12, 12, 20, 16]])
    assert seq.init_box == (10.0, 12.0, 20.0, 16.0)
    frames = list(seq.frames())
    assert [f.index for f in frames] == [0, 1, 2]
    f = frames[0]
    assert f.rgb.dtype == np.uint8 and f.rgb.shape == (48, 64, 3)
    # JPEG is lossy: compare with a small tolerance, but channel order must be RGB.
    assert np.abs(f.rgb.reshape(-1, 3).mean(0) - RGB_COLOR).max() < 4
    assert f.aux_encoding == "bgr8"
    assert np.abs(f.aux.reshape(-1, 3).mean(0) - THERMAL_BGR).max() < 4


def test_rgbt234_corner_ground_truth_is_converted_and_detected(tmp_path):
    gt = [(5, 6, 20, 10), (7, 8, 22, 12)]
    make_rgbt_sequence(tmp_path, "car", n=2, corners=True, gt=gt, gt_i=[(6, 6, 20, 10), (8, 8, 22, 12)])
    benchmark, seqs = datasets.open_dataset(tmp_path)
    assert benchmark == "rgbt234"
    np.testing.assert_array_equal(seqs[0].gt, gt)
    np.testing.assert_array_equal(seqs[0].gt_aux, [[6, 6, 20, 10], [8, 8, 22, 12]])


def test_rgbt234_needs_infrared_ground_truth(tmp_path):
    seq = make_rgbt_sequence(tmp_path, "car", n=2)
    (seq / "infrared.txt").unlink()
    with pytest.raises(InputError) as err:
        datasets.open_sequence(seq, "rgbt234")
    assert err.value.kind == "missing_file"


def test_gtot_corner_boxes_become_xywh(tmp_path):
    make_gtot_sequence(tmp_path, "BlackCar", n=2, gt=[(209, 155, 100, 63), (203, 154, 95, 63)])
    benchmark, seqs = datasets.open_dataset(tmp_path)
    assert benchmark == "gtot"
    # groundTruth_v.txt holds "209 155 309 218": w = x2 - x1 as the authors' GTOT loader.
    np.testing.assert_array_equal(seqs[0].gt, [[209, 155, 100, 63], [203, 154, 95, 63]])
    frame = next(seqs[0].frames())
    np.testing.assert_array_equal(frame.rgb[0, 0], RGB_COLOR)  # PNG: exact
    np.testing.assert_array_equal(frame.aux[0, 0], THERMAL_BGR)


def test_visevent_starts_at_first_present_frame(tmp_path):
    make_visevent_sequence(tmp_path, "dvSave_1", n=5, absent=[1, 1, 0, 0, 1])
    benchmark, seqs = datasets.open_dataset(tmp_path)
    seq = seqs[0]
    assert benchmark == "visevent" and seq.modality == "event"
    assert seq.start == 2
    np.testing.assert_array_equal(seq.absent, [True, True, False, False, True])
    assert seq.init_box == (12.0, 12.0, 20.0, 16.0)
    frames = list(seq.frames())
    assert [f.index for f in frames] == [2, 3, 4]
    assert frames[0].aux_encoding == "bgr8"
    np.testing.assert_array_equal(frames[0].aux[0, 0], EVENT_BGR)


def test_visevent_all_absent_is_refused(tmp_path):
    seq = make_visevent_sequence(tmp_path, "s", n=2, absent=[1, 1])
    with pytest.raises(InputError):
        datasets.open_sequence(seq, "visevent")


def test_depthtrack_depth_stays_16bit_and_nan_rows_are_absent(tmp_path):
    make_depthtrack_sequence(tmp_path, "adapter01_indoor", n=3, absent_frames=(2,))
    benchmark, seqs = datasets.open_dataset(tmp_path)
    seq = seqs[0]
    assert benchmark == "depthtrack" and seq.modality == "depth"
    np.testing.assert_array_equal(seq.absent, [False, False, True])
    assert np.isnan(seq.gt[2]).all()
    frames = list(seq.frames())
    assert frames[1].aux_encoding == "16UC1"
    assert frames[1].aux.dtype == np.uint16
    np.testing.assert_array_equal(frames[1].aux, depth_frame(1))


def test_benchmark_must_match_layout_and_names_must_exist(tmp_path):
    make_gtot_sequence(tmp_path, "a", n=2)
    with pytest.raises(InputError) as err:
        datasets.open_dataset(tmp_path, "lasher")
    assert err.value.kind == "layout"
    with pytest.raises(InputError) as err:
        datasets.open_dataset(tmp_path, "gtot", names=["nope"])
    assert err.value.kind == "missing_sequence"
    with pytest.raises(InputError):
        datasets.open_dataset(tmp_path / "a" / "v")  # a folder of images, not a dataset


def test_load_boxes_rejects_ragged_rows(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_text("1,2,3,4\n1,2,3\n")
    with pytest.raises(InputError):
        datasets.load_boxes(p)
