"""Frame-level SEATrack tracker: per-sequence state around a shared network.

Holds what changes per sequence (template, previous box) apart from the network, like
segment-anything's predictor: several trackers can share one loaded model.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..model.head import decode_box
from .crop import crop_window, sample_crop, window_is_regular
from .postprocess import clip_box, hann_window, map_box_back

LOG = logging.getLogger(__name__)

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
    if w > 2 * width or h > 2 * height:  # the crops would need memory out of all proportion
        raise InputError("box", f"box {values} is more than twice the size of the {width}x{height} image")
    return values


class SEATracker:
    """Single-target tracker around a SEATrack network.

    ``rgb`` and ``aux`` frames are HxWx3 uint8 arrays of the same size: ``rgb`` in RGB channel order,
    ``aux`` already encoded as the 3-channel image the weights expect (see `seatrack_ros.modalities`).
    Boxes are (x, y, w, h) in pixels, top-left origin.

    The model is used as is (not copied): trackers built on the same model share its weights. It is
    moved to ``device`` and must be in eval mode with LoRA handled by `load_checkpoint`.

    On a CUDA device the tracker runs `seatrack_ros.engine.TrackEngine` (own stream, GPU crop,
    LoRA merged into the shared model, fused attention) unless ``gpu_pipeline`` is False, which keeps
    the host-crop reference pipeline (e.g. as a benchmark baseline). ``half`` (float16 with float32
    islands) and ``cuda_graphs`` only apply there; elsewhere they fall back to float32 / eager with a
    warning, and `half` / `cuda_graphs` report what is in effect. ``compile_network`` (CUDA pipeline
    only) compiles the network with ``torch.compile`` at the first `initialize` (see the engine). On the CUDA pipeline the crops stay
    on the GPU (``template_crop`` / ``last_search_crop`` remain None); ``tracker.engine.template_crop()``
    and ``search_crop()`` copy them back for inspection.
    """

    def __init__(
        self,
        model: nn.Module,
        device: str | torch.device = "cpu",
        settings: TrackerSettings | None = None,
        *,
        half: bool = False,
        cuda_graphs: bool = False,
        gpu_pipeline: bool = True,
        profile: bool = False,
        compile_network: bool = False,
    ):
        self.device = torch.device(device)
        self.engine = None
        if self.device.type == "cuda" and gpu_pipeline:
            from ..engine.cuda_tracker import TrackEngine  # the CPU path never needs it

            self.engine = TrackEngine(
                model, self.device, settings or TrackerSettings(), half=half, cuda_graphs=cuda_graphs,
                profile=profile, compile_network=compile_network,
            )
            self.device = self.engine.device
        elif half or cuda_graphs or compile_network:
            LOG.warning("half / cuda_graphs / compile_network need the CUDA pipeline; %s runs float32 eager", self.device)
        if self.engine is None:
            from ..engine.precision import inference_state

            prepared_for = inference_state(model)  # set when a CUDA engine prepared this model
            if prepared_for is not None and torch.device(prepared_for[0]).type != self.device.type:
                raise ValueError(
                    f"this model serves a tracker on {prepared_for[0]}; moving it to {self.device} would "
                    "move that tracker's weights too: load a separate model for this device"
                )
        self.model = self.engine.model if self.engine else model.to(self.device).eval()
        self.profile = profile
        self._stage_ms: dict[str, float] = {}
        self._stage_clock = 0.0
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
    def half(self) -> bool:
        """True when the network runs in float16 (CUDA pipeline with ``half=True``)."""
        return bool(self.engine and self.engine.half)

    @property
    def cuda_graphs(self) -> bool:
        """True while per-frame stages replay CUDA graphs (False after a capture failure)."""
        return bool(self.engine and self.engine.cuda_graphs)

    @property
    def compiled(self) -> bool:
        """True when the network runs compiled (CUDA pipeline with ``compile_network=True``)."""
        return bool(self.engine and self.engine.compiled)

    @property
    def initialized(self) -> bool:
        return self.state is not None

    def stage_times(self) -> dict[str, float]:
        """Milliseconds per stage of the last `track()` when built with ``profile=True``, else {}.

        Keys: host_to_device, crop_normalize, backbone_head, decode, device_to_host. On the CUDA pipeline
        they come from CUDA events; on the host-crop pipeline from the host clock (device synchronised
        at each mark), where ``crop_normalize`` is the host crop and ``host_to_device`` the crop's
        upload plus normalisation.
        """
        if self.engine is not None:
            return self.engine.stage_times()
        return dict(self._stage_ms)

    def _mark(self, stage: str | None) -> None:
        if not self.profile:
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        if stage is None:
            self._stage_ms = {}
        else:
            self._stage_ms[stage] = (now - self._stage_clock) * 1e3
        self._stage_clock = now

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
        if not window_is_regular(crop_window(box, s.template_factor, image_hw), image_hw):
            raise InputError(
                "box_outside", f"box {box} lies too far outside the image for a template crop around it"
            )
        if self.engine is not None:
            self.engine.initialize(rgb, aux, box)
            self.template_tokens = self.engine.template_tokens
            self.state = list(box)
            self.image_hw = image_hw
            return
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
        if self.engine is not None:
            clipped, unclipped, score, peak_index = self.engine.track(rgb, aux, self.state)
            self.state = clipped
            return TrackResult(tuple(clipped), score, tuple(unclipped), peak_index)
        self._mark(None)
        frame = np.concatenate([rgb, aux], axis=2)
        search_crop, resize_factor = sample_crop(frame, self.state, s.search_factor, s.search_size)
        self.last_search_crop = search_crop
        self._mark("crop_normalize")
        with torch.no_grad():
            search = self.normalize(search_crop)
            self._mark("host_to_device")
            out = self.model(None, search, template_tokens=self.template_tokens)
            self._mark("backbone_head")
            response = self.window * out["score_map"]
            boxes, peaks, peak_indices = decode_box(response, out["size_map"], out["offset_map"])
            self._mark("decode")
            crop_box = (boxes[0] * s.search_size / resize_factor).tolist()
            self._mark("device_to_host")
        unclipped = map_box_back(crop_box, self.state, s.search_size, resize_factor)
        self.state = clip_box(unclipped, image_hw[0], image_hw[1], s.clip_margin)
        return TrackResult(tuple(self.state), float(peaks[0]), tuple(unclipped), int(peak_indices[0]))

