#!/usr/bin/env python3
"""Aten operators per engine frame (float16 engine path, counted on the CPU), before and after the
exact rewrites of seatrack_ros.engine.collapsed / fold; optionally the float32 CPU forward time of both.

Counts one steady-state frame of the engine's stages as the CUDA graph would hold them: crop +
normalise, network (backbone + head), decode (Hann window, peak, box). "before" is the engine without
the network rewrites (prepare_model without collapse_for_inference, network = SEATrack.forward, so the
crop stage also normalises; crop and decode are today's); "after" is
prepare_model as it is now, with the network stage once as SEATrack.forward (still decoding
pred_boxes) and once as EngineNetwork (maps only: what the engine runs). Kinds: kernel / view /
allocation (see seatrack_ros.engine.opcount); the target (<= 250 per frame) is on kernels. By default each
scaled_dot_product_attention call counts as one kernel, as on CUDA (this CPU runs the guided attention's
math fallback); --attention-as-dispatched counts what the CPU dispatches.

Usage: python scripts/count_ops.py [--tiny] [--attention-as-dispatched] [--time-frames N] [--json FILE]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time

import torch

from seatrack_ros.bench import build_tiny_model
from seatrack_ros.engine.collapsed import EngineNetwork, collapse_for_inference
from seatrack_ros.engine.opcount import KINDS, count_engine_frame
from seatrack_ros.model import build_seatrack


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def new_model(tiny: bool) -> torch.nn.Module:
    return build_tiny_model() if tiny else build_seatrack()  # values do not change the count


def count_variants(tiny: bool, attention_as_one: bool) -> dict:
    def frame(collapse, maps_only):
        return count_engine_frame(new_model(tiny), collapse, maps_only, attention_as_one=attention_as_one)

    return {
        "before": frame(False, False),
        "after (SEATrack.forward)": frame(True, False),
        "after (EngineNetwork)": frame(True, True),
    }


def summarize(variants: dict) -> dict:
    report = {}
    for name, stages in variants.items():
        entry = {stage: counter.kinds() for stage, counter in stages.items()}
        entry["frame"] = {kind: sum(entry[stage][kind] for stage in stages) for kind in KINDS}
        entry["network_kernels_by_module"] = stages["network"].by_module("kernel")
        entry["network_kernels_by_operator"] = stages["network"].by_operator("kernel")
        report[name] = entry
    return report


def time_float32_forward(tiny: bool, frames: int) -> dict:
    """Median float32 CPU forward (network only, cached template tokens), reference vs collapsed,
    interleaved frame by frame in one process."""
    reference = new_model(tiny)
    reference.merge_lora()
    reference.set_attention_impl("fused")  # prepare_model's float32 CPU network
    collapsed = EngineNetwork(collapse_for_inference(copy.deepcopy(reference)))
    gen = torch.Generator().manual_seed(0)
    cfg = reference.config
    template = torch.randn(1, 6, cfg.template_size, cfg.template_size, generator=gen)
    search = torch.randn(1, 6, cfg.search_size, cfg.search_size, generator=gen)
    times = {"reference": [], "collapsed": []}
    with torch.no_grad():
        tokens = {"reference": reference.backbone.embed_template(template), "collapsed": collapsed.model.backbone.embed_template(template)}
        nets = {"reference": reference, "collapsed": collapsed}
        for i in range(frames + 2):
            for name, net in nets.items():
                start = time.perf_counter()
                net(None, search, template_tokens=tokens[name])
                if i >= 2:  # two warm-up frames
                    times[name].append((time.perf_counter() - start) * 1e3)
        ref = nets["reference"](None, search, template_tokens=tokens["reference"])
        got = nets["collapsed"](None, search, template_tokens=tokens["collapsed"])
    medians = {name: statistics.median(t) for name, t in times.items()}
    return {
        "cpu": cpu_name(),
        "torch_threads": torch.get_num_threads(),
        "frames": frames,
        "median_ms": medians,
        "speedup": medians["reference"] / medians["collapsed"],
        "score_map_max_abs_diff": float((ref["score_map"] - got["score_map"]).abs().max()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the narrow 2-block test network (fast)")
    parser.add_argument("--time-frames", type=int, default=0, help="also time N float32 CPU forwards of each")
    parser.add_argument("--top", type=int, default=12, help="modules / operators listed per variant")
    parser.add_argument("--json", help="write the full report here")
    parser.add_argument(
        "--attention-as-dispatched",
        action="store_true",
        help="count what attention dispatches on this CPU (the guided attention's math fallback) instead of "
        "one kernel per scaled_dot_product_attention call, as CUDA's fused kernels take it",
    )
    args = parser.parse_args(argv)
    report = {"network": "tiny test network" if args.tiny else "released SEATrack architecture", "dtype": "float16",
              "counted_on": f"CPU: {cpu_name()}, torch {torch.__version__}"}
    report["attention"] = "as dispatched on this CPU" if args.attention_as_dispatched else "one kernel per SDPA call"
    report["variants"] = summarize(count_variants(args.tiny, not args.attention_as_dispatched))
    print(f"aten operators per engine frame ({report['network']}, float16 engine path, {report['counted_on']}, "
          f"attention: {report['attention']})")
    print(f"{'variant':28s} {'stage':16s} " + " ".join(f"{k:>10s}" for k in KINDS))
    for name, entry in report["variants"].items():
        for stage in ("crop_normalize", "network", "decode", "frame"):
            print(f"{name:28s} {stage:16s} " + " ".join(f"{entry[stage][k]:10d}" for k in KINDS))
    for name, entry in report["variants"].items():
        print(f"\n{name}: network kernels by module")
        for module, n in list(entry["network_kernels_by_module"].items())[: args.top]:
            print(f"  {n:5d}  {module}")
        print(f"{name}: network kernels by operator")
        print("  " + ", ".join(f"{op} {n}" for op, n in list(entry["network_kernels_by_operator"].items())[: args.top]))
    if args.time_frames:
        timing = time_float32_forward(args.tiny, args.time_frames)
        report["float32_cpu_forward"] = timing
        med = timing["median_ms"]
        print(
            f"\nfloat32 CPU forward, {timing['frames']} frames interleaved, {timing['cpu']}, "
            f"{timing['torch_threads']} threads: reference {med['reference']:.1f} ms, collapsed "
            f"{med['collapsed']:.1f} ms median (x{timing['speedup']:.2f}); score map max |diff| "
            f"{timing['score_map_max_abs_diff']:.2e}"
        )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
