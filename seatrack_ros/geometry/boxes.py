"""From network outputs to an image box: Hann window, peak decoding, mapping back, size damping, clipping."""

from __future__ import annotations

import math

import torch


def hann_window(size: int) -> torch.Tensor:
    """(size, size) float32 outer product of ``0.5 * (1 - cos(2 pi k / (size + 1)))``, k = 1..size.

    Computed in float32 with the same operations as the reference so the window is bitwise equal.
    """
    k = torch.arange(1, size + 1).float()
    w = 0.5 * (1 - torch.cos((2 * math.pi / (size + 1)) * k))
    return w.reshape(-1, 1) * w.reshape(1, -1)


def map_box_back(
    crop_box: tuple[float, float, float, float],
    previous_box: tuple[float, float, float, float],
    search_size: int,
    resize_factor: float,
) -> list[float]:
    """(cx, cy, w, h) in crop pixels (already divided by resize_factor) -> (x, y, w, h) in the image.

    The crop is centred on the previous box's centre, so its origin is that centre minus half the crop.
    """
    cx_prev = previous_box[0] + 0.5 * previous_box[2]
    cy_prev = previous_box[1] + 0.5 * previous_box[3]
    cx, cy, w, h = crop_box
    half_side = 0.5 * search_size / resize_factor
    cx_real = cx + (cx_prev - half_side)
    cy_real = cy + (cy_prev - half_side)
    return [cx_real - 0.5 * w, cy_real - 0.5 * h, w, h]


def clip_box(box: list[float], height: int, width: int, margin: int = 10) -> list[float]:
    """Keep at least ``margin`` px of the box inside the image (the reference's ``clip_box``).

    Note the right/bottom edges use the *unclipped* left/top coordinate, and w, h are at least margin.
    """
    x1, y1, w, h = box
    x2, y2 = x1 + w, y1 + h
    x1 = min(max(0, x1), width - margin)
    x2 = min(max(margin, x2), width)
    y1 = min(max(0, y1), height - margin)
    y2 = min(max(margin, y2), height)
    return [x1, y1, max(margin, x2 - x1), max(margin, y2 - y1)]


def finish_box(raw_box, previous_box, image_hw: tuple[int, int], settings, resize_factor: float):
    """The network's box at the windowed peak -> (clipped, unclipped) (x, y, w, h) boxes in the image.

    raw_box: float32 tensor (4,) of normalised (cx, cy, w, h) in the search crop. Scaled by
    ``search_size / resize_factor`` in float32 (the reference's arithmetic), mapped back around the
    previous box, its size moved only ``settings.size_update_rate`` of the way from the previous box's
    size to the predicted one (1.0: all the way, the reference's arithmetic untouched), and clipped so
    that ``clip_margin`` px stay inside the image: one tail for every tracker backend.
    """
    crop_box = (raw_box * settings.search_size / resize_factor).tolist()
    unclipped = map_box_back(crop_box, previous_box, settings.search_size, resize_factor)
    if settings.size_update_rate != 1.0:
        unclipped = damp_size(unclipped, previous_box, settings.size_update_rate)
    return clip_box(unclipped, image_hw[0], image_hw[1], settings.clip_margin), unclipped


def damp_size(box: list[float], previous_box, rate: float) -> list[float]:
    """``box`` (x, y, w, h) with its centre kept and w, h moved ``rate`` of the way from
    ``previous_box``'s w, h (0 < rate <= 1)."""
    cx, cy = box[0] + 0.5 * box[2], box[1] + 0.5 * box[3]
    w = previous_box[2] + rate * (box[2] - previous_box[2])
    h = previous_box[3] + rate * (box[3] - previous_box[3])
    return [cx - 0.5 * w, cy - 0.5 * h, w, h]


def box_inside_image(box, image_hw: tuple[int, int]) -> tuple[float, float, float, float]:
    """``box`` (x, y, w, h) cut to the image of (H, W): 0 <= x, x + w <= W, w > 0 (same for y, h).

    For published boxes only (the tracker keeps the reference's clipped state): the reference's
    `clip_box` keeps ``margin`` px inside, which on a frame narrower than the margin still reaches
    outside, and an operator's init box may lie partly outside. A box with nothing inside the image
    becomes the 1-px (or whole-side, for images under 1 px) box at the nearest edge. The values also
    stay inside once stored as float32 (as in seatrack_ros/Target): where rounding would push the far
    edge out, the width or height shrinks to the next float32 below.
    """
    height, width = image_hw
    x, y, w, h = (float(v) for v in box)
    x, w = _cut_interval(x, w, float(width))
    y, h = _cut_interval(y, h, float(height))
    return x, y, w, h


def _cut_interval(start: float, length: float, size: float) -> tuple[float, float]:
    import numpy as np

    lo = min(max(start, 0.0), size)
    hi = min(max(start + length, 0.0), size)
    if not hi > lo:  # nothing inside (or NaN): a thin box at the nearest edge
        side = min(1.0, size)
        lo = min(lo, size - side) if math.isfinite(lo) else 0.0
        hi = lo + side
    length = hi - lo
    lo32, length32 = np.float32(lo), np.float32(length)
    while float(lo32) + float(length32) > size or float(lo32) < 0.0:
        if float(lo32) < 0.0:
            lo32 = np.float32(0.0)
        else:
            length32 = np.nextafter(length32, np.float32(0.0))
    if float(lo32) != lo or float(length32) != length:
        return float(lo32), float(length32)
    return lo, length
