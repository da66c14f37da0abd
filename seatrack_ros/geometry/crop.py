"""Square crops around a box, resized for the network (OSTrack's ``sample_target``, quirks included)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class CropWindow:
    """Where a crop of side ``crop_size`` px starts in the image, and its zero padding on each side."""

    x1: int
    y1: int
    crop_size: int
    pad_left: int
    pad_right: int
    pad_top: int
    pad_bottom: int


def crop_window(box: tuple[float, float, float, float], factor: float, image_hw: tuple[int, int]) -> CropWindow:
    """Crop geometry for ``box`` = (x, y, w, h) px, a square of side ``ceil(sqrt(w*h) * factor)``.

    The crop is centred on the box with Python's ``round`` (banker's rounding). Quirk kept from the
    reference: the right/bottom pads are ``x2 - W + 1`` / ``y2 - H + 1``, so a crop that reaches the
    right or bottom border loses the last image column/row to padding.
    """
    x, y, w, h = (float(v) for v in box)
    crop_size = math.ceil(math.sqrt(w * h) * factor)
    if crop_size < 1:
        raise InputError("box", f"box {box} is too small to crop (crop size {crop_size})")
    height, width = image_hw
    x1 = round(x + 0.5 * w - crop_size * 0.5)
    y1 = round(y + 0.5 * h - crop_size * 0.5)
    x2, y2 = x1 + crop_size, y1 + crop_size
    return CropWindow(
        x1=x1,
        y1=y1,
        crop_size=crop_size,
        pad_left=max(0, -x1),
        pad_right=max(x2 - width + 1, 0),
        pad_top=max(0, -y1),
        pad_bottom=max(y2 - height + 1, 0),
    )


def window_is_regular(window: CropWindow, image_hw: tuple[int, int]) -> bool:
    """True when the crop is the plain ``crop_size`` square around the box.

    False when the window's in-image part is empty or its end index is <= 0: the reference's slicing
    then wraps around (Python negative indices) and takes pixels from the far side of the image. Only a
    box mostly outside the image produces such a window; tracked (clipped) states never do.
    """
    for start, pad_low, pad_high in (
        (window.y1, window.pad_top, window.pad_bottom),
        (window.x1, window.pad_left, window.pad_right),
    ):
        begin = start + pad_low
        end = start + window.crop_size - pad_high
        if end <= 0 or end <= begin:
            return False
    return True


def sample_crop(
    image: np.ndarray | Sequence[np.ndarray], box: tuple[float, float, float, float], factor: float, output_size: int
) -> tuple[np.ndarray, float]:
    """Crop ``image`` (H, W, C) uint8 around ``box`` and resize to (output_size, output_size, C).

    ``image`` may also be a sequence of planes (H, W, C_i) of one size (e.g. ``(rgb, aux)``), cropped
    as if stacked along the channels: the same bytes as cropping ``np.concatenate(planes, axis=2)``,
    without stacking the whole frames (at 640x512 that copy alone costs several times the crop).
    Outside the image is zero. Resizing uses OpenCV's default bilinear filter on all C channels at once
    (needed for byte-exact crops). Returns the crop and ``resize_factor = output_size / crop_size``.
    """
    planes = (image,) if isinstance(image, np.ndarray) else tuple(image)
    image_hw = planes[0].shape[:2]
    win = crop_window(box, factor, image_hw)
    x2, y2 = win.x1 + win.crop_size, win.y1 + win.crop_size
    rows = slice(win.y1 + win.pad_top, y2 - win.pad_bottom)
    cols = slice(win.x1 + win.pad_left, x2 - win.pad_right)
    parts = [plane[rows, cols] for plane in planes]
    inside = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=2)
    if inside.size == 0:
        raise InputError("box", f"box {box} lies outside the {image_hw[1]}x{image_hw[0]} image")
    padded = cv2.copyMakeBorder(
        inside, win.pad_top, win.pad_bottom, win.pad_left, win.pad_right, cv2.BORDER_CONSTANT, value=0
    )
    if padded.ndim == 2:  # OpenCV drops a trailing channel axis of size 1
        padded = padded[:, :, None]
    resized = cv2.resize(padded, (output_size, output_size))
    if resized.ndim == 2:
        resized = resized[:, :, None]
    return resized, output_size / win.crop_size


@dataclass(frozen=True)
class TrackerSettings:
    """The tracker's test settings; the defaults are the released models' (the authors' tracker).

    size_update_rate: the share of the predicted change in box size the tracker takes each frame,
        ``w = w_prev + rate * (w_pred - w_prev)`` (and h), around the predicted centre. 1.0 (default)
        takes the predicted size as is, the authors' tracker. The demo model's registry entry sets less
        (see `seatrack_ros.model.build` and docs/demo-model.md): its coarse 8x8 score grid lets the box
        swell over a target and a passing look-alike at once, the first step of losing the target.
    colour_prior: the strength of the target's RGB colour likelihood as weights on the score map
        (`seatrack_ros.tracker.colour_prior`): 0.0 (default) uses none, the authors' tracker; the demo
        model's registry entry sets 1.0, so that a look-alike of other colours crossing the target does
        not take the box over where the auxiliary image (events) shows both alike.
    """

    template_factor: float = 2.0
    template_size: int = 128
    search_factor: float = 4.0
    search_size: int = 256
    clip_margin: int = 10
    size_update_rate: float = 1.0
    colour_prior: float = 0.0

    def __post_init__(self) -> None:
        if not (0.0 < self.size_update_rate <= 1.0):  # also refuses NaN
            raise ValueError(f"size_update_rate must lie in (0, 1], got {self.size_update_rate!r}")
        if not (0.0 <= self.colour_prior <= 10.0):  # also refuses NaN
            raise ValueError(f"colour_prior must lie in [0, 10], got {self.colour_prior!r}")
