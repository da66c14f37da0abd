"""``seatrack-eval``: score result files against a benchmark's ground truth and compare trackers.

Example::

    seatrack-eval --benchmark lasher --dataset /data/LasHeR/testingset \\
        --results SEATrack=results/LasHeR/seatrack DMCNet=other/DMCNet --out eval/LasHeR

prints the overall table and writes ``summary.txt``, ``summary.csv``, ``per_sequence.csv`` and the
precision / success plots (PNG) into ``--out``. Metric conventions: :mod:`seatrack_ros.offline.metrics`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from seatrack_ros.errors import InputError
from seatrack_ros.offline import datasets, metrics, results


def load_ground_truth(root: Path, benchmark: str, names: Optional[list] = None) -> list:
    """Ground truth of ``benchmark`` from a dataset root (sequence folders; images are not needed) or,
    for LasHeR, a flat folder of ``<sequence>.txt`` x,y,w,h files (as the toolkits ship it)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("missing_file", f"{root} is not a folder")
    has_seq_dirs = datasets.layout_family(root) is not None or any(
        p.is_dir() and datasets.layout_family(p) is not None for p in root.iterdir())
    if has_seq_dirs:
        _, seqs = datasets.open_dataset(root, benchmark, names, need_frames=False)
        return seqs
    if benchmark != "lasher":
        raise InputError("layout", f"no {benchmark} sequence folders under {root}")
    files = {p.stem: p for p in root.glob("*.txt")}
    if not files:
        raise InputError("layout", f"no sequence folders or <sequence>.txt ground-truth files under {root}")
    chosen = names if names is not None else sorted(files)
    missing = [n for n in chosen if n not in files]
    if missing:
        raise InputError("missing_sequence", f"no ground truth under {root} for: {', '.join(missing)}")
    return [datasets.Sequence(n, root, "lasher", datasets.load_boxes(files[n], np.float32)) for n in chosen]


def _image_size(seq: datasets.Sequence) -> Optional[tuple]:
    """(W, H) of a DepthTrack sequence's first colour frame, if the frames are there."""
    color = seq.path / "color"
    if not color.is_dir():
        return None
    frames = sorted(p for p in color.iterdir() if p.suffix.lower() in datasets.IMAGE_SUFFIXES)
    if not frames:
        return None
    img = cv2.imread(str(frames[0]), cv2.IMREAD_UNCHANGED)
    return None if img is None else (img.shape[1], img.shape[0])


def load_results(result_dir: Path, benchmark: str, seqs: list, allow_missing: bool) -> dict:
    """name -> boxes (or (boxes, confidences, image_size) for DepthTrack) for the sequences found."""
    result_dir = Path(result_dir)
    if not result_dir.is_dir():
        raise InputError("missing_file", f"result folder {result_dir} does not exist")
    found, missing = {}, []
    for s in seqs:
        if not results.is_finished(result_dir, benchmark, s.name):
            missing.append(s.name)
            continue
        if benchmark in results.VOT_LT_BENCHMARKS:
            boxes, conf = results.read_vot_longterm(result_dir, s.name)
            found[s.name] = (boxes, conf, _image_size(s))
        else:
            found[s.name] = results.read_boxes(results.result_path(result_dir, benchmark, s.name))
    if missing and not allow_missing:
        shown = ", ".join(missing[:10]) + (f" (+{len(missing) - 10} more)" if len(missing) > 10 else "")
        raise InputError("missing_sequence", f"{result_dir}: no results for {len(missing)} of {len(seqs)} "
                                             f"sequences: {shown} (use --allow-missing to score the rest)")
    return found


def format_table(scores: list) -> str:
    """Plain-text table of the overall scores (percent)."""
    names = scores[0].metrics
    width = max(8, max(len(s.tracker) for s in scores))
    lines = [f"{'tracker':<{width}}  " + "  ".join(f"{m:>7}" for m in names) + "  sequences"]
    for s in sorted(scores, key=lambda s: s.overall[names[-1] if s.benchmark == "depthtrack" else names[0]],
                    reverse=True):
        lines.append(f"{s.tracker:<{width}}  " + "  ".join(f"{100 * s.overall[m]:7.2f}" for m in names)
                     + f"  {len(s.per_sequence):9d}")
    return "\n".join(lines)


