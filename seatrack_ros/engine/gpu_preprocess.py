"""Crop, resize and normalise on the device (torch only), reproducing the host path's crops.

The host path (`seatrack_ros.geometry.crop.sample_crop`) cuts a square window, pads it with zeros and
resizes it with OpenCV's default bilinear filter. On uint8 images OpenCV's bilinear is fixed-point
arithmetic, not a float interpolation, so `torch.nn.functional.interpolate` would differ by a grey
level here and there. This module redoes OpenCV's integer arithmetic with torch integer ops, which
gives byte-identical crops on any device (checked against `cv2.resize` in the tests):

- per output column ``dx``: ``fx = float32((dx + 0.5) * scale - 0.5)`` with ``scale = 1 / (out / crop)``,
  ``sx = floor(fx)``; columns left of the image use ``sx = 0, fx = 0``, columns at or right of the last
  one use ``sx = crop - 1, fx = 0``; weights ``a0 = rint((1 - fx) * 2048)``, ``a1 = rint(fx * 2048)``;
- per output row: the same ``fy``, ``sy``, weights ``b0, b1`` from the *unclamped* ``fy``, and the two
  source rows clamped into the crop;
- horizontal pass in int32 (``p0 * a0 + p1 * a1``), then OpenCV's vectorised vertical pass
  ``((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2) >> 2``, saturated to 0..255.

That vertical formula is the one OpenCV's SIMD loop uses; its scalar tail (rows whose
``width * channels`` is not a multiple of the vector width) rounds ``(b0*h0 + b1*h1 + 2**21) >> 22``
instead. Every crop the tracker makes (128 and 256 px, 6 channels) runs entirely in the SIMD loop.

An exact 2x downscale (crop side = 2 * output side) is routed by OpenCV to its area filter, the mean
of each 2x2 block. With a0 = a1 = b0 = b1 = 1024 the formula above gives ``(sum + 2) >> 2``, which is
what OpenCV's vector code does for 1, 3 and 4 channels; for other channel counts (6 here) it rounds
``sum / 4`` half to even instead, so that case gets a correction, selected by a tie value in the tables.

Windows whose bottom or right end lies at or above/left of the image's first row/column are not
square after the host path's slicing (Python wraps the negative end index); `window_is_regular`
says when a window is safe here, and callers crop such frames on the host.

All per-frame geometry goes into small index/weight tables (`CropTables`) built on the host, so the
device work has a fixed shape and can be captured in a CUDA graph: only the tables change per frame.
The tables hold flat source offsets (rows premultiplied by the width, the second plane's rows by the
plane size too) and weights already multiplied by the source's validity (0 on the zero padding), so
the device does one broadcast add, one gather and the fixed-point arithmetic: 14 kernels, no copy of
the frame (`crop_resize_planes`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from ..geometry.crop import CropWindow, window_is_regular  # noqa: F401 (re-exported)
from ..model.seatrack import normalize_crop  # noqa: F401 (re-exported: the model holds the normalisation)

RESIZE_COEF_BITS = 11
RESIZE_COEF_SCALE = 1 << RESIZE_COEF_BITS

# Rows of the per-axis table (int32, shape (2 axes, TABLE_ROWS, out_size)); axis 0 = y, axis 1 = x.
# ROW_SRC0/1: the two source positions, as flat offsets: axis y ``row * width`` (rows ROW_PLANE2_SRC0/1:
# the same plus ``height * width``, for the second plane of a (2, H, W, C) frame), axis x the column.
# ROW_W0/1: OpenCV's fixed-point weights times the source's validity (0 on the zero padding), so that
# a padded pixel contributes nothing without being masked. ROW_TIE[0] of axis y: the value of
# ``sum & 7`` that OpenCV's 2x area filter rounds one lower (2), or 8 (never) off that filter.
ROW_SRC0, ROW_SRC1, ROW_PLANE2_SRC0, ROW_PLANE2_SRC1, ROW_W0, ROW_W1, ROW_TIE = range(7)
TABLE_ROWS = 7
NO_TIE = 8  # no value of (sum & 7)
# Channel counts whose 2x area filter rounds half up (OpenCV's vector code); others round half to even.
AREA_HALF_UP_CHANNELS = (1, 3, 4)


@functools.lru_cache(maxsize=256)
def _axis_coefficients(crop_size: int, out_size: int, clamp_weights: bool) -> tuple[np.ndarray, ...]:
    """OpenCV's bilinear source indices and fixed-point weights along one axis of a crop.

    Returns int64 arrays of length ``out_size``: source index 0 and 1 inside the (padded) crop, in
    ``[0, crop_size)``, and the weights for each (summing to about 2048). ``clamp_weights`` selects
    OpenCV's column rule (borders get weight 2048 on the edge pixel) over its row rule (weights from
    the unclamped position, row indices clamped).
    """
    scale = 1.0 / (out_size / crop_size)  # OpenCV stores the inverse scale and inverts it in double
    d = np.arange(out_size, dtype=np.float64)
    f = ((d + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = (f - s.astype(np.float32)).astype(np.float32)
    if clamp_weights:
        low, high = s < 0, s >= crop_size - 1
        f = np.where(low | high, np.float32(0), f).astype(np.float32)
        s = np.where(low, 0, np.where(high, crop_size - 1, s))
    one = np.float32(1.0)
    scale_w = np.float32(RESIZE_COEF_SCALE)
    w0 = np.rint((one - f) * scale_w).astype(np.int64)
    w1 = np.rint(f * scale_w).astype(np.int64)
    src0 = np.clip(s, 0, crop_size - 1)
    src1 = np.clip(s + 1, 0, crop_size - 1)
    for a in (src0, src1, w0, w1):
        a.setflags(write=False)
    return src0, src1, w0, w1


def _axis_table(start: int, crop_size: int, pad_low: int, pad_high: int, image_hw: tuple[int, int],
                out_size: int, is_x: bool) -> np.ndarray:
    """(TABLE_ROWS, out_size) int32 table for one axis: flat source offsets and weights (see ROW_*)."""
    height, width = image_hw
    extent = width if is_x else height
    src0, src1, w0, w1 = _axis_coefficients(crop_size, out_size, is_x)
    valid_lo = start + pad_low
    valid_hi = start + crop_size - pad_high  # the reference's right/bottom pad quirk lives in pad_high
    table = np.zeros((TABLE_ROWS, out_size), dtype=np.int64)
    step = 1 if is_x else width
    for row_src, row_weight, src, weight in ((ROW_SRC0, ROW_W0, src0, w0), (ROW_SRC1, ROW_W1, src1, w1)):
        image_index = start + src
        valid = (image_index >= valid_lo) & (image_index < valid_hi)
        table[row_src] = np.clip(image_index, 0, extent - 1) * step
        table[row_weight] = weight * valid
    if not is_x:
        table[ROW_PLANE2_SRC0] = table[ROW_SRC0] + height * width
        table[ROW_PLANE2_SRC1] = table[ROW_SRC1] + height * width
        table[ROW_TIE] = NO_TIE
        table[ROW_TIE, 0] = 2 if crop_size == 2 * out_size else NO_TIE
    return table.astype(np.int32)


def crop_tables(window: CropWindow, image_hw: tuple[int, int], out_size: int) -> np.ndarray:
    """Host-side geometry of one crop: (2, TABLE_ROWS, out_size) int32, axis 0 = y, axis 1 = x."""
    ty = _axis_table(window.y1, window.crop_size, window.pad_top, window.pad_bottom, image_hw, out_size, False)
    tx = _axis_table(window.x1, window.crop_size, window.pad_left, window.pad_right, image_hw, out_size, True)
    return np.stack([ty, tx])


def rows_read(window: CropWindow, image_hw: tuple[int, int]) -> tuple[int, int]:
    """[top, bottom) image rows that `crop_tables` for ``window`` can read: the window's rows clamped
    into the image, as the tables clamp every source row. Only these rows need uploading."""
    last = image_hw[0] - 1
    top = min(max(window.y1, 0), last)
    bottom = min(max(window.y1 + window.crop_size - 1, 0), last) + 1
    return top, bottom


def crop_resize_planes(frame: torch.Tensor, tables: torch.Tensor, channels: int | None = None) -> torch.Tensor:
    """Crop + zero-pad + OpenCV-bilinear resize of the planes of a frame, in integer arithmetic.

    frame: (P, H, W, C) uint8 with P = 1 or 2 (any device), the planes side by side in channels as the
    host crops them (P * C channels). tables: (2, TABLE_ROWS, S) int32 from `crop_tables`, same device.
    channels: the channel count OpenCV sees (default P * C; it picks the area filter's rounding).
    Returns (P, S, S, C) int32 in 0..255, each plane's channels of `sample_crop`'s crop, byte-identical.
    11 kernels (14 for channel counts whose area filter rounds half to even, as for the tracker's 6), none of them a copy of
    the frame.
    """
    planes, height, width, depth = frame.shape
    size = tables.shape[-1]
    ty, tx = tables[0], tables[1]
    # flat source pixel of (plane, source row r, source column c, y, x): one broadcast add
    rows = ty[ROW_SRC0 : ROW_SRC0 + 2 * planes].view(planes, 2, 1, size, 1)  # plane 2 rows follow plane 1
    index = rows + tx[ROW_SRC0 : ROW_SRC1 + 1].view(1, 1, 2, 1, size)  # (P, 2, 2, S, S)
    pixels = frame.reshape(planes * height * width, depth).index_select(0, index.view(-1))
    pixels = pixels.view(planes, 2, 2, size, size, depth)
    # horizontal pass: uint8 * int32 weights -> int32, summed over the two source columns
    horizontal = (pixels * tx[ROW_W0 : ROW_W1 + 1].view(1, 1, 2, 1, size, 1)).sum(dim=2, dtype=torch.int32)
    # OpenCV's vectorised vertical pass, per source row, then summed: t = top + bottom
    vertical = ((horizontal >> 4) * ty[ROW_W0 : ROW_W1 + 1].view(1, 2, size, 1, 1)) >> 16
    total = vertical.sum(dim=1, dtype=torch.int32)  # (P, S, S, C)
    out = (total + 2) >> 2
    if (channels or planes * depth) not in AREA_HALF_UP_CHANNELS:
        # On the area filter (a0 = a1 = b0 = b1 = 1024) top and bottom are exactly the two rows' pixel
        # sums, so ``total`` is the 2x2 block sum; OpenCV rounds sum / 4 half to even, one lower than
        # (sum + 2) >> 2 when sum % 4 == 2 and sum // 4 is even, i.e. when sum & 7 == 2.
        out = torch.add(out, (total & 7) == ty[ROW_TIE, 0], alpha=-1)  # int32 minus a bool mask
    return out.clamp_(max=255)


def crop_resize(frame: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
    """`crop_resize_planes` of one (H, W, C) uint8 frame: (S, S, C) uint8, byte-identical to
    `sample_crop` on the same frame and box."""
    return crop_resize_planes(frame[None], tables)[0].to(torch.uint8)


@dataclass
class CropTables:
    """Static device buffers for one crop size, so a captured graph can read new geometry each frame.

    host: pinned (when available) int32 (2, TABLE_ROWS, S); device: the same on the device.
    """

    host: torch.Tensor
    device: torch.Tensor

    @classmethod
    def allocate(cls, out_size: int, device: torch.device) -> "CropTables":
        pin = device.type == "cuda"
        host = torch.zeros((2, TABLE_ROWS, out_size), dtype=torch.int32, pin_memory=pin)
        return cls(host=host, device=torch.zeros_like(host, device=device))

    def upload(self, tables: np.ndarray, stream: torch.cuda.Stream | None = None) -> None:
        """Write new tables into the host buffer and queue an asynchronous copy to the device buffer."""
        self.host.numpy()[...] = tables
        if stream is None:
            self.device.copy_(self.host)
        else:
            with torch.cuda.stream(stream):
                self.device.copy_(self.host, non_blocking=True)
