"""Frame-level SEATrack tracker: per-sequence state around a shared network.

Holds what changes per sequence (template, previous box) apart from the network, like
segment-anything's predictor: several trackers can share one loaded model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..model.head import decode_box
from .crop import sample_crop
from .postprocess import clip_box, hann_window, map_box_back

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class TrackerSettings:
    """The released models' test settings."""

    template_factor: float = 2.0
    template_size: int = 128
    search_factor: float = 4.0
    search_size: int = 256
    clip_margin: int = 10


@dataclass(frozen=True)
class TrackResult:
    """One frame's output.

    box: (x, y, w, h) floats in pixels of the input frame, top-left origin, clipped so that at least
        ``clip_margin`` px lie inside the image; it is also the state the next frame is cropped around.
    score: the Hann-windowed peak of the score map (the confidence the reference tracker reports).
    unclipped_box: the box before clipping.
    peak_index: flat index ``iy * 16 + ix`` of the windowed peak on the 16x16 grid.
    """

    box: tuple[float, float, float, float]
    score: float
    unclipped_box: tuple[float, float, float, float]
    peak_index: int


def check_frame_pair(rgb: np.ndarray, aux: np.ndarray) -> tuple[int, int]:
    """Validate an (RGB, aux) pair: both HxWx3 uint8 of the same size. Returns (H, W)."""
    for name, image in (("rgb", rgb), ("aux", aux)):
        if not isinstance(image, np.ndarray):
            raise InputError("image", f"{name} must be a numpy array, got {type(image).__name__}")
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise InputError("image", f"{name} must be HxWx3 uint8, got {image.shape} {image.dtype}")
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise InputError("empty", f"{name} image is empty ({image.shape})")
    if rgb.shape != aux.shape:
        raise InputError("size_mismatch", f"rgb {rgb.shape[:2]} and aux {aux.shape[:2]} differ in size")
    return rgb.shape[0], rgb.shape[1]


def check_box(box, image_hw: tuple[int, int]) -> tuple[float, float, float, float]:
    """Validate an (x, y, w, h) box against an image of (H, W): finite, w, h > 0, overlapping the image."""
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError) as exc:
        raise InputError("box", f"box must be 4 numbers (x, y, w, h), got {box!r}") from exc
    if len(values) != 4:
        raise InputError("box", f"box must be 4 numbers (x, y, w, h), got {box!r}")
    x, y, w, h = values
    if not all(math.isfinite(v) for v in values):
        raise InputError("box", f"box {values} has a non-finite value")
    if w <= 0 or h <= 0:
        raise InputError("box", f"box {values} has non-positive width or height")
    height, width = image_hw
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise InputError("box_outside", f"box {values} lies outside the {width}x{height} image")
    return values


class SEATracker:
    """Single-target tracker around a SEATrack network.

    ``rgb`` and ``aux`` frames are HxWx3 uint8 arrays of the same size: ``rgb`` in RGB channel order,
    ``aux`` already encoded as the 3-channel image the weights expect (see `seatrack_ros.modalities`).
    Boxes are (x, y, w, h) in pixels, top-left origin.

    The model is used as is (not copied): trackers built on the same model share its weights. It is
    moved to ``device`` and must be in eval mode with LoRA handled by `load_checkpoint`.
    """

    def __init__(self, model: nn.Module, device: str | torch.device = "cpu", settings: TrackerSettings | None = None):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.settings = settings or TrackerSettings()
        feat = self.settings.search_size // model.config.patch_size
        self.window = hann_window(feat).reshape(1, 1, feat, feat).to(self.device)
        self.mean = torch.tensor(IMAGENET_MEAN * 2, device=self.device).view(1, 6, 1, 1)
        self.std = torch.tensor(IMAGENET_STD * 2, device=self.device).view(1, 6, 1, 1)
        self.state: list[float] | None = None
        self.image_hw: tuple[int, int] | None = None
        self.template_tokens: torch.Tensor | None = None
        self.template_crop: np.ndarray | None = None
        self.last_search_crop: np.ndarray | None = None

    @property
    def initialized(self) -> bool:
        return self.state is not None

    def reset(self) -> None:
        """Forget the target; `track` needs a new `initialize`."""
        self.state = None
        self.template_tokens = None
        self.image_hw = None

    def normalize(self, crop: np.ndarray) -> torch.Tensor:
        """(S, S, 6) uint8 crop -> (1, 6, S, S) float32 ``(pixel/255 - mean) / std`` on the device."""
        tensor = torch.from_numpy(np.ascontiguousarray(crop)).to(self.device).float().permute(2, 0, 1)[None]
        return ((tensor / 255.0) - self.mean) / self.std

    def initialize(self, rgb: np.ndarray, aux: np.ndarray, box) -> None:
        """Start tracking the target in ``box`` (x, y, w, h) px on this frame; the template is kept."""
        image_hw = check_frame_pair(rgb, aux)
        box = check_box(box, image_hw)
        s = self.settings
        frame = np.concatenate([rgb, aux], axis=2)
        self.template_crop, _ = sample_crop(frame, box, s.template_factor, s.template_size)
        with torch.no_grad():
            self.template_tokens = self.model.backbone.embed_template(self.normalize(self.template_crop))
        self.state = list(box)
        self.image_hw = image_hw

    def track(self, rgb: np.ndarray, aux: np.ndarray) -> TrackResult:
        """Locate the target in a new frame; returns the box (also kept as the next frame's state)."""
        if self.state is None:
            raise RuntimeError("SEATracker.track() called before initialize()")
        image_hw = check_frame_pair(rgb, aux)
        if image_hw != self.image_hw:
            raise InputError("size_change", f"frame size {image_hw} differs from the initial frame's {self.image_hw}")
        s = self.settings
        frame = np.concatenate([rgb, aux], axis=2)
        search_crop, resize_factor = sample_crop(frame, self.state, s.search_factor, s.search_size)
        self.last_search_crop = search_crop
        with torch.no_grad():
            out = self.model(None, self.normalize(search_crop), template_tokens=self.template_tokens)
            response = self.window * out["score_map"]
            boxes, peaks, peak_indices = decode_box(response, out["size_map"], out["offset_map"])
            crop_box = (boxes[0] * s.search_size / resize_factor).tolist()
        unclipped = map_box_back(crop_box, self.state, s.search_size, resize_factor)
        self.state = clip_box(unclipped, image_hw[0], image_hw[1], s.clip_margin)
        return TrackResult(tuple(self.state), float(peaks[0]), tuple(unclipped), int(peak_indices[0]))

