"""`seatrack-bench`: how fast the tracker runs on a device, against the plain float32 baseline.

Measured in one process, interleaved frame by frame so that load from other programs hits both alike:

- candidate: the tracker as shipped. On CUDA: `SEATracker` on the GPU pipeline (own stream, GPU crop,
  merged LoRA, fused attention, ``--half``, ``--cuda-graphs``). On the CPU: the host-crop pipeline with
  merged LoRA and fused attention, float32.
- baseline: the same weights in plain float32 eager mode with LoRA unmerged (the update rebuilt and
  applied as a second full-size matmul per qkv, the reference's training-mode arithmetic), attention
  op by op, host crop, the template re-embedded by every forward (in the ``forward`` measurement).
  The reference's own inference merges LoRA in eval(); the CPU variant ``merged`` is that arithmetic,
  so its ratio shows how much of the speed-up comes from merging alone.

Reported per measurement: median, p99 and mean over N frames after a warm-up, in milliseconds:
``forward`` (network only, batch 1), ``track`` (the whole `track()` call on a WxH frame) and the
candidate's stages (host_to_device, crop_normalize, backbone_head, decode, device_to_host). Weights are
the deterministic test weights unless ``--checkpoint`` is given (timing does not depend on them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .engine.cuda_tracker import STAGES, TrackEngine, compile_static, error_line
from .engine.precision import prepare_model
from .cli import add_lora_merged_option, resolve_lora_merged
from .errors import CheckpointError, ConfigError
from .model import VARIANTS, build_tiny_model, load_seatrack, select_device  # noqa: F401 (build_tiny_model: kept importable here)
from .testing import synthetic_pairs
from .tracker import SEATracker

CPU_VARIANTS = {
    # name: (merge LoRA, attention impl, torch threads or 0 = unchanged); each is timed on the network
    # forward against the baseline, interleaved with it.
    "merged": (True, "math", 0),
    "fused": (False, "fused", 0),
    "merged+fused": (True, "fused", 0),
    "1thread": (False, "math", 1),
}
# A separate merged, fused copy of the network compiled as the engine's compile_network does
# (compile_static with TrackEngine.compile_backend) before the timing starts; the compile time is reported, not timed with the frames.
COMPILED_VARIANT = "merged+fused+compiled"
# A separate copy prepared for the CPU in bfloat16 (the half policy with its float32 islands and the exact
# fewer-kernel rewrites, as SEATracker(precision="bfloat16") runs it); the report names the CPU's native
# bfloat16 units (none: emulated, usually slower than float32).
BF16_VARIANT = "bfloat16"


@dataclass
class Series:
    """Per-frame timings of one measurement, milliseconds."""

    samples: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        if not self.samples:
            return {"n": 0}
        ordered = sorted(self.samples)
        p99_index = min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)
        return {
            "n": len(ordered),
            "median_ms": statistics.median(ordered),
            "p99_ms": ordered[p99_index],
            "mean_ms": statistics.fmean(ordered),
            "min_ms": ordered[0],
        }


def synthetic_sequence(width: int, height: int, count: int, seed: int = 0) -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple]:
    """``count`` (rgb, aux) HxWx3 uint8 frames of the synthetic moving target (`seatrack_ros.testing`)
    and its initial (x, y, w, h) box."""
    return synthetic_pairs(count, height, width, "thermal", seed)


def _versions(device: torch.device) -> dict[str, str]:
    import cv2

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "torch_threads": str(torch.get_num_threads()),
        "machine": platform.machine(),
        "processor": _cpu_name(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(
            device_name=props.name,
            cuda=str(torch.version.cuda),
            cudnn=str(torch.backends.cudnn.version()),
            multiprocessors=str(props.multi_processor_count),
            gpu_memory_gib=f"{props.total_memory / 2**30:.1f}",
        )
    else:
        info["device_name"] = f"CPU ({_cpu_name()}, {torch.get_num_threads()} torch threads)"
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class _Timer:
    """Wall-clock timer that waits for the device before reading the clock."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @contextlib.contextmanager
    def measure(self, series: Series | None):
        self.sync()
        start = time.perf_counter()
        yield
        self.sync()
        if series is not None:
            series.samples.append((time.perf_counter() - start) * 1e3)


