"""Precision / success (and DepthTrack precision-recall) plots as PNG, with matplotlib's Agg backend."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


# curve name -> (metric shown in the legend, x label, y label, title, legend location)
_CURVES = {
    "precision": ("precision", "Location error threshold (px)", "Precision", "Precision plot", "lower right"),
    "norm_precision": ("NPR", "Normalised location error threshold", "Normalised precision",
                       "Normalised precision plot", "lower right"),
    "success": ("success", "Overlap threshold", "Success rate", "Success plot", "lower left"),
}

_LEGEND_METRIC = {
    ("precision", "lasher"): "PR", ("precision", "visevent"): "PR", ("precision", "rgbt234"): "MPR",
    ("precision", "gtot"): "MPR", ("success", "lasher"): "SR", ("success", "visevent"): "SR",
    ("success", "rgbt234"): "MSR", ("success", "gtot"): "MSR", ("norm_precision", "lasher"): "NPR",
}


def plot_curves(scores: list, out_dir: Path, dataset_label: str) -> list:
    """Write one PNG per curve kind comparing ``scores`` (BenchmarkScore of several trackers on the same
    benchmark). Returns the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    benchmark = scores[0].benchmark
    written = []
    if benchmark == "depthtrack":
        return _plot_depthtrack(scores, out_dir, dataset_label)
    for curve, (_, xlabel, ylabel, title, loc) in _CURVES.items():
        if curve not in scores[0].curves:
            continue
        metric = _LEGEND_METRIC[(curve, benchmark)]
        ordered = sorted(scores, key=lambda s: s.overall[metric], reverse=True)
        fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
        for s in ordered:
            thr, values = s.curves[curve]
            ax.plot(thr, values, linewidth=2, label=f"{s.tracker} [{100 * s.overall[metric]:.1f}]")
        ax.set_xlim(thr[0], thr[-1])
        ax.set_ylim(0, 1)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} on {dataset_label}")
        ax.grid(True, alpha=0.3)
        ax.legend(loc=loc, fontsize=8)
        path = out_dir / f"{curve}.png"
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def _finish_unit_plot(fig, ax, xlabel: str, ylabel: str, title: str, legend_loc: str, path: Path) -> Path:
    """Axes on [0, 1] x [0, 1], labels, grid and legend; save to ``path`` and close the figure."""
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc=legend_loc, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _plot_depthtrack(scores: list, out_dir: Path, dataset_label: str) -> list:
    ordered = sorted(scores, key=lambda s: s.overall["F"], reverse=True)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    for s in ordered:
        recall, precision = s.curves["pr_curve"]
        ax.plot(recall, precision, linewidth=2, label=f"{s.tracker} [F {100 * s.overall['F']:.1f}]")
        ax.plot([s.overall["Re"]], [s.overall["Pr"]], "o", color=ax.lines[-1].get_color())
    pr_path = _finish_unit_plot(fig, ax, "Tracking recall", "Tracking precision",
                                f"Precision-recall on {dataset_label}", "lower left", out_dir / "precision_recall.png")

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    for s in ordered:
        _, f = s.curves["f_curve"]
        x = [i / (len(f) - 1) for i in range(len(f))]
        ax.plot(x, f, linewidth=2, label=f"{s.tracker} [{100 * s.overall['F']:.1f}]")
    f_path = _finish_unit_plot(fig, ax, "Threshold rank (high confidence -> low)", "F-score",
                               f"F-score on {dataset_label}", "lower right", out_dir / "fscore.png")
    return [pr_path, f_path]
