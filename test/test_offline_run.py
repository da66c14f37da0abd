"""seatrack-run over synthetic sequences in every benchmark layout, with an injected cheap tracker;
result formats, resuming, refusal without weights; one smoke run of the real network."""


import numpy as np
import pytest

from offline_helpers import (
    EVENT_BGR, RGB_COLOR, THERMAL_BGR, FakeTracker, depth_frame, fake_factory, make_depthtrack_sequence,
    make_gtot_sequence, make_rgbt_sequence, make_visevent_sequence,
)
from seatrack_ros.offline import results, run


def _lines(path):
    return path.read_text().split("\n")[:-1]  # files end with a newline


def test_lasher_results_one_line_per_frame_first_is_init_box(tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    make_rgbt_sequence(data, "a", n=4)
    make_rgbt_sequence(data, "b", n=3)
    trackers = []
    summary = run.run_dataset(data, out, fake_factory(trackers), "lasher", progress=False, log=lambda *_: None)
    assert summary["done"] == ["a", "b"] and summary["frames"] == 3 + 2
    assert _lines(out / "a.txt") == ["10.0000,12.0000,20.0000,16.0000", "12.0000,12.0000,20.0000,16.0000",
                                     "14.0000,12.0000,20.0000,16.0000", "16.0000,12.0000,20.0000,16.0000"]
    assert len(_lines(out / "b.txt")) == 3
    # One fresh tracker per sequence; RGB in RGB order, thermal encoded to RGB order (BGR on disk).
    assert len(trackers) == 2
    kind, rgb, aux, box = trackers[0].calls[0]
    assert kind == "init" and box == (10.0, 12.0, 20.0, 16.0)
    assert np.abs(rgb.reshape(-1, 3).mean(0) - RGB_COLOR).max() < 4
    assert np.abs(aux.reshape(-1, 3).mean(0) - THERMAL_BGR[::-1]).max() < 4
    assert aux.shape == rgb.shape and aux.dtype == np.uint8


def test_gtot_and_rgbt234_layouts_run(tmp_path):
    make_gtot_sequence(tmp_path / "gtot", "BlackCar", n=3)
    make_rgbt_sequence(tmp_path / "rgbt234", "afterrain", n=2, corners=True)
    s1 = run.run_dataset(tmp_path / "gtot", tmp_path / "o1", fake_factory(), progress=False, log=lambda *_: None)
    s2 = run.run_dataset(tmp_path / "rgbt234", tmp_path / "o2", fake_factory(), progress=False,
                         log=lambda *_: None)
    assert s1["benchmark"] == "gtot" and s2["benchmark"] == "rgbt234"
    assert len(_lines(tmp_path / "o1" / "BlackCar.txt")) == 3
    assert _lines(tmp_path / "o2" / "afterrain.txt")[0] == "10.0000,12.0000,20.0000,16.0000"


def test_visevent_skips_leading_absent_frames_and_reads_event_frames_as_rgb(tmp_path):
    make_visevent_sequence(tmp_path / "d", "dvSave", n=5, absent=[1, 1, 0, 0, 0])
    trackers = []
    run.run_dataset(tmp_path / "d", tmp_path / "o", fake_factory(trackers), progress=False, log=lambda *_: None)
    lines = _lines(tmp_path / "o" / "dvSave.txt")
    assert len(lines) == 3  # frames 2, 3, 4
    assert lines[0] == "12.0000,12.0000,20.0000,16.0000"  # ground truth of frame 2
    _, _, aux, _ = trackers[0].calls[0]
    np.testing.assert_array_equal(aux[0, 0], EVENT_BGR[::-1])  # BMP is lossless: exact RGB


def test_depthtrack_writes_vot_longterm_layout_with_confidences(tmp_path):
    make_depthtrack_sequence(tmp_path / "d", "box_darkroom_noocc_1", n=4)
    trackers = []
    run.run_dataset(tmp_path / "d", tmp_path / "o", fake_factory(trackers), progress=False, log=lambda *_: None)
    seq_dir = tmp_path / "o" / "box_darkroom_noocc_1"
    boxes = _lines(seq_dir / "box_darkroom_noocc_1_001.txt")
    conf = _lines(seq_dir / "box_darkroom_noocc_1_001_confidence.value")
    assert boxes == ["1", "12.0000,12.0000,20.0000,16.0000", "14.0000,12.0000,20.0000,16.0000",
                     "16.0000,12.0000,20.0000,16.0000"]
    assert conf == ["", "0.900000", "0.800000", "0.700000"]
    # The depth reached the tracker as the JET colour map of the 16-bit frame (two depth levels ->
    # two distinct colours), not as 8-bit garbage.
    _, _, aux, _ = trackers[0].calls[1]
    assert aux.dtype == np.uint8 and aux.shape == (48, 64, 3)
    raw = depth_frame(1)
    left, right = aux[5, 5], aux[5, 60]
    assert raw[5, 5] != raw[5, 60] and not np.array_equal(left, right)
    read_boxes, read_conf = results.read_vot_longterm(tmp_path / "o", "box_darkroom_noocc_1")
    assert np.isnan(read_boxes[0]).all() and np.isnan(read_conf[0])
    np.testing.assert_allclose(read_conf[1:], [0.9, 0.8, 0.7])


def test_resume_skips_finished_sequences(tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    for name in ("a", "b", "c"):
        make_rgbt_sequence(data, name, n=2)
    run.run_dataset(data, out, fake_factory(), "lasher", progress=False, log=lambda *_: None)
    before = (out / "a.txt").stat().st_mtime_ns
    (out / "b.txt").unlink()
    (out / "c.txt.partial").write_text("garbage from an interrupted run\n")
    (out / "c.txt").unlink()
    trackers = []
    summary = run.run_dataset(data, out, fake_factory(trackers), "lasher", progress=False, log=lambda *_: None)
    assert summary["skipped"] == ["a"] and summary["done"] == ["b", "c"]
    assert len(trackers) == 2
    assert (out / "a.txt").stat().st_mtime_ns == before
    assert not (out / "c.txt.partial").exists()
    assert len(_lines(out / "c.txt")) == 2


def test_cli_refuses_to_run_without_weights(tmp_path, capsys):
    make_rgbt_sequence(tmp_path / "d", "a", n=2)
    with pytest.raises(SystemExit) as exc:
        run.main([str(tmp_path / "d"), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    assert "--test-weights" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.main([str(tmp_path / "d"), "--out", str(tmp_path / "o"), "--checkpoint", "x.pth"])
    assert "--lora" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_with_injected_tracker_and_sequence_filter(tmp_path):
    for name in ("a", "b"):
        make_gtot_sequence(tmp_path / "d", name, n=2)
    rc = run.main([str(tmp_path / "d"), "--out", str(tmp_path / "o"), "--sequences", "b", "--no-progress"],
                  make_tracker=FakeTracker)
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["b.txt"]


def test_cli_reports_a_failing_sequence_and_runs_the_rest(tmp_path, capsys):
    make_rgbt_sequence(tmp_path / "d", "a", n=2)
    bad = make_rgbt_sequence(tmp_path / "d", "b", n=2)
    (bad / "infrared" / "i000002.jpg").write_bytes(b"not a jpeg")
    rc = run.main([str(tmp_path / "d"), "--benchmark", "lasher", "--out", str(tmp_path / "o"), "--no-progress"],
                  make_tracker=FakeTracker)
    assert rc == 1
    assert (tmp_path / "o" / "a.txt").exists() and not (tmp_path / "o" / "b.txt").exists()
    assert "b" in capsys.readouterr().err


def test_real_network_smoke_run_on_two_frames(tmp_path):
    make_rgbt_sequence(tmp_path / "d", "a", n=2)
    rc = run.main([str(tmp_path / "d"), "--benchmark", "lasher", "--out", str(tmp_path / "o"), "--test-weights",
                   "--no-progress"])
    assert rc == 0
    lines = _lines(tmp_path / "o" / "a.txt")
    assert len(lines) == 2 and lines[0] == "10.0000,12.0000,20.0000,16.0000"
    box = np.array([float(v) for v in lines[1].split(",")])
    assert np.isfinite(box).all() and box[2] >= 10 and box[3] >= 10  # clipped boxes keep >= 10 px


def test_unequal_frame_counts_track_the_common_pairs_and_say_so(tmp_path):
    seq = make_rgbt_sequence(tmp_path / "d", "a", n=4)
    (seq / "infrared" / "i000004.jpg").unlink()
    messages = []
    run.run_dataset(tmp_path / "d", tmp_path / "o", fake_factory(), "lasher", progress=False, log=messages.append)
    assert len(_lines(tmp_path / "o" / "a.txt")) == 3
    assert any("4 RGB but 3 X frames" in m for m in messages)
