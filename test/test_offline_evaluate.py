"""seatrack-eval end to end: tables, CSV, plots, several trackers, and reading seatrack-run's output."""

import csv

import pytest

from offline_helpers import fake_factory, make_depthtrack_sequence, make_rgbt_sequence, make_visevent_sequence
from seatrack_ros.offline import evaluate, run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _lasher_dataset(root):
    # Ground truth of "a": constant box; of "b": constant box too (images are not needed to evaluate).
    make_rgbt_sequence(root, "a", n=4, gt=[(10, 10, 20, 20)] * 4)
    make_rgbt_sequence(root, "b", n=2, gt=[(30, 30, 10, 10)] * 2)


def test_compare_two_trackers_on_lasher(tmp_path, capsys):
    data = tmp_path / "LasHeR"
    _lasher_dataset(data)
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    (good / "a.txt").write_text("10,10,20,20\n10,10,20,20\n10,10,20,20\n10,10,20,20\n")
    (good / "b.txt").write_text("30 30 10 10\r\n30 30 10 10\r\n")
    # "bad": frame 0 is replaced by the ground truth; frames 1-3 of "a" are 40 px off; "b" is perfect.
    (bad / "a.txt").write_text("0,0,1,1\n50,10,20,20\n50,10,20,20\n50,10,20,20\n")
    (bad / "b.txt").write_text("30,30,10,10\n30,30,10,10\n")
    out = tmp_path / "eval"
    rc = evaluate.main(["--benchmark", "lasher", "--dataset", str(data), "--results", str(good), f"Bad={bad}",
                        "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "good" in printed and "Bad" in printed
    summary = {r["tracker"]: r for r in _csv(out / "summary.csv")}
    assert float(summary["good"]["PR"]) == pytest.approx(100.0)
    assert float(summary["good"]["SR"]) == pytest.approx(100 * 20 / 21)  # IoU 1 is not > 1
    # Bad: sequence a has PR 1/4, sequence b 1; averaged over sequences.
    assert float(summary["Bad"]["PR"]) == pytest.approx(100 * (0.25 + 1) / 2)
    per_seq = _csv(out / "per_sequence.csv")
    assert len(per_seq) == 4
    assert {(r["tracker"], r["sequence"]): float(r["PR"]) for r in per_seq}[("Bad", "a")] == pytest.approx(25.0)
    for name in ("precision.png", "norm_precision.png", "success.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert "good" in (out / "summary.txt").read_text()


def test_missing_results_fail_unless_allowed(tmp_path, capsys):
    data = tmp_path / "LasHeR"
    _lasher_dataset(data)
    res = tmp_path / "res"
    res.mkdir()
    (res / "a.txt").write_text("10,10,20,20\n" * 4)
    assert evaluate.main(["--benchmark", "lasher", "--dataset", str(data), "--results", str(res)]) == 1
    assert "b" in capsys.readouterr().err
    assert evaluate.main(["--benchmark", "lasher", "--dataset", str(data), "--results", str(res),
                          "--allow-missing", "--no-plots"]) == 0
    assert "1 sequences" in capsys.readouterr().out


def test_visevent_and_depthtrack_read_what_seatrack_run_wrote(tmp_path):
    ve = tmp_path / "VisEvent"
    make_visevent_sequence(ve, "s1", n=5, absent=[1, 0, 0, 1, 0])
    run.run_dataset(ve, tmp_path / "ve_res", fake_factory(), progress=False, log=lambda *_: None)
    [score] = evaluate.evaluate_trackers("visevent", ve, {"fake": tmp_path / "ve_res"})
    # Frames 1, 2, 4 are scored; the target moves 1 px per frame and the fake tracker 2 px from the
    # initialisation on frame 1: errors 0, 1, 3 px -> all hits.
    assert score.per_sequence[0].num_frames == 3
    assert score.overall["PR"] == pytest.approx(1.0)

    dt = tmp_path / "DepthTrack"
    make_depthtrack_sequence(dt, "bag01_indoor", n=4, absent_frames=(3,))
    run.run_dataset(dt, tmp_path / "dt_res", fake_factory(), progress=False, log=lambda *_: None)
    out = tmp_path / "dt_eval"
    assert evaluate.main(["--benchmark", "depthtrack", "--dataset", str(dt), "--results",
                          f"fake={tmp_path / 'dt_res'}", "--out", str(out)]) == 0
    row = _csv(out / "summary.csv")[0]
    # The target moves 1 px per frame, the fake tracker 2 px: frames 1, 2 (visible) are 1 and 2 px off,
    # IoUs 19*16/(640-304) and 18*16/(640-288); frame 3 is absent (IoU 0). Confidences 0.9, 0.8, 0.7:
    # the best F is at threshold 0.8, where P = the mean of the two IoUs and R = their sum over the
    # 3 visible frames (the initialisation frame counts as visible, as in the VOT toolkit).
    iou1, iou2 = 19 * 16 / (640 - 304), 18 * 16 / (640 - 288)
    assert float(row["Pr"]) == pytest.approx(100 * (iou1 + iou2) / 2, abs=1e-3)
    assert float(row["Re"]) == pytest.approx(100 * (iou1 + iou2) / 3, abs=1e-3)
    assert (out / "precision_recall.png").read_bytes()[:8] == PNG_MAGIC