def _load_model(args, merge: bool) -> torch.nn.Module:
    variant = "tiny" if args.tiny_model else args.variant
    return load_seatrack(variant, args.checkpoint, args.lora_merged, merge=merge)


def run_benchmark(args) -> dict:
    """Run the benchmark described by parsed ``args``; returns the report dict (also printed)."""
    device = select_device(args.device)
    on_cuda = device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    frames_n = args.frames if args.frames is not None else (200 if on_cuda else 3)
    warmup = args.warmup if args.warmup is not None else (20 if on_cuda else 1)
    half = on_cuda if args.half is None else args.half
    graphs = on_cuda if args.cuda_graphs is None else args.cuda_graphs
    total = warmup + frames_n
    frames, init_box = synthetic_sequence(args.width, args.height, min(total + 1, 64), seed=args.seed)

    baseline_model = _load_model(args, merge=False)  # LoRA as a separate term, attention op by op
    baseline_model.set_attention_impl("math")
    candidate_model = _load_model(args, merge=True)
    timer = _Timer(device)

    if on_cuda and half and args.residual_float32:
        prepare_model(candidate_model, device, torch.float16, residual_float32=True)
    # on the CPU the host backend runs the shipped kernels when asked (the CUDA pipeline selects them itself)
    # On CUDA the candidate runs as users run it (one graph per frame); the per-stage times come from a
    # second, profiled tracker on the same model (profiling captures one graph per stage, with events
    # between them). On the CPU profiling changes nothing, so the candidate reports its own stages.
    candidate = SEATracker(
        candidate_model, device, half=half, cuda_graphs=graphs, profile=not on_cuda, compile_network=args.compile,
        attention=None if on_cuda else "fused",
    )
    profiled = candidate if not on_cuda else SEATracker(
        candidate_model, device, half=half, cuda_graphs=graphs, profile=True, compile_network=args.compile)
    baseline = SEATracker(baseline_model, device, gpu_pipeline=False)
    # First frames apart from the steady state: initialize() (template, and on CUDA the graph capture)
    # and the first track() (whatever is still set up lazily).
    first = {"candidate": {"initialize": Series(), "first_track": Series()},
             "baseline": {"initialize": Series(), "first_track": Series()}}
    rgb0, aux0 = frames[0]
    for name, tracker in (("candidate", candidate), ("baseline", baseline)):
        with timer.measure(first[name]["initialize"]):
            tracker.initialize(rgb0, aux0, init_box)
        with timer.measure(first[name]["first_track"]):
            tracker.track(*frames[1])
    if profiled is not candidate:
        profiled.initialize(rgb0, aux0, init_box)

    stages = {name: Series() for name in STAGES}

    def record_stages() -> None:
        for name, ms in profiled.stage_times().items():
            stages[name].samples.append(ms)

    timed = {"baseline": baseline, "candidate": candidate}
    if profiled is not candidate:
        timed["profiled"] = profiled  # its own times are not reported: only its stages
    track = _time_tracks(timed, frames, total, warmup, timer, record_stages)
    track.pop("profiled", None)

    # Other frame sizes (e.g. 1920x1080): the whole track() call only, the same two trackers' models.
    track_extra = {}
    for width, height in args.extra_frame or []:
        extra_frames, extra_box = synthetic_sequence(width, height, min(total + 1, 64), seed=args.seed)
        pair = {
            "baseline": SEATracker(baseline_model, device, gpu_pipeline=False),
            "candidate": SEATracker(candidate_model, device, half=half, cuda_graphs=graphs,
                                    attention=None if on_cuda else "fused"),
        }
        for tracker in pair.values():
            tracker.initialize(*extra_frames[0], extra_box)
        series = _time_tracks(pair, extra_frames, total, warmup, timer)
        track_extra[f"{width}x{height}"] = {k: v.summary() for k, v in series.items()}

    # Network only, batch 1: the baseline as the authors time it (template + search in, float32 eager).
    forward = {"candidate": Series(), "baseline": Series()}
    template = baseline.normalize(baseline.template_crop)
    search = baseline.normalize(baseline.last_search_crop)
    variants = {name: Series() for name in (args.cpu_variants if not on_cuda else [])}
    compiled_model, compile_report = None, None
    if COMPILED_VARIANT in variants:
        compiled_model, compile_report = _compile_copy(args, template, search)
        if compiled_model is None:
            del variants[COMPILED_VARIANT]
    bf16_model, bf16_units = None, None
    if BF16_VARIANT in variants:
        from .engine.cpu_precision import native_bf16_units

        bf16_model = prepare_model(_load_model(args, merge=True), "cpu", torch.bfloat16)
        bf16_units = native_bf16_units()
        template_bf16, search_bf16 = template.to(torch.bfloat16), search.to(torch.bfloat16)
    with torch.no_grad():
        for i in range(total):
            keep = i >= warmup
            with timer.measure(forward["baseline"] if keep else None):
                baseline_model(template, search)
            with timer.measure(forward["candidate"] if keep else None):
                if candidate.engine is not None:
                    candidate.engine.network_forward()
                else:
                    candidate_model(None, search, template_tokens=candidate.template_tokens)
            for name, series in variants.items():
                if name == COMPILED_VARIANT:
                    with timer.measure(series if keep else None):
                        compiled_model(template, search)
                    continue
                if name == BF16_VARIANT:
                    with timer.measure(series if keep else None):
                        bf16_model(template_bf16, search_bf16)
                    continue
                merge, impl, threads = CPU_VARIANTS[name]
                _set_variant(baseline_model, merge, impl)
                saved_threads = torch.get_num_threads()
                if threads:
                    torch.set_num_threads(threads)
                with timer.measure(series if keep else None):
                    baseline_model(template, search)
                torch.set_num_threads(saved_threads)
                _set_variant(baseline_model, False, "math")

    engine = candidate.engine
    kernels = None
    if args.profile_kernels:
        try:
            kernels = profile_network(candidate, search, device, args.profile_kernels)
        except Exception as exc:  # the profiler is an extra; the timings above stand without it
            kernels = {"error": f"{type(exc).__name__}: {exc}"}
    report = {
        "config": {
            "device": str(device),
            "width": args.width,
            "height": args.height,
            "frames": frames_n,
            "warmup": warmup,
            "half": candidate.half,
            "cuda_graphs": candidate.cuda_graphs,
            "compiled": candidate.compiled,
            "requested_half": half,
            "requested_compile": args.compile,
            "requested_cuda_graphs": graphs,
            "gpu_pipeline": engine is not None,
            "residual_float32": bool(on_cuda and half and args.residual_float32),
            "host_crops": engine.host_crops if engine is not None else None,
            "weights": "tiny smoke-test network" if args.tiny_model or args.variant == "tiny" else (args.checkpoint or "deterministic test weights"),
        },
        "versions": _versions(device),
        "forward": {k: v.summary() for k, v in forward.items()},
        "track": {k: v.summary() for k, v in track.items()},
        "stages": {k: v.summary() for k, v in stages.items()},
        "cpu_variants_forward": {k: v.summary() for k, v in variants.items()},
        "cpu_compile": compile_report,
        "cpu_bf16_units": bf16_units,
        "kernels": kernels,
        "first_frame": {k: {stage: v.summary() for stage, v in d.items()} for k, d in first.items()},
        "track_extra": track_extra,
        "op_count": count_operators(args) if args.op_count else None,
    }
    report["speedup"] = {
        "forward_median": _ratio(report["forward"]),
        "track_median": _ratio(report["track"]),
        **{f"forward_median_{k}": _ratio({"baseline": report["forward"]["baseline"], "candidate": v}) for k, v in report["cpu_variants_forward"].items()},
        **{f"track_median_{k}": _ratio(v) for k, v in track_extra.items()},
    }
    return report


