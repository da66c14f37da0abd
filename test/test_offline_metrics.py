"""Metrics: hand-computed cases, and agreement with the independent ``rgbt`` toolkit on synthetic
result files in the LasHeR, RGBT234 and GTOT layouts it reads."""

import math

import numpy as np
import pytest

from seatrack_ros.errors import InputError
from seatrack_ros.offline import datasets, metrics
from seatrack_ros.offline.results import read_boxes

# ---------------------------------------------------------------------------------------------------
# Hand-computed cases.


def test_iou_and_center_error_by_hand():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], np.float64)
    b = np.array([[5, 0, 10, 10], [20, 0, 10, 10], [3, 4, 10, 10]], np.float64)
    np.testing.assert_allclose(metrics.iou(a, b), [50 / 150, 0.0, (7 * 6) / (200 - 42)])
    np.testing.assert_allclose(metrics.center_error(a, b), [5, 20, 5])
    # Normalised by the ground truth (second argument) size: 5/10 = 0.5 in x.
    np.testing.assert_allclose(metrics.normalized_center_error(a, b)[0], 0.5)


def test_lasher_conventions_by_hand():
    gt = np.array([[10, 10, 20, 20]] * 5, np.float32)
    gt[3] = [0, 10, 20, 20]  # a border-touching row (x = 0): hit for PR/NPR, miss for SR
    pred = np.array([
        [99, 99, 5, 5],        # replaced by the ground truth: perfect
        [16, 10, 20, 20],      # centre error 6, IoU 14*20/(800-280) = 0.538
        [40, 10, 20, 20],      # centre error 30: miss, IoU 0
        [500, 500, 20, 20],    # ground truth invalid here
        [40, 10, 0, 20],       # w = 0: replaced by the previous result (the 500,500 box): miss
    ], np.float32)
    s = metrics.score_lasher_sequence("s", pred, gt)
    assert s.values["PR"] == pytest.approx(3 / 5)  # frames 0, 1, 3
    # NPR: frame 1 normalised error 6/20 = 0.3 > 0.2 -> miss; frames 0 and 3 hit.
    assert s.values["NPR"] == pytest.approx(2 / 5)
    # SR: frame 0 IoU 1 (> every threshold below 1: 20 of 21), frame 1 IoU 0.538 (> 0..0.5: 11 of 21).
    assert s.values["SR"] == pytest.approx((20 + 11) / 21 / 5)


def test_lasher_rounds_results_to_whole_pixels():
    gt = np.array([[10, 10, 20, 20], [10, 10, 20, 20]], np.float32)
    # 30.4 rounds to 30: centre error exactly 20 -> hit. Unrounded it would be 20.4 -> miss.
    pred = np.array([[10, 10, 20, 20], [30.4, 10, 20, 20]], np.float32)
    assert metrics.score_lasher_sequence("s", pred, gt).values["PR"] == 1.0


def test_short_results_are_refused():
    gt = np.zeros((5, 4), np.float32) + 10
    with pytest.raises(InputError) as err:
        metrics.score_lasher_sequence("s", gt[:3], gt)
    assert err.value.kind == "length"


def test_rgbt234_takes_the_better_ground_truth_per_frame():
    gt_v = np.array([[10, 10, 20, 20], [10, 10, 20, 20]], np.float32)
    gt_i = np.array([[10, 10, 20, 20], [40, 10, 20, 20]], np.float32)
    pred = np.array([[12, 10, 20, 20], [41, 10, 20, 20]], np.float32)  # no first-frame replacement
    s = metrics.score_rgbt234_sequence("s", pred, gt_v, gt_i)
    assert s.values["MPR"] == 1.0  # errors 2 and 1 (against infrared)
    iou0, iou1 = 18 * 20 / (800 - 360), 19 * 20 / (800 - 380)
    expected = (sum(iou0 > t for t in metrics.IOU_THRESHOLDS) + sum(iou1 > t for t in metrics.IOU_THRESHOLDS)) / 42
    assert s.values["MSR"] == pytest.approx(expected)


