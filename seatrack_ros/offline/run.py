"""``seatrack-run``: run the tracker over benchmark sequences or a rosbag2 recording, offline.

The frames go through the same aux preparation (:func:`seatrack_ros.streams.aux.prepare_aux`: encode,
then resize or warp to the RGB frame), the same :class:`seatrack_ros.tracker.TrackingSession` and the
same model loader (:func:`seatrack_ros.model.load_seatrack`) as in the ROS node, so offline and online
runs give the same boxes for the same frames.

Examples::

    seatrack-run /data/LasHeR/testingset --benchmark lasher --out results/LasHeR/seatrack \\
        --checkpoint SEATrack_ep0060.pth.tar --lora-merged true --device cuda
    seatrack-run recording.mcap --rgb-topic /camera/image_raw --aux-topic /thermal/image_raw \\
        --modality thermal --init-box 310,200,40,80 --out boxes.csv --checkpoint ... --lora-merged true

See ``docs/offline.md`` for the layouts, output formats and resuming.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from seatrack_ros.cli import add_lora_merged_option, resolve_lora_merged
from seatrack_ros.errors import CheckpointError, ConfigError, InputError
from seatrack_ros.modalities import MODALITIES
from seatrack_ros.offline import datasets, results
from seatrack_ros.streams.aux import AuxPreparer
from seatrack_ros.streams.sync import DEFAULT_SYNC_SLOP
from seatrack_ros.tracker.session import TrackingSession

TrackerFactory = Callable[[], object]


def make_model_tracker_factory(
    checkpoint: Optional[str],
    lora_merged: Optional[bool],
    test_weights: bool,
    device: str,
    modality: str,
    log: Callable = print,
    variant: Optional[str] = None,
) -> TrackerFactory:
    """Load the network once (`load_seatrack`) and return a factory of fresh trackers sharing it.
    ``variant``: registry entry (default: the modality's released one); ``demo`` needs no checkpoint."""
    from seatrack_ros.model import load_seatrack, select_device, variant_for_modality
    from seatrack_ros.tracker import SEATracker

    variant = variant or variant_for_modality(modality).name
    if not checkpoint and variant == "demo":
        log("NOTE: the demo model (docs/demo-model.md) was trained on synthetic scenes only.")
    elif not checkpoint:
        assert test_weights
        log(
            "WARNING: running with deterministic TEST weights (--test-weights): the boxes mean nothing; "
            "use them only to check the pipeline."
        )
    model = load_seatrack(variant, checkpoint or None, None if variant == "demo" else lora_merged)
    torch_device = select_device(device)
    return lambda: SEATracker(model, device=torch_device)


# ----------------------------------------------------------------------------------------------------
# Benchmark sequences.


def _progress(total: int, desc: str, unit: str, enabled: bool, leave: bool = True, position: int = 0):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not enabled,
        leave=leave,
        position=position,
        dynamic_ncols=True,
    )


def track_sequence(seq: datasets.Sequence, tracker, prepare: AuxPreparer, frame_bar=None) -> tuple:
    """Run ``tracker`` over ``seq`` from ``seq.start``. Returns (boxes (N, 4) float64, scores list with
    None for the initialisation frame, tracking seconds excluding the initialisation frame)."""
    session = TrackingSession(tracker)
    boxes, scores = [], []
    seconds = 0.0
    for frame in seq.frames():
        aux = prepare(frame.aux, frame.aux_encoding, frame.rgb.shape[:2])
        if frame.index == seq.start:
            session.request_init(seq.init_box, "ground truth")
        step = session.step(frame.rgb, aux)
        if step.init_error is not None:
            raise step.init_error
        if step.initialized and frame.index == seq.start:
            boxes.append(tuple(seq.init_box))
            scores.append(None)
        else:
            seconds += step.model_s
            boxes.append(step.box)
            scores.append(step.confidence)
        if frame_bar is not None:
            frame_bar.update(1)
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4), scores, seconds