def _time_tracks(trackers: dict, frames: list, total: int, warmup: int, timer: "_Timer",
                 after_kept_frame=None) -> dict[str, Series]:
    """Time ``track()`` of each tracker (name -> SEATracker, initialised on ``frames[0]``) on ``total``
    frames cycling through ``frames[1:]``, interleaved frame by frame in the order given; the first
    ``warmup`` are not kept. ``after_kept_frame()`` runs after each kept frame."""
    series = {name: Series() for name in trackers}
    for i in range(total):
        rgb, aux = frames[1 + i % (len(frames) - 1)]
        keep = i >= warmup
        for name, tracker in trackers.items():
            with timer.measure(series[name] if keep else None):
                tracker.track(rgb, aux)
        if keep and after_kept_frame is not None:
            after_kept_frame()
    return series


def count_operators(args) -> dict:
    """Kernels (and views, allocations) one steady-state engine frame dispatches, per stage: the float16
    engine path counted on the CPU (`seatrack_ros.engine.opcount`, attention as one kernel as on CUDA;
    scripts/count_ops.py compares with the engine before the rewrites)."""
    from .engine.opcount import KINDS, count_engine_frame

    counters = count_engine_frame(_load_model(args, merge=False), collapse=True, maps_only=True,
                                  attention_as_one=True)
    per_stage = {stage: {kind: sum(1 for r in c.records if r[1] == kind) for kind in KINDS}
                 for stage, c in counters.items()}
    return {"per_stage": per_stage, "kernels_per_frame": sum(v["kernel"] for v in per_stage.values())}


