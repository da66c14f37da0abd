"""`seatrack-bench` runs on the CPU, prints its table and writes a complete JSON report."""

from __future__ import annotations

import json

import pytest

from seatrack_ros import bench
from seatrack_ros.engine import STAGES


def test_bench_cpu_smoke_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["--device", "cpu", "--tiny-model", "--frames", "2", "--warmup", "1", "--width", "160", "--height", "120"]
    # every operator listed (the ranking by time varies with the machine's load; which operators run does not)
    assert bench.main(argv + ["--cpu-variants", "merged+fused", "--profile-kernels", "1000", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["config"]["device"] == "cpu" and report["config"]["frames"] == 2
    assert report["config"]["half"] is False and report["config"]["cuda_graphs"] is False
    for kind in ("forward", "track"):
        for who in ("candidate", "baseline"):
            summary = report[kind][who]
            assert summary["n"] == 2 and 0 < summary["median_ms"] <= summary["p99_ms"]
    assert set(report["stages"]) == set(STAGES)
    assert report["stages"]["backbone_head"]["median_ms"] > 0
    assert report["cpu_variants_forward"]["merged+fused"]["n"] == 2
    ratio = report["speedup"]["track_median"]
    assert ratio == pytest.approx(report["track"]["baseline"]["median_ms"] / report["track"]["candidate"]["median_ms"])
    kernels = report["kernels"]
    names = [k["name"] for k in kernels["top"]]
    assert kernels["count"] > 20 and len(names) == len(set(names)) >= 4
    assert any("scaled_dot_product_attention" in name for name in names)
    assert "scaled_dot_product_attention" in printed
    assert sum(k["calls"] for k in kernels["top"]) <= kernels["count"]
    assert "track() whole call" in printed and "torch" in printed and report["versions"]["torch"] in printed


def test_series_summary_percentiles():
    series = bench.Series(samples=[float(v) for v in range(1, 101)])
    summary = series.summary()
    assert summary["median_ms"] == 50.5 and summary["p99_ms"] == 99.0 and summary["min_ms"] == 1.0


def test_synthetic_sequence_shapes_and_motion():
    frames, box = bench.synthetic_sequence(320, 240, 4)
    assert len(frames) == 4 and frames[0][0].shape == (240, 320, 3) and frames[0][1].dtype.name == "uint8"
    assert box[2] > 0 and box[3] > 0 and (frames[0][0] != frames[1][0]).any()


@pytest.mark.parametrize("argv", [["--frames", "0"], ["--width", "8"], ["--device", "cuda:0"]])
def test_bench_rejects_bad_options(argv, monkeypatch):
    monkeypatch.setattr(bench.torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit):
        bench.main(["--tiny-model", "--device", "cpu", *argv] if argv[0] != "--device" else ["--tiny-model", *argv])


def test_bench_cpu_compiled_variant(tmp_path, capsys, monkeypatch):
    # "eager" traces the whole network (fullgraph) without generating kernels: the plumbing, fast
    monkeypatch.setattr(bench.TrackEngine, "compile_backend", "eager")
    out = tmp_path / "bench.json"
    argv = ["--device", "cpu", "--tiny-model", "--frames", "2", "--warmup", "0", "--width", "160", "--height", "120"]
    assert bench.main(argv + ["--cpu-variants", "merged", bench.COMPILED_VARIANT, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["cpu_variants_forward"][bench.COMPILED_VARIANT]["n"] == 2
    assert report["cpu_compile"]["backend"] == "eager" and report["cpu_compile"]["compile_s"] > 0
    assert report["cpu_compile"]["score_map_max_abs_diff"] <= 1e-6
    assert report["speedup"][f"forward_median_{bench.COMPILED_VARIANT}"] > 0
    assert f"forward, {bench.COMPILED_VARIANT}" in printed and "eager compile took" in printed


def test_bench_cpu_compiled_variant_failure_keeps_the_rest(tmp_path, capsys, monkeypatch):
    def broken_backend(graph_module, example_inputs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(bench.TrackEngine, "compile_backend", broken_backend)
    out = tmp_path / "bench.json"
    argv = ["--device", "cpu", "--tiny-model", "--frames", "1", "--warmup", "0", "--width", "160", "--height", "120"]
    assert bench.main(argv + ["--cpu-variants", "merged", bench.COMPILED_VARIANT, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert "no compiler here" in report["cpu_compile"]["error"]
    assert set(report["cpu_variants_forward"]) == {"merged"} and report["cpu_variants_forward"]["merged"]["n"] == 1
    assert report["forward"]["candidate"]["n"] == 1 and "variant failed" in printed


def test_bench_cpu_bfloat16_variant(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["--device", "cpu", "--tiny-model", "--frames", "2", "--warmup", "0", "--width", "160", "--height", "120"]
    assert bench.main(argv + ["--cpu-variants", bench.BF16_VARIANT, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["cpu_variants_forward"][bench.BF16_VARIANT]["n"] == 2
    assert set(report["cpu_bf16_units"]) <= {"AMX", "AVX512-BF16"}
    assert f"forward, {bench.BF16_VARIANT}" in printed and "native bfloat16 units of this CPU" in printed


def test_bench_reports_first_frame_extra_sizes_and_operator_count(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["--device", "cpu", "--tiny-model", "--frames", "2", "--warmup", "0", "--width", "160", "--height",
            "120", "--extra-frame", "320x200", "--op-count", "--json", str(out)]
    assert bench.main(argv) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    for who in ("candidate", "baseline"):
        for stage in ("initialize", "first_track"):
            assert report["first_frame"][who][stage]["n"] == 1 and report["first_frame"][who][stage]["median_ms"] > 0
        assert report["track_extra"]["320x200"][who]["n"] == 2
    assert "track_median_320x200" in report["speedup"] and "track() at 320x200" in printed
    ops = report["op_count"]
    assert set(ops["per_stage"]) == {"crop_normalize", "network", "decode"}
    assert ops["kernels_per_frame"] == sum(v["kernel"] for v in ops["per_stage"].values()) > 20
    assert f"{ops['kernels_per_frame']} kernels" in printed
    # without the options, none of it
    assert bench.main(argv[:11] + ["--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["op_count"] is None and report["track_extra"] == {}


@pytest.mark.parametrize("text", ["1920", "axb", "8x8"])
def test_bench_rejects_bad_frame_sizes(text):
    with pytest.raises(SystemExit):
        bench.build_parser().parse_args(["--extra-frame", text])
