"""SEATrack's training loss: ``2 * GIoU + 5 * L1 + 1 * focal`` on one batch of search crops.

All boxes are normalised to the search crop. The predicted box (cx, cy, w, h at the argmax of the
predicted score map) is converted to corners and left unclamped; the ground-truth (x, y, w, h) is
converted to corners and clamped to [0, 1]. The focal target is built from the *unclamped* ground
truth (`targets.centre_heatmap`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .targets import centre_heatmap


@dataclass(frozen=True)
class LossWeights:
    """The weights of the three terms (the authors' ``GIOU_WEIGHT``, ``L1_WEIGHT`` and the fixed 1)."""

    giou: float = 2.0
    l1: float = 5.0
    focal: float = 1.0


def cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) centre/size -> corners."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) top-left/size -> corners."""
    x, y, w, h = boxes.unbind(-1)
    return torch.stack([x, y, x + w, y + h], dim=-1)


def paired_giou(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """GIoU and IoU of corresponding rows. pred, target: (N, 4) corners -> (N,), (N,)."""
    area_pred = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_target = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    inter_wh = (torch.minimum(pred[:, 2:], target[:, 2:]) - torch.maximum(pred[:, :2], target[:, :2])).clamp(min=0)
    inter = inter_wh[:, 0] * inter_wh[:, 1]
    union = area_pred + area_target - inter
    iou = inter / union
    hull_wh = (torch.maximum(pred[:, 2:], target[:, 2:]) - torch.minimum(pred[:, :2], target[:, :2])).clamp(min=0)
    hull = hull_wh[:, 0] * hull_wh[:, 1]
    return iou - (hull - union) / hull, iou


def giou_loss(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``1 - GIoU`` and the per-row IoU. pred, target: (N, 4) corners.

    Rows whose corners are inverted (x2 < x1 or y2 < y1, e.g. from a NaN-free but broken prediction)
    make the whole term 0 with IoU 0, as the reference's failed sanity check does.
    """
    valid = bool((pred[:, 2:] >= pred[:, :2]).all()) and bool((target[:, 2:] >= target[:, :2]).all())
    if not valid:
        zero = pred.sum() * 0.0  # keeps the graph (and the device) without contributing gradient
        return zero, torch.zeros(pred.shape[0], dtype=pred.dtype, device=pred.device)
    giou, iou = paired_giou(pred, target)
    return (1 - giou).mean(), iou


def focal_loss(pred: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, summed over the batch and divided by the number of cells
    whose target is exactly 1 in the whole batch (the plain negative sum when there is none).

    pred: score map (B, 1, H, W) in (0, 1); target: `centre_heatmap` of the same shape.
    """
    positive = target.eq(1).to(pred.dtype)
    negative = target.lt(1).to(pred.dtype)
    pred = pred.clamp(min=1e-12)
    positive_sum = (torch.log(pred) * (1 - pred) ** alpha * positive).sum()
    negative_sum = (torch.log(1 - pred) * pred**alpha * (1 - target) ** beta * negative).sum()
    num_positive = positive.sum()
    if num_positive == 0:
        return -negative_sum
    return -(positive_sum + negative_sum) / num_positive


@dataclass
class LossTerms:
    """One batch's loss: ``total`` (differentiable) and its parts, and what they were computed from."""

    total: torch.Tensor
    giou: torch.Tensor
    l1: torch.Tensor
    focal: torch.Tensor
    iou: torch.Tensor  # (B,)
    target_map: torch.Tensor  # (B, 1, 16, 16)
    pred_xyxy: torch.Tensor  # (B, 4)
    gt_xyxy: torch.Tensor  # (B, 4), clamped

    def as_floats(self) -> dict[str, float]:
        """The values the authors log: total, giou, l1, location (focal) and the mean IoU."""
        return {
            "total": float(self.total.detach()),
            "giou": float(self.giou.detach()),
            "l1": float(self.l1.detach()),
            "location": float(self.focal.detach()),
            "iou": float(self.iou.detach().mean()),
        }


def tracking_loss(
    outputs: dict[str, torch.Tensor],
    search_boxes: torch.Tensor,
    weights: LossWeights = LossWeights(),
    target_map: torch.Tensor | None = None,
) -> LossTerms:
    """The SEATrack loss of one batch.

    outputs: the network's dict (``score_map`` (B,1,16,16), ``pred_boxes`` (B,1,4) cxcywh).
    search_boxes: (B, 4) ground truth, normalised (x, y, w, h) in the search crop, unclamped.
    target_map: a precomputed focal target (default: `centre_heatmap` of ``search_boxes``).
    """
    score_map = outputs["score_map"]
    pred_boxes = outputs["pred_boxes"]
    if torch.isnan(pred_boxes).any():
        raise FloatingPointError("the network produced NaN boxes; training diverged")
    if target_map is None:
        target_map = centre_heatmap(search_boxes, score_map.shape[-1])
    target_map = target_map.to(device=score_map.device, dtype=score_map.dtype)
    # Loss arithmetic in float32 even under autocast (the maps may arrive as bfloat16 / float16).
    pred_xyxy = cxcywh_to_xyxy(pred_boxes.float()).reshape(-1, 4)
    gt_xyxy = xywh_to_xyxy(search_boxes.to(pred_xyxy.device, torch.float32)).clamp(min=0.0, max=1.0)
    giou, iou = giou_loss(pred_xyxy, gt_xyxy)
    l1 = F.l1_loss(pred_xyxy, gt_xyxy)
    focal = focal_loss(score_map.float(), target_map.float())
    total = weights.giou * giou + weights.l1 * l1 + weights.focal * focal
    return LossTerms(total, giou, l1, focal, iou.detach(), target_map, pred_xyxy.detach(), gt_xyxy)