def run_dataset(
    root: Path,
    out_dir: Path,
    make_tracker: TrackerFactory,
    benchmark: str = "auto",
    names: Optional[list] = None,
    overwrite: bool = False,
    mono16_range: Optional[tuple] = None,
    progress: bool = True,
    log: Callable = print,
) -> dict:
    """Track every sequence under ``root`` (a dataset root or one sequence folder) and write one result
    file per sequence under ``out_dir`` in the benchmark's format. Finished sequences are skipped
    unless ``overwrite``. Returns a summary dict (benchmark, done, skipped, failed {name: message},
    frames, seconds)."""
    benchmark, seqs = datasets.open_dataset(Path(root), benchmark, names)
    out_dir = Path(out_dir)
    modality = datasets.MODALITY_OF_BENCHMARK[benchmark]
    prepare = AuxPreparer(modality, mono16_range=mono16_range, info=log)
    todo = [s for s in seqs if overwrite or not results.is_finished(out_dir, benchmark, s.name)]
    todo_names = {s.name for s in todo}
    summary = {
        "benchmark": benchmark,
        "done": [],
        "skipped": [s.name for s in seqs if s.name not in todo_names],
        "failed": {},
        "frames": 0,
        "seconds": 0.0,
    }
    log(f"{benchmark}: {len(seqs)} sequences, {len(summary['skipped'])} already finished, {len(todo)} to run")
    seq_bar = _progress(len(todo), "sequences", "seq", progress)
    for seq in todo:
        if len(seq.rgb_paths) != len(seq.aux_paths):
            log(
                f"{seq.name}: {len(seq.rgb_paths)} RGB but {len(seq.aux_paths)} X frames; tracking the first "
                f"{seq.num_frames} pairs"
            )
        frame_bar = _progress(
            seq.num_frames - seq.start, seq.name, "frame", progress, leave=False, position=1
        )
        try:
            boxes, scores, seconds = track_sequence(seq, make_tracker(), prepare, frame_bar)
        except InputError as exc:
            summary["failed"][seq.name] = f"{exc.kind}: {exc}"
            log(f"{seq.name}: FAILED ({exc.kind}): {exc}")
            continue
        finally:
            frame_bar.close()
        if benchmark in results.VOT_LT_BENCHMARKS:
            results.write_vot_longterm(out_dir, seq.name, boxes, scores)
        else:
            results.write_boxes(results.result_path(out_dir, benchmark, seq.name), boxes)
        summary["done"].append(seq.name)
        summary["frames"] += len(boxes) - 1
        summary["seconds"] += seconds
        seq_bar.update(1)
        fps = summary["frames"] / summary["seconds"] if summary["seconds"] > 0 else float("nan")
        seq_bar.set_postfix(fps=f"{fps:.2f}")
    seq_bar.close()
    if not todo:
        log(f"nothing to run: every sequence already has results in {out_dir} (--overwrite re-runs them)")
        return summary
    fps = summary["frames"] / summary["seconds"] if summary["seconds"] > 0 else float("nan")
    log(
        f"finished {len(summary['done'])} sequences ({summary['frames']} tracked frames, {fps:.2f} frames/s); "
        f"results in {out_dir}"
    )
    return summary


# ----------------------------------------------------------------------------------------------------
# rosbag2 recordings.

BAG_CSV_HEADER = ("frame", "rgb_stamp_ns", "aux_stamp_ns", "x", "y", "w", "h", "score")


