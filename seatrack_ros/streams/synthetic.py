"""A small synthetic multimodal sequence for demos and tests (no camera, no dataset needed).

A textured square moves over a textured background. Per frame there is an RGB image and the
auxiliary data the chosen modality's sensor would publish: a thermal mono8 image (the target is
warm), a depth 16UC1 image in millimetres (the target is nearer than the background) or raw events
(ON events along the target's leading edge, OFF along the trailing edge, timestamps spread over the
frame interval). Everything is deterministic for a given seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np


@dataclass
class SyntheticFrame:
    """One frame. ``rgb``: (H, W, 3) uint8 RGB. ``aux``: (H, W) uint8 thermal (encoding ``mono8``),
    (H, W) uint16 depth in mm (``16UC1``) or None for events. ``events``: ``(x, y, t_ns, polarity)``
    1-D arrays (uint16, uint16, int64 ns absolute, uint8 0/1) covering ``[stamp_ns - period, stamp_ns)``,
    or None. ``box``: ground-truth (x, y, w, h) in pixels. ``stamp_ns``: capture time."""

    rgb: np.ndarray
    aux: Optional[np.ndarray]
    aux_encoding: Optional[str]
    events: Optional[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    box: tuple[float, float, float, float]
    stamp_ns: int


def _texture(rng: np.random.Generator, height: int, width: int, scale: int) -> np.ndarray:
    coarse = rng.integers(0, 256, size=(max(2, height // scale), max(2, width // scale), 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def target_box(index: int, height: int, width: int, size: int) -> tuple[float, float, float, float]:
    """Ground-truth box of frame ``index``: a Lissajous path inside the image."""
    cx = width / 2 + 0.3 * width * np.sin(index * 0.12)
    cy = height / 2 + 0.25 * height * np.sin(index * 0.07 + 0.5)
    return (float(round(cx - size / 2)), float(round(cy - size / 2)), float(size), float(size))


def make_sequence(count: int, modality: str = "thermal", height: int = 512, width: int = 640,
                  fps: float = 30.0, start_ns: Optional[int] = None, seed: int = 0,
                  target_size: Optional[int] = None) -> list[SyntheticFrame]:
    """Generate ``count`` frames (see :class:`SyntheticFrame`) for ``modality`` thermal, depth or event.
    ``start_ns``: first stamp (default: now, so latencies computed from stamps are meaningful)."""
    if start_ns is None:
        start_ns = time.time_ns()
    from seatrack_ros.modalities import MODALITIES

    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}")
    rng = np.random.default_rng(seed)
    size = target_size or max(16, min(height, width) // 6)
    background = _texture(rng, height, width, 24)
    patch = _texture(rng, size, size, 4)
    patch[::8] = (255, 230, 40)  # stripes make the target distinct from the background
    period_ns = int(round(1e9 / fps))
    yy, xx = np.mgrid[0:height, 0:width]
    frames = []
    previous_mask = None
    for index in range(count):
        x, y, w, h = target_box(index, height, width, size)
        x0, y0 = int(x), int(y)
        rgb = background.copy()
        rgb[y0:y0 + size, x0:x0 + size] = patch
        mask = (xx >= x0) & (xx < x0 + size) & (yy >= y0) & (yy < y0 + size)
        stamp_ns = start_ns + index * period_ns
        aux = events = encoding = None
        if modality == "thermal":
            grey = cv2.cvtColor(background, cv2.COLOR_RGB2GRAY) // 3 + 40
            grey[mask] = 200 + (cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY)[:, :].ravel() // 8)
            aux, encoding = grey.astype(np.uint8), "mono8"
        elif modality == "depth":
            depth = (4000 + 1500 * yy / height).astype(np.uint16)
            depth[mask] = 1500
            depth[:4, :4] = 0  # a few pixels without a return, as real sensors have
            aux, encoding = depth, "16UC1"
        else:
            if previous_mask is None:
                previous_mask = mask
            on = mask & ~previous_mask
            off = previous_mask & ~mask
            noise = rng.random((height, width)) < 0.002
            ys_on, xs_on = np.nonzero(on | (noise & ~off))
            ys_off, xs_off = np.nonzero(off)
            xs = np.concatenate([xs_on, xs_off]).astype(np.uint16)
            ys = np.concatenate([ys_on, ys_off]).astype(np.uint16)
            polarity = np.concatenate([np.ones(len(xs_on), np.uint8), np.zeros(len(xs_off), np.uint8)])
            times = stamp_ns - period_ns + rng.integers(0, period_ns, size=len(xs), dtype=np.int64)
            order = np.argsort(times, kind="stable")
            events = (xs[order], ys[order], times[order], polarity[order])
        previous_mask = mask
        frames.append(SyntheticFrame(rgb, aux, encoding, events, (x, y, w, h), stamp_ns))
    return frames