def test_gtot_pools_frames_with_5px_strict_threshold():
    seq_a = datasets.Sequence("a", None, "gtot", np.array([[10, 10, 30, 30]] * 3, float))
    seq_a.gt_aux = seq_a.gt
    seq_b = datasets.Sequence("b", None, "gtot", np.array([[10, 10, 30, 30]], float))
    seq_b.gt_aux = seq_b.gt
    res = {"a": np.array([[10, 10, 30, 30], [15, 10, 30, 30], [14, 10, 30, 30]]),  # errors 0, 5, 4
           "b": np.array([[50, 10, 30, 30]])}
    score = metrics.evaluate("gtot", "t", [seq_a, seq_b], res)
    assert score.overall["MPR"] == pytest.approx(2 / 4)  # 5 px is not < 5; pooled over 4 frames
    # Success curve pooled: frame IoUs 1, 750/1050, 780/1020, 0; trapezoid over 0:0.05:1.
    ious = [1.0, 25 * 30 / 1050, 26 * 30 / 1020, 0.0]
    curve = np.array([np.mean([v > t for v in ious]) for t in metrics.IOU_THRESHOLDS])
    assert score.overall["MSR"] == pytest.approx(np.trapezoid(curve, metrics.IOU_THRESHOLDS))


def test_visevent_drops_absent_frames_and_aligns_skipped_start():
    gt = np.array([[0, 0, 0, 0], [10, 10, 20, 20], [10, 10, 20, 20], [0, 0, 0, 0], [10, 10, 20, 20]], float)
    absent = np.array([True, False, False, True, False])
    # The runner started at frame 1, so the file has 4 rows (frames 1..4).
    pred = np.array([[10, 10, 20, 20], [40, 10, 20, 20], [10, 10, 20, 20], [12, 10, 20, 20]], float)
    s = metrics.score_visevent_sequence("s", pred, gt, absent, start=1)
    assert s.num_frames == 3
    assert s.values["PR"] == pytest.approx(2 / 3)
    sr = (20 + 0 + sum(18 * 20 / 440 > t for t in metrics.IOU_THRESHOLDS)) / 21 / 3
    assert s.values["SR"] == pytest.approx(sr)
    # A full-length file gives the same scores.
    full = np.vstack([[0, 0, 1, 1], pred])
    assert metrics.score_visevent_sequence("s", full, gt, absent, start=1).values == s.values
    with pytest.raises(InputError):
        metrics.score_visevent_sequence("s", pred[:2], gt, absent, start=1)


def test_vot_lt_thresholds_follow_the_toolkit_sampling():
    conf = np.arange(1000, dtype=float) / 1000
    thr = metrics.vot_lt_thresholds(conf)
    assert len(thr) == 100 and thr[0] == math.inf and thr[-1] == -math.inf
    assert np.all(np.diff(thr[1:-1]) < 0)  # decreasing
    assert thr[1] == pytest.approx(0.989)  # sorted desc, first index floor(1000/98) = 10
    few = metrics.vot_lt_thresholds(np.array([0.2, np.nan, 0.9]))
    np.testing.assert_array_equal(few, [math.inf, 0.9, 0.2, -math.inf])


def test_depthtrack_precision_recall_fscore_by_hand():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [np.nan] * 4], float)
    boxes = np.array([[np.nan] * 4, [0, 0, 10, 10], [5, 0, 10, 10], [0, 0, 10, 10]], float)
    conf = np.array([np.nan, 0.9, 0.5, 0.7])
    score = metrics.evaluate_depthtrack("t", [("s", boxes, conf, gt, None)])
    # Frame 0 is never selected but is one of the 3 visible frames (the VOT toolkit's n_visible).
    # Overlaps: 1.0 (conf .9), 1/3 (conf .5), 0 (absent, conf .7). Thresholds inf, .9, .7, .5, -inf:
    #   .9  -> P = 1,          R = 1/3
    #   .7  -> P = 1/2,        R = 1/3
    #   .5  -> P = (4/3)/3,    R = (4/3)/3
    f = lambda p, r: 2 * p * r / (p + r)
    candidates = [f(1, 1 / 3), f(0.5, 1 / 3), f(4 / 9, 4 / 9)]
    assert score.overall["F"] == pytest.approx(max(candidates)) == pytest.approx(0.5)
    assert score.overall["Pr"] == pytest.approx(1.0)
    assert score.overall["Re"] == pytest.approx(1 / 3)