def write_reports(scores: list, out_dir: Path, dataset_label: str, plots: bool = True) -> list:
    """summary.txt, summary.csv, per_sequence.csv and plots under ``out_dir``. Returns written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = scores[0].metrics
    written = [out_dir / "summary.txt", out_dir / "summary.csv", out_dir / "per_sequence.csv"]
    written[0].write_text(f"{scores[0].benchmark} ({dataset_label}), scores in percent\n{format_table(scores)}\n",
                          encoding="utf-8")
    with open(written[1], "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["tracker", *names, "sequences"])
        for s in scores:
            w.writerow([s.tracker, *(f"{100 * s.overall[m]:.4f}" for m in names), len(s.per_sequence)])
    with open(written[2], "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["tracker", "sequence", "frames", *names])
        for s in scores:
            for q in s.per_sequence:
                w.writerow([s.tracker, q.name, q.num_frames, *(f"{100 * q.values[m]:.4f}" for m in names)])
    if plots:
        from seatrack_ros.offline.plots import plot_curves

        written += plot_curves(scores, out_dir, dataset_label)
    return written


def evaluate_trackers(benchmark: str, dataset: Path, trackers: dict, names: Optional[list] = None,
                      allow_missing: bool = False) -> list:
    """Score several result folders (tracker name -> folder) on the same sequences. With
    ``allow_missing``, sequences missing from any folder are left out for every tracker so the
    comparison stays on one set."""
    seqs = load_ground_truth(dataset, benchmark, names)
    loaded = {t: load_results(d, benchmark, seqs, allow_missing) for t, d in trackers.items()}
    common = [s for s in seqs if all(s.name in r for r in loaded.values())]
    if not common:
        raise InputError("missing_sequence", "no sequence has results from every tracker")
    return [metrics.evaluate(benchmark, t, common, r) for t, r in loaded.items()]


def _tracker_arg(text: str) -> tuple:
    if "=" in text:
        name, path = text.split("=", 1)
    else:
        path = text
        name = Path(text.rstrip("/")).name
    return name, Path(path)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seatrack-eval",
        description="Score tracking results (PR/NPR/SR, MPR/MSR, VisEvent PR/SR, DepthTrack Pr/Re/F).")
    p.add_argument("--benchmark", required=True, choices=datasets.BENCHMARKS)
    p.add_argument("--dataset", type=Path, required=True,
                   help="dataset root with the sequence folders (images not needed), or for LasHeR a folder "
                        "of <sequence>.txt ground-truth files")
    p.add_argument("--results", nargs="+", required=True, type=_tracker_arg, metavar="[NAME=]DIR",
                   help="result folder(s) written by seatrack-run or another tracker, one per tracker")
    p.add_argument("--out", type=Path, help="folder for summary.txt/.csv, per_sequence.csv and the PNG plots")
    p.add_argument("--sequences", nargs="+", help="only these sequences")
    p.add_argument("--sequence-list", type=Path, help="file with one sequence name per line (e.g. a test split)")
    p.add_argument("--allow-missing", action="store_true",
                   help="score only the sequences every tracker has results for, instead of failing")
    p.add_argument("--no-plots", action="store_true")
    return p


def main(argv: Optional[list] = None) -> int:
    args = build_parser().parse_args(argv)
    names = args.sequences
    if args.sequence_list:
        names = (names or []) + datasets.read_sequence_list(args.sequence_list)
    trackers = dict(args.results)
    if len(trackers) != len(args.results):
        print("seatrack-eval: error: two result folders have the same tracker name; use NAME=DIR", file=sys.stderr)
        return 1
    try:
        scores = evaluate_trackers(args.benchmark, args.dataset, trackers, names, args.allow_missing)
    except InputError as exc:
        print(f"seatrack-eval: error: {exc}", file=sys.stderr)
        return 1
    label = args.dataset.resolve().name
    print(f"{args.benchmark} ({label}), {len(scores[0].per_sequence)} sequences, scores in percent")
    print(format_table(scores))
    if args.out:
        written = write_reports(scores, args.out, label, plots=not args.no_plots)
        print("wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