def run_bag(
    bag_path: Path,
    out_path: Path,
    make_tracker: TrackerFactory,
    rgb_topic: str,
    aux_topic: str,
    modality: str,
    init_box: tuple,
    slop: float = DEFAULT_SYNC_SLOP,
    init_stamp_ns: Optional[int] = None,
    stamp_source: str = "header",
    max_frames: Optional[int] = None,
    mono16_range: Optional[tuple] = None,
    progress: bool = True,
    log: Callable = print,
    homography: Optional[np.ndarray] = None,
    event_max_window_ns: int = 100_000_000,
) -> dict:
    """Track through a rosbag2 recording and write ``out_path`` (CSV, columns :data:`BAG_CSV_HEADER`;
    row 0 is the initialisation frame, its score empty).

    The tracker is initialised with ``init_box`` (x, y, w, h px) on the first synchronised pair whose
    RGB stamp is >= ``init_stamp_ns`` (the first pair if None). A frame whose data is bad (wrong
    encoding, size mismatch, ...) is skipped and counted by kind, as the node does; if the
    initialisation frame is bad the run stops with the error. An aux image of another size than the
    RGB image is resized to it, or warped with ``homography`` (3x3, aux pixel -> RGB pixel), as the
    node does. An ``event_camera_msgs/EventPacket`` aux topic (``modality`` event) is decoded and each
    RGB frame's window rendered once the recording covers it (see `seatrack_ros.offline.bag`; windows at
    most ``event_max_window_ns`` long, as the node's event_max_window). Returns a summary dict (with
    ``events``: the decoder's and window counters, for EventPacket topics).
    """
    from seatrack_ros.offline.bag import BagPairReader

    if modality not in MODALITIES:
        raise InputError(
            "modality", f"unknown modality {modality!r}; expected one of {', '.join(MODALITIES)}"
        )
    prepare = AuxPreparer(modality, homography=homography, mono16_range=mono16_range, info=log)
    reader = BagPairReader(Path(bag_path), rgb_topic, aux_topic, slop, stamp_source, event_max_window_ns)
    session = TrackingSession(make_tracker())
    rows, problems = [], Counter()
    seconds = 0.0
    out_path = Path(out_path)
    bar = _progress(None, Path(bag_path).name, "frame", progress)
    initialised = False
    for pair in reader:
        if not initialised and init_stamp_ns is not None and pair.rgb_stamp_ns < init_stamp_ns:
            continue
        try:
            if pair.aux_encoding is None and modality != "event":
                raise InputError("msgtype", f"{aux_topic} carries event packets: use --modality event")
            # events: an empty (white) frame at the RGB size until a packet gave the sensor size
            aux = prepare(pair.aux, pair.aux_encoding, pair.rgb.shape[:2], pair.sensor_hw or pair.rgb.shape[:2])
            if not initialised:
                session.request_init(init_box, "--init-box")
            step = session.step(pair.rgb, aux)
            if step.init_error is not None:
                raise step.init_error
            if step.problem is not None:  # a result is still written (LOST, or re-initialised)
                problems[step.problem.kind] += 1
                if problems[step.problem.kind] == 1:
                    log(f"frame at {pair.rgb_stamp_ns} ns ({step.problem.kind}): {step.problem} (reported once per kind)")
            if step.initialized and not initialised:
                initialised = True
                row_box, score = tuple(float(v) for v in init_box), None
            else:
                seconds += step.model_s
                row_box, score = step.box, step.confidence
        except InputError as exc:
            if not initialised:
                raise
            problems[exc.kind] += 1
            if problems[exc.kind] == 1:
                log(f"skipping frame at {pair.rgb_stamp_ns} ns ({exc.kind}): {exc} (reported once per kind)")
            continue
        rows.append((len(rows), pair.rgb_stamp_ns, pair.aux_stamp_ns, *row_box, score))
        bar.update(1)
        if max_frames is not None and len(rows) >= max_frames:
            break
    bar.close()
    if not initialised:
        raise InputError(
            "no_frames",
            f"{bag_path}: no synchronised ({rgb_topic}, {aux_topic}) pair "
            + ("after the initialisation stamp" if init_stamp_ns else "within the slop"),
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".partial")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(BAG_CSV_HEADER)
        for frame, rs, as_, x, y, w, h, score in rows:
            writer.writerow(
                [
                    frame,
                    rs,
                    as_,
                    f"{x:.4f}",
                    f"{y:.4f}",
                    f"{w:.4f}",
                    f"{h:.4f}",
                    "" if score is None else f"{score:.6f}",
                ]
            )
    os.replace(tmp, out_path)
    stats = reader.sync_stats.as_dict() if reader.sync_stats is not None else {}
    fps = (len(rows) - 1) / seconds if seconds > 0 else float("nan")
    events = reader.event_counters
    log(
        f"wrote {len(rows)} boxes to {out_path} ({fps:.2f} frames/s); skipped frames: {dict(problems) or 'none'}; "
        + (f"events: { {k: v for k, v in events.items() if v} }" if events is not None else f"synchronizer: {stats}")
    )
    summary = {"frames": len(rows), "problems": dict(problems), "sync": stats, "seconds": seconds}
    if events is not None:
        summary["events"] = events
    return summary


