"""Half-precision fidelity on the golden fixtures: how far float16/bfloat16 moves maps, boxes and peaks.

``python -m seatrack_ros.engine.fidelity --device cuda`` compares, on the reference outputs in
``shared/golden`` (``$SEATRACK_GOLDEN_DIR`` to point elsewhere):

- model level (``model_io.npz``, unmerged test weights): score/size/offset maps and the decoded box of
  the prepared network (merged LoRA, fused attention) in float32 and in each half dtype, against the
  reference float32 outputs; boxes in pixels of the 256 px search crop; whether the argmax cell agrees;
- tracker level (``tracker_seq.npz``): the 7 tracked boxes (px of the 320x240 frame), scores and
  windowed-peak cells of `TrackEngine` in each dtype against the reference tracker.

On CUDA the half runs use CUDA graphs, as the tracker does. On a CPU the same half policy runs through
PyTorch's CPU kernels (slow: tens of seconds per forward), which shows the effect of the reduced
precision but not the GPU kernels' exact rounding.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from ..model import load_seatrack, select_device
from ..testing import find_golden
from ..geometry.crop import TrackerSettings
from ..geometry.crop import crop_window
from .cuda_tracker import TrackEngine
from .precision import prepare_model

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _max_abs(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


def model_fidelity(model, golden: dict, device: torch.device, dtype: torch.dtype, residual_float32: bool = False) -> dict:
    """Prepared ``model`` on the golden model inputs vs the reference float32 outputs (unmerged)."""
    prepare_model(model, device, dtype, residual_float32)
    template = torch.from_numpy(golden["template"]).to(device, dtype)
    search = torch.from_numpy(golden["search"]).to(device, dtype)
    with torch.no_grad():
        out = {k: v.float().cpu().numpy() for k, v in model(template, search).items()}
    ref_score = golden["score_map_unmerged"]
    return {
        "score_map_max_abs": _max_abs(out["score_map"], ref_score),
        "size_map_max_abs": _max_abs(out["size_map"], golden["size_map_unmerged"]),
        "offset_map_max_abs": _max_abs(out["offset_map"], golden["offset_map_unmerged"]),
        "box_max_abs_px": _max_abs(out["pred_boxes"], golden["pred_boxes_unmerged"]) * 256,
        "argmax_equal": int(out["score_map"].argmax()) == int(ref_score.argmax()),
        "score_top2_gap_reference": float(np.diff(np.sort(ref_score.ravel())[-2:])[0]),
    }


def tracker_fidelity(
    model,
    seq: dict,
    device: torch.device,
    dtype: torch.dtype,
    cuda_graphs: bool,
    residual_float32: bool = False,
    compile_network: bool = False,
) -> dict:
    """`TrackEngine` in ``dtype`` on the golden sequence vs the reference tracker's boxes and scores.

    Open loop: every frame is cropped around the reference's own state, so each frame's deviation is
    the network's alone. Closed loop: the tracker follows its own boxes, as in use; once its state
    moves a crop window by one pixel (integer rounding of the window origin and side), the network
    sees a different crop and the two runs are no longer comparable frame for frame.
    """
    engine = TrackEngine(
        model, device, TrackerSettings(), cuda_graphs=cuda_graphs, dtype=dtype, residual_float32=residual_float32,
        compile_network=compile_network,
    )
    settings = TrackerSettings()
    frames = seq["frames"]
    init_box = tuple(float(v) for v in seq["init_box"])
    engine.initialize(frames[0][..., :3], frames[0][..., 3:], init_box)
    template_equal = bool(np.array_equal(engine.template_crop(), seq["template_crop"]))
    reference_states = [list(map(float, b)) for b in seq["search_crop_boxes"]]
    hw = frames[0].shape[:2]
    result: dict = {"template_crop_equal": template_equal}
    for mode in ("open_loop", "closed_loop"):
        state = list(init_box)
        boxes, scores, peaks, crop_diffs, diverged_at = [], [], [], [], None
        for i in range(1, len(frames)):
            if mode == "open_loop":
                state = reference_states[i - 1]
            elif diverged_at is None and crop_window(state, settings.search_factor, hw) != crop_window(
                reference_states[i - 1], settings.search_factor, hw
            ):
                diverged_at = i
            box, _, score, peak = engine.track(frames[i][..., :3], frames[i][..., 3:], state)
            if i == 1:
                crop_diffs.append(_max_abs(engine.search_crop(), seq["search_crop_frame1"]))
            boxes.append(box)
            scores.append(score)
            peaks.append(peak)
            state = box
        per_frame_box = np.abs(np.asarray(boxes) - seq["pred_boxes"][1:]).max(axis=1)
        result[mode] = {
            "box_max_abs_px": float(per_frame_box.max()),
            "box_abs_px_per_frame": [float(v) for v in per_frame_box],
            "score_max_abs": _max_abs(scores, seq["best_score"][1:]),
            "argmax_equal_frames": int(sum(int(p == r) for p, r in zip(peaks, seq["response_argmax"]))),
            "frames": len(peaks),
            "search_crop_max_pixel_diff": max(crop_diffs),
        }
        if mode == "closed_loop":
            result[mode]["crop_window_diverged_at_frame"] = diverged_at
    result.update(cuda_graphs=engine.cuda_graphs, compiled=engine.compiled)  # in effect after the runs
    return result


def run(
    device: torch.device,
    dtypes: list[str],
    golden_dir: Path,
    tracker: bool = True,
    residual_float32: bool = False,
    compile_network: bool = False,
) -> dict:
    model_io = dict(np.load(golden_dir / "model_io.npz"))
    seq = dict(np.load(golden_dir / "tracker_seq.npz"))
    report = {
        "device": str(device),
        "device_name": _device_name(device),
        "torch": torch.__version__,
        "residual_float32": residual_float32,
        "compile_network": compile_network,
        "results": {},
    }
    for name in dtypes:
        dtype = DTYPES[name]
        model = load_seatrack("rgbt")  # the golden fixtures' deterministic test weights
        entry = {"model": model_fidelity(model, model_io, device, dtype, residual_float32)}
        if tracker:
            fresh = load_seatrack("rgbt")
            entry["tracker"] = tracker_fidelity(
                fresh, seq, device, dtype, device.type == "cuda", residual_float32, compile_network
            )
        report["results"][name] = entry
        print(f"{name}: {json.dumps(entry)}", flush=True)
    return report


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU, {torch.get_num_threads()} torch threads"


def format_table(report: dict) -> str:
    lines = [
        f"half-precision fidelity on {report['device_name']} ({report['device']}), torch {report['torch']}, "
        f"residual stream {'float32' if report['residual_float32'] else 'half'}"
        f"{', tracker network compiled' if report['compile_network'] else ''}",
        "model: golden model_io (box in px of the 256 px crop); tracker: golden sequence, 7 frames, px of 320x240",
        f"{'dtype':<10}{'score map':>10}{'size map':>10}{'box px':>8}{'argmax':>7}"
        f"{'| open box px':>14}{'score':>9}{'argmax':>7}{'| closed box px':>16}{'argmax':>7}{'diverged':>9}",
    ]
    for name, entry in report["results"].items():
        m = entry["model"]
        row = (
            f"{name:<10}{m['score_map_max_abs']:10.2e}{m['size_map_max_abs']:10.2e}{m['box_max_abs_px']:8.4f}"
            f"{str(m['argmax_equal']):>7}"
        )
        t = entry.get("tracker")
        if t:
            o, c = t["open_loop"], t["closed_loop"]
            row += (
                f"{o['box_max_abs_px']:14.4f}{o['score_max_abs']:9.1e}{o['argmax_equal_frames']:>5}/{o['frames']}"
                f"{c['box_max_abs_px']:16.4f}{c['argmax_equal_frames']:>5}/{c['frames']}"
                f"{str(c['crop_window_diverged_at_frame']):>9}"
            )
        lines.append(row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seatrack_ros.engine.fidelity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--dtypes", nargs="+", default=None, choices=sorted(DTYPES), help="default: float32 float16 (+bfloat16 on CUDA)")
    parser.add_argument("--golden", default=None, help="folder with model_io.npz and tracker_seq.npz")
    parser.add_argument("--no-tracker", action="store_true", help="model-level comparison only (fast on CPU)")
    parser.add_argument(
        "--residual-float32", action="store_true", help="keep the residual stream float32 (see engine.precision)"
    )
    parser.add_argument(
        "--compile", action="store_true", help="the tracker-level runs compile the network (torch.compile)"
    )
    parser.add_argument("--json", default=None, help="write the report here")
    args = parser.parse_args(argv)
    try:
        device = select_device(args.device)
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    dtypes = args.dtypes or (["float32", "float16", "bfloat16"] if device.type == "cuda" else ["float32", "float16"])
    try:
        golden = find_golden(args.golden)
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None
    report = run(
        device, dtypes, golden, tracker=not args.no_tracker, residual_float32=args.residual_float32,
        compile_network=args.compile,
    )
    print(format_table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