def profile_network(candidate: SEATracker, search: torch.Tensor, device: torch.device, top: int) -> dict:
    """What one eager forward of the candidate's network launches (after the timed runs).

    On CUDA: the device kernels and copies (a graph replay launches the same ones); on the CPU: the
    operators. Returns the total count and the ``top`` entries by total time.
    """
    from torch.profiler import ProfilerActivity, profile

    on_cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_cuda else [])
    with profile(activities=activities) as prof:
        if candidate.engine is not None:
            candidate.engine.network_forward_eager()
        else:
            with torch.no_grad():
                candidate.model(None, search, template_tokens=candidate.template_tokens)
    events = [e for e in prof.events() if (e.device_type == torch.autograd.DeviceType.CUDA) == on_cuda]
    if not on_cuda:  # top-level operators only: nested ones are counted in their callers
        events = [e for e in events if e.cpu_parent is None]
    totals: dict[str, list[float]] = {}
    for e in events:
        time_us = e.device_time_total if on_cuda else e.cpu_time_total
        entry = totals.setdefault(e.name, [0, 0.0])
        entry[0] += 1
        entry[1] += time_us
    ranked = sorted(totals.items(), key=lambda item: -item[1][1])[:top]
    return {
        "what": "device kernels and copies" if on_cuda else "top-level CPU operators",
        "count": len(events),
        "total_ms": sum(v[1] for v in totals.values()) / 1e3,
        "top": [{"name": name, "calls": calls, "total_ms": us / 1e3} for name, (calls, us) in ranked],
    }


