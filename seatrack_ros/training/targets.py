"""The focal-loss target: one Gaussian peak per search crop on the 16x16 score-map grid.

The recipe (CenterNet / OSTrack, as the SEATrack authors train it; see docs/training.md):

- the ground-truth box (x, y, w, h, normalised to the search crop and *not* clamped) is scaled to map
  cells (x 16 for a 256 px crop and stride 16);
- the peak cell is ``round(centre)`` with torch's round-half-to-even (8.5 -> 8);
- the radius is CornerNet's ``gaussian_radius`` in its widely copied "bug" variant (each root divided
  by 2 rather than 2a), min overlap 0.7, clamped at 0 and truncated to an integer;
- the kernel is ``exp(-(dx^2 + dy^2) / (2 sigma^2))`` over -r..r with ``sigma = (2r + 1) / 6``, built in
  float64, values below ``eps * max`` zeroed, then stored as float32;
- the kernel is cut where it leaves the map, so a peak near the border keeps only its in-map part and a
  centre far outside the map draws nothing (that sample then has no positive cell).
"""

from __future__ import annotations

import numpy as np
import torch

MIN_OVERLAP = 0.7
SIGMA_DIVISOR = 6.0  # sigma = diameter / 6


def gaussian_radius(wh: torch.Tensor, min_overlap: float = MIN_OVERLAP) -> torch.Tensor:
    """Integer radius per box. wh: (N, 2) float box sizes in map cells -> (N,) int64.

    The arithmetic runs in ``wh``'s dtype (float32 in training), so the truncation to an integer gives
    the same radius as the reference for sizes near a boundary.
    """
    width, height = wh[..., 0], wh[..., 1]
    # Root of x^2 - (w+h) x + w h (1-o)/(1+o), divided by 2 (the reference's "bug" variant).
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + torch.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + torch.sqrt(b2**2 - 4 * 4 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / 2
    radius = torch.clamp_min(torch.minimum(r1, torch.minimum(r2, r3)), 0)
    return radius.to(torch.int32).to(torch.int64)  # truncation toward zero, as int() of the float


def gaussian_kernel(radius: int, sigma_divisor: float = SIGMA_DIVISOR) -> np.ndarray:
    """(2r+1, 2r+1) float64 kernel with peak 1 at the centre, sigma = (2r+1) / sigma_divisor."""
    sigma = (2 * radius + 1) / sigma_divisor
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    squared = offsets[:, None] ** 2 + offsets[None, :] ** 2
    kernel = np.exp(-squared / (2 * sigma * sigma))
    kernel[kernel < np.finfo(np.float64).eps * kernel.max()] = 0
    return kernel


def centre_heatmap(
    boxes: torch.Tensor, map_size: int = 16, sigma_divisor: float = SIGMA_DIVISOR
) -> torch.Tensor:
    """Focal-loss targets for a batch.

    boxes: (B, 4) normalised (x, y, w, h) in search-crop units, unclamped, float32.
    Returns (B, 1, map_size, map_size) float32: zero except one Gaussian per sample (peak exactly 1 at
    the rounded centre cell when that cell lies on the map).
    """
    boxes = boxes.detach().to("cpu")
    scaled = boxes * map_size
    wh = scaled[:, 2:]
    centres = torch.round(scaled[:, :2] + wh / 2)  # half to even
    radii = gaussian_radius(wh)
    heatmap = torch.zeros(boxes.shape[0], map_size, map_size, dtype=torch.float32)
    for i in range(boxes.shape[0]):
        radius = int(radii[i])
        cx, cy = int(centres[i, 0]), int(centres[i, 1])
        kernel = torch.from_numpy(gaussian_kernel(radius, sigma_divisor).astype(np.float32))
        # The kernel covers cells cx-r .. cx+r (and the same in y); keep the part on the map.
        x0, x1 = max(cx - radius, 0), min(cx + radius + 1, map_size)
        y0, y1 = max(cy - radius, 0), min(cy + radius + 1, map_size)
        if x0 >= x1 or y0 >= y1:
            continue
        patch = kernel[y0 - (cy - radius) : y1 - (cy - radius), x0 - (cx - radius) : x1 - (cx - radius)]
        heatmap[i, y0:y1, x0:x1] = torch.maximum(heatmap[i, y0:y1, x0:x1], patch)
    return heatmap.unsqueeze(1)
