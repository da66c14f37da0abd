"""A colour likelihood of the target, as per-cell weights on the score map (the demo model's option).

The demo model is small: where the auxiliary image cannot single the target out (events: every moving
thing fires), a look-alike crossing the target can take the box over (docs/demo-model.md). Its
registry entry therefore multiplies the Hann-windowed score map by the RGB colour likelihood of the
target, the classic distractor-aware colour model of Possegger et al. (DAT, CVPR 2015) kept to its
core, fixed at the first frame:

- at `initialize`, RGB quantised to ``BINS`` levels per channel; the histogram of the target box
  (``H_o``) and of the ring around it out to ``RING`` times its size (``H_s``, clipped to the image) give
  ``P(target | colour) = (H_o + eps) / (H_o + H_s + 2 eps)`` per colour;
- each frame, that likelihood of every pixel of the RGB search crop, averaged over a box of the target's
  size (at crop scale) around each score cell's centre, divided by its maximum: ``prior`` (F, F) in
  (0, 1]; the weights are ``prior ** strength``.

Written here rather than taken from a library: OpenCV's back projection gives the per-pixel lookup
but not this two-region likelihood, and the whole model is a few array operations. The released
variants never use it (``TrackerSettings.colour_prior`` 0: the authors' tracker).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..geometry.crop import TrackerSettings, sample_crop

BINS = 8  # levels per RGB channel: coarse, so that blur and resampling keep a colour in its bin
RING = 3.0  # the surround's extent, in target sizes, around the box centre
EPS = 1e-3  # a colour seen in neither region: likelihood 1/2


def _quantise(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> (...) int bin index in [0, BINS**3)."""
    levels = rgb.astype(np.int32) * BINS // 256
    return (levels[..., 0] * BINS + levels[..., 1]) * BINS + levels[..., 2]


class ColourPrior:
    """The target's colour likelihood from one frame; `weights` maps a search crop to score-cell weights.

    ``rgb`` (H, W, 3) uint8 and ``box`` (x, y, w, h) px as `SEATracker.initialize` validated them.
    """

    def __init__(self, rgb: np.ndarray, box, strength: float) -> None:
        if not (math.isfinite(strength) and strength > 0):
            raise ValueError(f"colour prior strength must be finite and > 0, got {strength!r}")
        self.strength = float(strength)
        height, width = rgb.shape[:2]
        x, y, w, h = (float(v) for v in box)
        cx, cy = x + w / 2, y + h / 2
        # The surround's pixel range (pixel centres within RING/2 sizes of the box centre), in the image
        x0, x1 = max(0, math.ceil(cx - RING * w / 2 - 0.5)), min(width, math.floor(cx + RING * w / 2 - 0.5) + 1)
        y0, y1 = max(0, math.ceil(cy - RING * h / 2 - 0.5)), min(height, math.floor(cy + RING * h / 2 - 0.5) + 1)
        region = _quantise(rgb[y0:y1, x0:x1])
        cols = np.arange(x0, x1)
        rows = np.arange(y0, y1)
        inner = ((rows >= y) & (rows < y + h))[:, None] & ((cols >= x) & (cols < x + w))[None, :]
        target = np.bincount(region[inner], minlength=BINS**3).astype(np.float64)
        surround = np.bincount(region[~inner], minlength=BINS**3).astype(np.float64)
        self.likelihood = ((target + EPS) / (target + surround + 2 * EPS)).astype(np.float32)  # (BINS**3,)

    def weights(self, rgb: np.ndarray, state, settings: TrackerSettings, feat: int) -> np.ndarray:
        """(F, F) float32 weights in (0, 1] for the score map of the search crop around ``state``."""
        crop, resize_factor = sample_crop(rgb, state, settings.search_factor, settings.search_size)
        pixels = self.likelihood[_quantise(crop)]  # (S, S)
        box_w = max(int(round(state[2] * resize_factor)), 1)
        box_h = max(int(round(state[3] * resize_factor)), 1)
        mean = cv2.boxFilter(pixels, -1, (box_w, box_h), borderType=cv2.BORDER_CONSTANT)
        centres = ((np.arange(feat) + 0.5) * (settings.search_size / feat)).astype(np.intp)
        prior = mean[np.ix_(centres, centres)]
        peak = float(prior.max())
        if not (math.isfinite(peak) and peak > 0):  # cannot happen with EPS > 0; never weight by NaN
            return np.ones((feat, feat), np.float32)
        return ((prior / peak) ** self.strength).astype(np.float32)