def _compile_copy(args, template: torch.Tensor, search: torch.Tensor) -> tuple[torch.nn.Module | None, dict]:
    """A merged, fused copy of the network compiled for these inputs' shapes, and how that went.

    Returns (None, {"error": ...}) when compiling fails: the other measurements stand without it.
    """
    model = _load_model(args, merge=True)
    model.set_attention_impl("fused")
    start = time.perf_counter()
    try:
        with torch.no_grad():
            compiled = compile_static(model, TrackEngine.compile_backend, template, search)
            compile_s = time.perf_counter() - start
            compiled_score = compiled(template, search)["score_map"]
            eager_score = model(template, search)["score_map"]
    except Exception as exc:
        return None, {"error": error_line(exc)}
    # a speed-up of a different computation would mean nothing: report how far the outputs moved
    score_diff = (compiled_score - eager_score).abs().max().item()
    return compiled, {"backend": TrackEngine.compile_backend, "compile_s": compile_s, "score_map_max_abs_diff": score_diff}


def _set_variant(model, merge: bool, impl: str) -> None:
    if merge:
        model.merge_lora()
    else:
        for layer in model.lora_layers():
            layer.unmerge()
    model.set_attention_impl(impl)


def _ratio(pair: dict) -> float | None:
    base, cand = pair["baseline"].get("median_ms"), pair["candidate"].get("median_ms")
    if not base or not cand:
        return None
    return base / cand