# ----------------------------------------------------------------------------------------------------
# Command line.


def _homography(values: Optional[tuple]) -> Optional[np.ndarray]:
    if values is None:
        return None
    matrix = np.array(values, dtype=np.float64).reshape(3, 3)
    if abs(np.linalg.det(matrix)) < 1e-12:
        raise InputError("parameter", f"--aux-to-rgb-homography is singular: {values}")
    return matrix


def _event_window_ns(seconds: float) -> int:
    if not (math.isfinite(seconds) and 0 < seconds <= 2.0):
        raise InputError("parameter", f"--event-max-window must be in (0, 2] seconds, got {seconds}")
    return int(seconds * 1e9)


def _floats(text: str, count: int, what: str) -> tuple:
    try:
        values = tuple(float(v) for v in text.replace(" ", ",").split(",") if v)
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"{what} must be {count} comma-separated numbers, got {text!r}")
    return values


def _released():
    from seatrack_ros.model.build import RELEASED_VARIANTS, VARIANTS

    return [VARIANTS[name] for name in RELEASED_VARIANTS]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seatrack-run",
        description="Run SEATrack offline over benchmark sequences (LasHeR, RGBT234, GTOT, VisEvent, "
        "DepthTrack layouts) or a rosbag2 recording, writing benchmark result files.",
    )
    p.add_argument(
        "input", type=Path, help="dataset root, one sequence folder, or a rosbag2 folder / .mcap / .db3 file"
    )
    p.add_argument("--out", type=Path, required=True, help="result folder (datasets) or CSV file (bags)")
    w = p.add_argument_group("weights")
    w.add_argument(
        "--checkpoint",
        help="SEATrack checkpoint (the released files: "
        + ", ".join(f"{v.release_file} for {v.modality}" for v in _released())
        + ")",
    )
    add_lora_merged_option(w, " (required with --checkpoint of a released variant: nothing in the "
                              "authors' files records it)")
    w.add_argument(
        "--variant",
        choices=("rgbt", "rgbd", "rgbe", "demo"),
        help="architecture (default: the modality's released variant); demo: the small demo model, its "
        "shipped weights unless --checkpoint (e.g. a fine-tuned one) is given",
    )
    w.add_argument(
        "--test-weights",
        action="store_true",
        help="use deterministic test weights instead of a checkpoint (boxes mean nothing)",
    )
    p.add_argument(
        "--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:N (default auto)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--mono16-range",
        type=lambda s: _floats(s, 2, "--mono16-range"),
        help="lo,hi counts mapped to 0..255 for 16-bit thermal images (default: per-frame min-max)",
    )
    d = p.add_argument_group("datasets")
    d.add_argument(
        "--benchmark",
        default="auto",
        choices=("auto",) + datasets.BENCHMARKS,
        help="benchmark (default: from the layout; LasHeR vs RGBT234 by folder name / corner ground truth)",
    )
    d.add_argument("--sequences", nargs="+", help="only these sequences, in this order")
    d.add_argument("--sequence-list", type=Path, help="file with one sequence name per line")
    d.add_argument("--overwrite", action="store_true", help="re-run sequences that already have results")
    b = p.add_argument_group("rosbag2")
    b.add_argument("--rgb-topic", help="sensor_msgs/Image or CompressedImage topic of the colour camera")
    b.add_argument(
        "--aux-topic",
        help="topic of the thermal / depth camera, a rendered event-frame Image topic, or an "
        "event_camera_msgs/EventPacket topic (evt3 or mono, decoded and rendered per RGB frame)",
    )
    b.add_argument("--modality", choices=MODALITIES, help="what --aux-topic carries")
    b.add_argument(
        "--init-box", type=lambda s: _floats(s, 4, "--init-box"), help="x,y,w,h of the target in pixels"
    )
    b.add_argument("--init-stamp", type=int, help="initialise on the first pair with RGB stamp >= this (ns)")
    b.add_argument(
        "--slop",
        type=float,
        default=DEFAULT_SYNC_SLOP,
        help=f"largest RGB/X stamp difference in seconds (default {DEFAULT_SYNC_SLOP}, as the node)",
    )
    b.add_argument(
        "--aux-to-rgb-homography",
        type=lambda s: _floats(s, 9, "--aux-to-rgb-homography"),
        help="9 comma-separated numbers, row-major 3x3 mapping aux px -> RGB px (default: resize the "
        "aux image to the RGB size when they differ), as the node's aux_to_rgb_homography",
    )
    b.add_argument(
        "--stamp-source",
        choices=("header", "bag"),
        default="header",
        help="pair by header.stamp (default) or by recording time",
    )
    b.add_argument(
        "--event-max-window",
        type=float,
        default=0.1,
        help="longest event window per RGB frame in seconds, for an EventPacket --aux-topic (default 0.1, "
        "as the node's event_max_window)",
    )
    b.add_argument("--max-frames", type=int, help="stop after this many frames")
    return p