def test_depthtrack_bounds_boxes_to_the_image():
    gt = np.array([[0, 0, 10, 10]] * 2, float)
    boxes = np.array([[0, 0, 10, 10], [-10, 0, 20, 10]], float)
    conf = np.array([np.nan, 1.0])
    bounded = metrics.evaluate_depthtrack("t", [("s", boxes, conf, gt, (100, 100))])
    unbounded = metrics.evaluate_depthtrack("t", [("s", boxes, conf, gt, None)])
    assert bounded.overall["Pr"] == pytest.approx(1.0)  # clipped at x = 0 it is the ground truth
    assert unbounded.overall["Pr"] == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------------
# Agreement with the rgbt package (an independent implementation of the RGB-T toolkits).

rgbt = pytest.importorskip("rgbt")
from rgbt import GTOT, LasHeR, RGBT234  # noqa: E402
from rgbt.utils import RGBT_end, RGBT_start  # noqa: E402

NAMES = ["seq`one", "Tom's", "plain", "fourth", "fifth", "sixth"]


def _synthetic(rng, n):
    """Ground truth (integers, some rows touching the border) and noisy results with edge cases."""
    xy = rng.integers(0, 200, size=(n, 2))
    wh = rng.integers(4, 80, size=(n, 2))
    gt = np.hstack([xy, wh]).astype(float)
    gt[rng.random(n) < 0.1, 0] = 0
    jitter = rng.normal(0, 12, size=(n, 4))
    jitter[:, 2:] *= 0.5
    res = gt + jitter
    res[rng.random(n) < 0.05, 2] = 0  # invalid widths
    res[rng.random(n) < 0.05] += 150  # lost frames
    res = np.round(res, 3)
    return gt, res


def _write(path, arr, delim=","):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(delim.join(f"{v:g}" for v in row) + "\n" for row in arr))


def test_lasher_agrees_with_rgbt(tmp_path):
    rng = np.random.default_rng(1)
    gt_dir, res_dir = tmp_path / "gt" / "lasher_gt", tmp_path / "res"
    attr_dir = tmp_path / "gt" / "AttriSeqsTxt"
    ours = []
    for k, name in enumerate(NAMES):
        n = int(rng.integers(30, 120))
        gt, res = _synthetic(rng, n)
        _write(gt_dir / f"{name}.txt", gt)
        res = np.vstack([res, res[-3:]]) if k == 0 else res  # longer than the ground truth: cut
        _write(res_dir / f"{name}.txt", res, delim=["\t", " ", ","][k % 3])
        _write(attr_dir / f"{name}.txt", np.ones((19, 1)))
        ours.append(metrics.score_lasher_sequence(name, read_boxes(res_dir / f"{name}.txt"),
                                                  datasets.load_boxes(gt_dir / f"{name}.txt")))
    (tmp_path / "list.txt").write_text("\r\n".join(NAMES))
    ref = LasHeR(gt_path=str(gt_dir) + "/", seq_name_path=str(tmp_path / "list.txt"))
    ref("t", str(res_dir))
    for metric, fn in (("PR", ref.PR), ("NPR", ref.NPR), ("SR", ref.SR)):
        assert np.mean([s.values[metric] for s in ours]) == pytest.approx(fn("t")[0], abs=1e-9), metric