def format_report(report: dict) -> str:
    """Human-readable table of a report from `run_benchmark`."""
    cfg, ver = report["config"], report["versions"]
    lines = [
        f"seatrack-bench on {ver['device_name']} ({cfg['device']}), frame {cfg['width']}x{cfg['height']}, "
        f"N={cfg['frames']} after {cfg['warmup']} warm-up",
        "versions: " + ", ".join(f"{k} {v}" for k, v in ver.items() if k not in ("device_name",)),
        f"candidate: half={cfg['half']} cuda_graphs={cfg['cuda_graphs']} compiled={cfg['compiled']} "
        f"gpu_pipeline={cfg['gpu_pipeline']} "
        "merged LoRA, fused attention; baseline: float32 eager, unmerged LoRA, op-by-op attention",
        f"{'measurement':<34}{'median ms':>12}{'p99 ms':>12}{'base median':>13}{'base p99':>11}{'speedup':>9}",
    ]

    def row(name, cand, base=None):
        ratio = (base["median_ms"] / cand["median_ms"]) if base and base.get("median_ms") and cand.get("median_ms") else None
        base_med = f"{base['median_ms']:13.3f}" if base else f"{'':13}"
        base_p99 = f"{base['p99_ms']:11.3f}" if base else f"{'':11}"
        ratio_s = f"{ratio:8.2f}x" if ratio else f"{'':9}"
        if not cand.get("n"):
            return f"{name:<34}{'n/a':>12}"
        return f"{name:<34}{cand['median_ms']:12.3f}{cand['p99_ms']:12.3f}{base_med}{base_p99}{ratio_s}"

    lines.append(row("forward (network, batch 1)", report["forward"]["candidate"], report["forward"]["baseline"]))
    for name, summary in report["cpu_variants_forward"].items():
        lines.append(row(f"  forward, {name}", summary, report["forward"]["baseline"]))
    lines.append(row("track() whole call", report["track"]["candidate"], report["track"]["baseline"]))
    for size, pair in report.get("track_extra", {}).items():
        lines.append(row(f"  track() at {size}", pair["candidate"], pair["baseline"]))
    for name, summary in report["stages"].items():
        lines.append(row(f"  stage {name}", summary))
    for name, stages_ in report.get("first_frame", {}).items():
        lines.append(f"first frame, {name}: initialize() {stages_['initialize'].get('median_ms', 0):.1f} ms, "
                     f"first track() {stages_['first_track'].get('median_ms', 0):.1f} ms (not in the rows above)")
    ops = report.get("op_count")
    if ops:
        lines.append(f"operators per engine frame (float16 plan, counted on the CPU): {ops['kernels_per_frame']} kernels; "
                     + ", ".join(f"{stage} {v['kernel']}" for stage, v in ops["per_stage"].items()))
    if report.get("cpu_bf16_units") is not None:
        units = ", ".join(report["cpu_bf16_units"]) or "none (emulated, usually slower than float32)"
        lines.append(f"{BF16_VARIANT} variant: native bfloat16 units of this CPU: {units}")
    compile_report = report.get("cpu_compile")
    if compile_report and "error" in compile_report:
        lines.append(f"compiling the {COMPILED_VARIANT} variant failed: {compile_report['error']}")
    elif compile_report:
        lines.append(
            f"{COMPILED_VARIANT}: {compile_report['backend']} compile took {compile_report['compile_s']:.1f} s (not timed "
            f"above); score map max abs diff to the same network uncompiled {compile_report['score_map_max_abs_diff']:.1e}"
        )
    kernels = report.get("kernels")
    if kernels and "error" in kernels:
        lines.append(f"kernel profile failed: {kernels['error']}")
    elif kernels:
        lines.append(f"one eager network forward: {kernels['count']} {kernels['what']}, {kernels['total_ms']:.3f} ms in all")
        for k in kernels["top"]:
            lines.append(f"  {k['total_ms']:9.3f} ms {k['calls']:5d}x  {k['name'][:100]}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seatrack-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: cuda when available)")
    parser.add_argument("--width", type=int, default=640, help="frame width in px (default 640)")
    parser.add_argument("--height", type=int, default=512, help="frame height in px (default 512)")
    parser.add_argument("--frames", type=int, default=None, help="timed frames (default 200 on CUDA, 3 on CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed frames first (default 20 on CUDA, 1 on CPU)")
    parser.add_argument("--half", action=argparse.BooleanOptionalAction, default=None, help="float16 candidate (default: on CUDA)")
    parser.add_argument(
        "--cuda-graphs", action=argparse.BooleanOptionalAction, default=None, help="CUDA graphs for the candidate (default: on CUDA)"
    )
    parser.add_argument(
        "--residual-float32", action="store_true", help="half candidate keeps its residual stream float32 (slower, closer)"
    )
    parser.add_argument(
        "--compile", action="store_true", help="CUDA candidate compiles its network with torch.compile first"
    )
    parser.add_argument(
        "--profile-kernels", type=int, default=0, metavar="N",
        help="also profile one eager network forward: kernel count and the N costliest (default: off)",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument(
        "--cpu-variants",
        nargs="*",
        default=[],
        choices=sorted(CPU_VARIANTS) + [COMPILED_VARIANT, BF16_VARIANT],
        help="on CPU, also time the network forward with these changes to the baseline",
    )
    parser.add_argument("--variant", default="rgbt", choices=tuple(VARIANTS),
                        help="model variant from the registry (default rgbt; timing does not depend on it)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint file (default: deterministic test weights)")
    add_lora_merged_option(parser, " (default: the convention of the variant's released file)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic sequence")
    parser.add_argument(
        "--tiny-model", action="store_true", help="the registry's tiny variant: a 2-block narrow network (smoke tests only)"
    )
    parser.add_argument("--json", default=None, help="also write the report as JSON to this path")
    parser.add_argument("--extra-frame", type=_frame_size, action="append", metavar="WxH",
                        help="also time track() at this frame size, e.g. 1920x1080 (repeatable)")
    parser.add_argument("--op-count", action="store_true",
                        help="also count the operators of one engine frame (float16 plan, on the CPU)")
    return parser


def _frame_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1920x1080, got {text!r}") from None
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError(f"frame size must be at least 16x16, got {text!r}")
    return width, height


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("width", "height"):
        if getattr(args, name) < 16:
            raise SystemExit(f"seatrack-bench: --{name} must be at least 16")
    if (args.frames is not None and args.frames < 1) or (args.warmup is not None and args.warmup < 0):
        raise SystemExit("seatrack-bench: --frames must be >= 1 and --warmup >= 0")
    resolve_lora_merged(args, "seatrack-bench")
    try:
        report = run_benchmark(args)
    except (ConfigError, CheckpointError) as exc:
        raise SystemExit(f"seatrack-bench: {exc}") from None
    print(format_report(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"report written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
