"""Builders of tiny synthetic benchmark sequences (every supported folder layout) and a fake tracker,
shared by the offline tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

H, W = 48, 64

# Distinct per-channel values so a swapped channel order is visible. RGB_COLOR is in RGB order.
RGB_COLOR = (200, 100, 30)
THERMAL_BGR = (10, 90, 170)  # as stored on disk (OpenCV writes BGR)


def _uniform(color, h=H, w=W):
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = color
    return img


def write_rgb(path: Path, rgb_color=RGB_COLOR):
    """Write a uniform frame whose colour, read back as RGB, is ``rgb_color``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), _uniform(rgb_color[::-1]))


def write_bgr(path: Path, bgr_color):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), _uniform(bgr_color))


def boxes_text(boxes, delimiter=",", newline="\n"):
    return "".join(delimiter.join(f"{v:g}" for v in b) + newline for b in boxes)


def default_gt(n):
    return [(10 + i, 12, 20, 16) for i in range(n)]


def make_rgbt_sequence(root: Path, name: str, n: int = 4, corners: bool = False, gt=None, gt_i=None,
                       newline="\n", delimiter=","):
    """LasHeR / RGBT234 layout: visible/, infrared/ (jpg), visible.txt, infrared.txt."""
    seq = root / name
    gt = gt or default_gt(n)
    gt_i = gt_i or gt
    for i in range(n):
        write_rgb(seq / "visible" / f"v{i + 1:06d}.jpg")
        write_bgr(seq / "infrared" / f"i{i + 1:06d}.jpg", THERMAL_BGR)
    for fname, boxes in (("visible.txt", gt), ("infrared.txt", gt_i)):
        if corners:
            rows = [(x, y, x + w, y, x + w, y + h, x, y + h) for x, y, w, h in boxes]
        else:
            rows = boxes
        (seq / fname).write_bytes(boxes_text(rows, delimiter, newline).encode())
    return seq


def make_gtot_sequence(root: Path, name: str, n: int = 4, gt=None):
    """GTOT layout: v/, i/ (png), groundTruth_v.txt / groundTruth_i.txt as 'x1 y1 x2 y2'."""
    seq = root / name
    gt = gt or default_gt(n)
    for i in range(n):
        write_rgb(seq / "v" / f"{i + 1:05d}v.png")
        write_bgr(seq / "i" / f"{i + 1:05d}i.png", THERMAL_BGR)
    ltrb = [(x, y, x + w, y + h) for x, y, w, h in gt]
    (seq / "groundTruth_v.txt").write_text(boxes_text(ltrb, " "))
    (seq / "groundTruth_i.txt").write_text(boxes_text(ltrb, " "))
    return seq


EVENT_BGR = (220, 30, 30)  # an OFF-event-coloured frame as stored in event_imgs/ (BGR)


def make_visevent_sequence(root: Path, name: str, n: int = 5, absent=None, gt=None):
    """VisEvent layout: vis_imgs/, event_imgs/ (bmp), groundtruth.txt, absent_label.txt (1 = present)."""
    seq = root / name
    absent = absent if absent is not None else [0] * n
    gt = gt or [(0, 0, 0, 0) if a else b for a, b in zip(absent, default_gt(n))]
    for i in range(n):
        write_rgb(seq / "vis_imgs" / f"frame{i:04d}.bmp")
        write_bgr(seq / "event_imgs" / f"frame{i:04d}.bmp", EVENT_BGR)
    (seq / "groundtruth.txt").write_text(boxes_text(gt))
    (seq / "absent_label.txt").write_text("".join(f"{0 if a else 1}\n" for a in absent))
    return seq


def depth_frame(i):
    depth = np.full((H, W), 1000 + 100 * i, np.uint16)
    depth[:, : W // 2] = 3000
    depth[0, 0] = 0
    return depth


def make_depthtrack_sequence(root: Path, name: str, n: int = 4, absent_frames=()):
    """DepthTrack layout: color/%08d.jpg, depth/%08d.png (uint16 mm), groundtruth.txt with nan rows."""
    seq = root / name
    (seq / "depth").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_rgb(seq / "color" / f"{i + 1:08d}.jpg")
        assert cv2.imwrite(str(seq / "depth" / f"{i + 1:08d}.png"), depth_frame(i))
    gt = default_gt(n)
    lines = ["nan,nan,nan,nan\n" if i in absent_frames else boxes_text([gt[i]]) for i in range(n)]
    (seq / "groundtruth.txt").write_text("".join(lines))
    return seq


@dataclass
class FakeResult:
    box: tuple
    score: float


class FakeTracker:
    """Moves the box 2 px right per tracked frame; score 0.9, 0.8, ... Records what it was given."""

    instances = 0

    def __init__(self):
        FakeTracker.instances += 1
        self.box = None
        self.calls = []
        self.n = 0

    def initialize(self, rgb, aux, box):
        self.calls.append(("init", rgb.copy(), aux.copy(), tuple(box)))
        self.box = tuple(float(v) for v in box)
        self.n = 0

    def track(self, rgb, aux):
        self.calls.append(("track", rgb.copy(), aux.copy(), None))
        self.n += 1
        x, y, w, h = self.box
        self.box = (x + 2.0, y, w, h)
        return FakeResult(self.box, round(1.0 - 0.1 * self.n, 6))


def fake_factory(store=None):
    """A tracker factory that also appends each created tracker to ``store``."""

    def make():
        t = FakeTracker()
        if store is not None:
            store.append(t)
        return t

    return make