def _rgbt234_files(tmp_path, rng):
    gt_root, res_dir = tmp_path / "gt" / "rgbt234_gt", tmp_path / "res"
    seqs, results = [], {}
    for k, name in enumerate(NAMES):
        n = int(rng.integers(30, 120))
        gt_v, res = _synthetic(rng, n)
        gt_i = gt_v + rng.integers(-3, 4, size=gt_v.shape)
        _write(gt_root / name / "visible.txt", gt_v)
        _write(gt_root / name / "infrared.txt", gt_i)
        _write(res_dir / f"{name}.txt", res, delim=[" ", ","][k % 2])
    attr = tmp_path / "gt" / "attr_txt"
    for a in ("BC", "CM", "DEF", "FM", "HO", "LI", "LR", "MB", "NO", "TC", "PO", "SC"):
        _write(attr / f"{a}.txt", np.ones((len(NAMES), 1)))
    _write(attr / "SequencesName.txt", [[0]])
    (attr / "SequencesName.txt").write_text("\n".join(NAMES))
    return gt_root, res_dir, attr / "SequencesName.txt"


def test_rgbt234_agrees_with_rgbt(tmp_path):
    rng = np.random.default_rng(2)
    gt_root, res_dir, names_file = _rgbt234_files(tmp_path, rng)
    _, seqs = datasets.open_dataset(gt_root, "rgbt234", need_frames=False)
    ours = metrics.evaluate("rgbt234", "t", seqs, {s.name: read_boxes(res_dir / f"{s.name}.txt") for s in seqs})
    ref = RGBT234(gt_path=str(gt_root) + "/", seq_name_path=str(names_file))
    ref("t", str(res_dir))
    assert ours.overall["MPR"] == pytest.approx(ref.MPR("t")[0], abs=1e-9)
    assert ours.overall["MSR"] == pytest.approx(ref.MSR("t")[0], abs=1e-9)


def _gtot_files(tmp_path, rng):
    gt_root, res_dir = tmp_path / "gt" / "groundtruth", tmp_path / "res"
    for name in NAMES:
        n = int(rng.integers(30, 120))
        gt, res = _synthetic(rng, n)
        gt[:, 0] = np.maximum(gt[:, 0], 1)
        ltrb = np.hstack([gt[:, :2], gt[:, :2] + gt[:, 2:]])
        _write(gt_root / name / "groundTruth_v.txt", ltrb, " ")
        _write(gt_root / name / "groundTruth_i.txt", ltrb + rng.integers(-2, 3, size=ltrb.shape), " ")
        _write(res_dir / f"{name}.txt", res)
    (tmp_path / "names.txt").write_text("\n".join(NAMES))
    return gt_root, res_dir, tmp_path / "names.txt"


def test_gtot_agrees_with_rgbt_in_its_corrected_box_mode(tmp_path):
    rng = np.random.default_rng(3)
    gt_root, res_dir, names_file = _gtot_files(tmp_path, rng)
    _, seqs = datasets.open_dataset(gt_root, "gtot", need_frames=False)
    ours = metrics.evaluate("gtot", "t", seqs, {s.name: read_boxes(res_dir / f"{s.name}.txt") for s in seqs})
    # rgbt documents that GTOT must be loaded between RGBT_start()/RGBT_end() so that corner boxes
    # become w = x2 - x1 (as the authors' loader and ours do).
    RGBT_start()
    try:
        ref = GTOT(gt_path=str(gt_root) + "/", seq_name_path=str(names_file))
        ref("t", str(res_dir))
        ref_mpr, ref_msr = ref.MPR("t")[0], ref.MSR("t")[0]
    finally:
        RGBT_end()
    assert ours.overall["MPR"] == pytest.approx(ref_mpr, abs=1e-9)
    assert ours.overall["MSR"] == pytest.approx(ref_msr, abs=1e-9)
    # Without RGBT_start() rgbt makes ground-truth boxes one pixel larger (w = x2 - x1 + 1) while
    # results keep their size: centres move by half a pixel and IoUs change, so both scores move.
    strict = GTOT(gt_path=str(gt_root) + "/", seq_name_path=str(names_file))
    strict("t", str(res_dir))
    assert abs(ours.overall["MSR"] - strict.MSR("t")[0]) > 1e-4