def main(argv: Optional[list] = None, make_tracker: Optional[TrackerFactory] = None) -> int:
    """Entry point. ``make_tracker`` replaces the network (tests inject a cheap tracker)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    resolve_lora_merged(args, "seatrack-run")
    log = print
    from seatrack_ros.offline.bag import is_bag_path

    bag_mode = is_bag_path(args.input)
    if make_tracker is None:
        if args.checkpoint and args.test_weights:
            parser.error("give either --checkpoint or --test-weights, not both")
        if args.test_weights and args.variant == "demo":
            parser.error("the demo variant has no test weights: its trained weights ship with the package")
        if not args.checkpoint and not args.test_weights and args.variant != "demo":
            parser.error(
                "no --checkpoint given. Boxes from untrained weights mean nothing; pass --test-weights "
                "to run the pipeline anyway with deterministic test weights."
            )
        if args.checkpoint and args.lora_merged is None and args.variant != "demo":
            parser.error(
                "--lora-merged true|false is required with --checkpoint (nothing in the file records it; "
                + "; ".join(f"{v.release_file}: {str(v.lora_merged).lower()}" for v in _released())
                + ")"
            )
    try:
        if bag_mode:
            missing = [
                o
                for o, v in (
                    ("--rgb-topic", args.rgb_topic),
                    ("--aux-topic", args.aux_topic),
                    ("--modality", args.modality),
                    ("--init-box", args.init_box),
                )
                if v is None
            ]
            if missing:
                parser.error(f"a rosbag2 input needs {', '.join(missing)}")
            if make_tracker is None:
                make_tracker = make_model_tracker_factory(
                    args.checkpoint, args.lora_merged, args.test_weights, args.device, args.modality, log,
                    args.variant,
                )
            run_bag(
                args.input,
                args.out,
                make_tracker,
                args.rgb_topic,
                args.aux_topic,
                args.modality,
                args.init_box,
                args.slop,
                args.init_stamp,
                args.stamp_source,
                args.max_frames,
                args.mono16_range,
                not args.no_progress,
                log,
                _homography(args.aux_to_rgb_homography),
                _event_window_ns(args.event_max_window),
            )
            return 0
        names = args.sequences
        if args.sequence_list:
            names = (names or []) + datasets.read_sequence_list(args.sequence_list)
        benchmark = args.benchmark
        if benchmark == "auto":
            benchmark = datasets.guess_benchmark(args.input, datasets.find_sequence_dirs(args.input))
            log(f"benchmark: {benchmark} (from the folder layout; pass --benchmark to choose)")
        if make_tracker is None:
            make_tracker = make_model_tracker_factory(
                args.checkpoint,
                args.lora_merged,
                args.test_weights,
                args.device,
                datasets.MODALITY_OF_BENCHMARK[benchmark],
                log,
                args.variant,
            )
        summary = run_dataset(
            args.input,
            args.out,
            make_tracker,
            benchmark,
            names,
            args.overwrite,
            args.mono16_range,
            not args.no_progress,
            log,
        )
    except (InputError, CheckpointError, ConfigError) as exc:
        print(f"seatrack-run: error: {exc}", file=sys.stderr)
        return 1
    if summary["failed"]:
        print(
            f"seatrack-run: {len(summary['failed'])} sequence(s) failed: {', '.join(summary['failed'])}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
