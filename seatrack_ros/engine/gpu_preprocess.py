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
``sum / 4`` half to even instead, so that case gets a correction, selected by a flag in the tables.

Windows whose bottom or right end lies at or above/left of the image's first row/column are not
square after the host path's slicing (Python wraps the negative end index); `window_is_regular`
says when a window is safe here, and callers crop such frames on the host.

All per-frame geometry goes into small index/weight tables (`CropTables`) built on the host, so the
device work has a fixed shape and can be captured in a CUDA graph: only the tables change per frame.
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
# ROW_FLAGS[0] of axis 0 is 1 when OpenCV would use its area filter (exact 2x downscale).
ROW_SRC0, ROW_SRC1, ROW_VALID0, ROW_VALID1, ROW_W0, ROW_W1, ROW_FLAGS = range(7)
TABLE_ROWS = 7
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


def _axis_table(start: int, crop_size: int, pad_low: int, pad_high: int, extent: int, out_size: int, is_x: bool) -> np.ndarray:
    """(TABLE_ROWS, out_size) int32 table for one axis: image indices, validity and weights."""
    src0, src1, w0, w1 = _axis_coefficients(crop_size, out_size, is_x)
    valid_lo = start + pad_low
    valid_hi = start + crop_size - pad_high  # the reference's right/bottom pad quirk lives in pad_high
    table = np.empty((TABLE_ROWS, out_size), dtype=np.int32)
    for row_src, row_valid, src in ((ROW_SRC0, ROW_VALID0, src0), (ROW_SRC1, ROW_VALID1, src1)):
        image_index = start + src
        table[row_valid] = (image_index >= valid_lo) & (image_index < valid_hi)
        table[row_src] = np.clip(image_index, 0, extent - 1)
    table[ROW_W0] = w0
    table[ROW_W1] = w1
    table[ROW_FLAGS] = 0
    table[ROW_FLAGS, 0] = int(crop_size == 2 * out_size)
    return table


def crop_tables(window: CropWindow, image_hw: tuple[int, int], out_size: int) -> np.ndarray:
    """Host-side geometry of one crop: (2, TABLE_ROWS, out_size) int32, axis 0 = y, axis 1 = x."""
    height, width = image_hw
    ty = _axis_table(window.y1, window.crop_size, window.pad_top, window.pad_bottom, height, out_size, False)
    tx = _axis_table(window.x1, window.crop_size, window.pad_left, window.pad_right, width, out_size, True)
    return np.stack([ty, tx])


def crop_resize(frame: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
    """Crop + zero-pad + OpenCV-bilinear resize of a frame, in integer arithmetic.

    frame: (H, W, C) uint8 (any device). tables: (2, TABLE_ROWS, S) int32 from `crop_tables`, on the same
    device. Returns (S, S, C) uint8, byte-identical to `sample_crop` on the same frame and box.
    """
    height, width, channels = frame.shape
    size = tables.shape[-1]
    ty, tx = tables[0].long(), tables[1].long()
    flat = frame.reshape(height * width, channels)
    rows = torch.stack([ty[ROW_SRC0], ty[ROW_SRC1]])  # (2, S)
    cols = torch.stack([tx[ROW_SRC0], tx[ROW_SRC1]])  # (2, S)
    index = (rows[:, None, :, None] * width + cols[None, :, None, :]).reshape(-1)  # (2y, 2x, S, S)
    pixels = flat.index_select(0, index).reshape(2, 2, size, size, channels).to(torch.int32)
    valid_y = torch.stack([tables[0, ROW_VALID0], tables[0, ROW_VALID1]])  # (2, S)
    valid_x = torch.stack([tables[1, ROW_VALID0], tables[1, ROW_VALID1]])
    pixels = pixels * (valid_y[:, None, :, None, None] * valid_x[None, :, None, :, None])
    a0 = tables[1, ROW_W0][None, :, None]
    a1 = tables[1, ROW_W1][None, :, None]
    horizontal = pixels[:, 0] * a0 + pixels[:, 1] * a1  # (2 rows, S, S, C), up to 255 * 2048
    b0 = tables[0, ROW_W0][:, None, None]
    b1 = tables[0, ROW_W1][:, None, None]
    top = (b0 * (horizontal[0] >> 4)) >> 16
    bottom = (b1 * (horizontal[1] >> 4)) >> 16
    out = (top + bottom + 2) >> 2
    if channels not in AREA_HALF_UP_CHANNELS:
        # Area mode: out = (sum + 2) >> 2 here; OpenCV rounds sum / 4 half to even, i.e. one lower when
        # sum % 4 == 2 and sum // 4 is even.
        block_sum = pixels.sum(dim=(0, 1))
        tie_down = ((block_sum & 3) == 2) & (((block_sum >> 2) & 1) == 0)
        out = out - tie_down.to(torch.int32) * tables[0, ROW_FLAGS, 0]
    return out.clamp_(0, 255).to(torch.uint8)


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
