"""Frame-level SEATrack tracker: per-sequence state around a shared network.

Holds what changes per sequence (template, previous box) apart from the network, like
segment-anything's predictor: several trackers can share one loaded model.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..engine.cpu_precision import choose_cpu_precision
from ..errors import InputError
from ..geometry.boxes import finish_box
from ..geometry.crop import TrackerSettings, crop_window, window_is_regular
from .colour_prior import ColourPrior

LOG = logging.getLogger(__name__)


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
    readied by `seatrack_ros.engine.prepare_model` for ``device`` and must have LoRA handled by
    `load_checkpoint`.

    ``settings`` default to the authors' tracker at the model's crop sizes, with the model's
    ``tracker_options`` (its registry variant's: the demo model damps size changes and weights the score
    map by the target's colour, see `TrackerSettings.size_update_rate` and ``colour_prior``).

    Two backends with one interface (see `seatrack_ros.tracker.host_backend`) do the per-frame work;
    this class validates inputs, keeps the state and turns the backend's peak into the image box with
    the one shared tail. On a CUDA device it runs `seatrack_ros.engine.TrackEngine` (own stream, GPU
    crop, LoRA merged into the shared model, fused attention) unless ``gpu_pipeline`` is False, which
    keeps the host-crop reference pipeline (e.g. as a benchmark baseline). ``half`` (float16 with
    float32 islands) and ``cuda_graphs`` only apply there, and default (None) to on there; asked for
    elsewhere they fall back to float32 / eager with a warning, and `half` / `cuda_graphs` report what
    is in effect. ``compile_network`` (CUDA
    pipeline only) compiles the network with ``torch.compile`` at the first `initialize` (see the
    engine). ``attention`` (host backend only): None keeps the model's attention as loaded (the
    reference's op order, bitwise), ``"fused"`` selects the fused kernels. On the CUDA pipeline the
    crops stay on the GPU (``template_crop`` / ``last_search_crop`` remain None);
    ``tracker.engine.template_crop()`` and ``search_crop()`` copy them back for inspection.
    ``precision`` (CPU only): float32 (default, the reference's arithmetic), bfloat16, or auto (bfloat16
    where the CPU has native bfloat16 units, see `seatrack_ros.engine.cpu_precision`);
    ``precision_choice`` says what it resolved to and why.
    """

    def __init__(
        self,
        model: nn.Module,
        device: str | torch.device = "cpu",
        settings: TrackerSettings | None = None,
        *,
        half: bool | None = None,
        cuda_graphs: bool | None = None,
        gpu_pipeline: bool = True,
        profile: bool = False,
        compile_network: bool = False,
        attention: str | None = None,
        precision: str = "float32",
    ):
        self.device = torch.device(device)
        if settings is None:  # the crop sizes the network was built for, and its variant's options (demo)
            config = getattr(model, "config", None)
            options = dict(getattr(model, "tracker_options", None) or {})
            if config is not None:
                options = {"template_size": config.template_size, "search_size": config.search_size, **options}
            settings = TrackerSettings(**options)
        self.settings = settings
        self.engine = None
        self.precision_choice = None  # CPU only: what `precision` resolved to and why
        if self.device.type == "cuda" and gpu_pipeline:
            from ..engine.cuda_tracker import TrackEngine  # the CPU path never needs it

            # the CUDA pipeline's defaults: float16 and CUDA graphs
            half = True if half is None else half
            cuda_graphs = True if cuda_graphs is None else cuda_graphs

            self.engine = TrackEngine(
                model, self.device, self.settings, half=half, cuda_graphs=cuda_graphs,
                profile=profile, compile_network=compile_network,
            )
            self.device = self.engine.device
            self.backend = self.engine
        else:
            if half or cuda_graphs or compile_network:
                LOG.warning("half / cuda_graphs / compile_network need the CUDA pipeline; %s runs float32 eager",
                            self.device)
            from .host_backend import HostBackend

            dtype = torch.float32
            if self.device.type == "cpu":
                self.precision_choice = choose_cpu_precision(precision)
                dtype = self.precision_choice.dtype
            elif precision not in ("auto", "float32"):
                LOG.warning("precision %s applies on the CPU only; %s runs float32", precision, self.device)
            self.backend = HostBackend(model, self.device, self.settings, profile, attention=attention, dtype=dtype)
        self.model = self.backend.model
        self.profile = profile
        self.state: list[float] | None = None
        self.image_hw: tuple[int, int] | None = None
        self.colour_prior: ColourPrior | None = None  # made at `initialize` when settings.colour_prior > 0
        self._feat = self.settings.search_size // self.model.config.patch_size

    @property
    def precision(self) -> str:
        """The network's precision in effect: float16 (CUDA half), bfloat16 (CPU) or float32."""
        if self.half:
            return "float16"
        return "bfloat16" if getattr(self.backend, "dtype", torch.float32) == torch.bfloat16 else "float32"

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

    @property
    def template_tokens(self) -> torch.Tensor | None:
        return self.backend.template_tokens if self.state is not None else None

    @property
    def template_crop(self) -> np.ndarray | None:
        """The host backend's template crop (128, 128, 6) uint8; None on the CUDA pipeline."""
        return getattr(self.backend, "template_crop", None)

    @property
    def last_search_crop(self) -> np.ndarray | None:
        """The host backend's last search crop (256, 256, 6) uint8; None on the CUDA pipeline."""
        return getattr(self.backend, "last_search_crop", None)

    def stage_times(self) -> dict[str, float]:
        """Milliseconds per stage of the last `track()` when built with ``profile=True``, else {}.

        Keys: host_to_device, crop_normalize, backbone_head, decode, device_to_host. On the CUDA pipeline
        they come from CUDA events; on the host-crop pipeline from the host clock (device synchronised
        at each mark), where ``crop_normalize`` is the host crop and ``host_to_device`` the crop's
        upload plus normalisation.
        """
        return self.backend.stage_times()

    def reset(self) -> None:
        """Forget the target; `track` needs a new `initialize`."""
        self.state = None
        self.image_hw = None
        self.colour_prior = None

    def normalize(self, crop: np.ndarray) -> torch.Tensor:
        """(S, S, 6) uint8 crop -> (1, 6, S, S) float32 ``(pixel/255 - mean) / std`` on the device
        (the model's `normalize`, with the statistics the model holds)."""
        return self.model.normalize(torch.from_numpy(np.ascontiguousarray(crop)).to(self.device))

    def initialize(self, rgb: np.ndarray, aux: np.ndarray, box) -> None:
        """Start tracking the target in ``box`` (x, y, w, h) px on this frame; the template is kept."""
        image_hw = check_frame_pair(rgb, aux)
        box = check_box(box, image_hw)
        if not window_is_regular(crop_window(box, self.settings.template_factor, image_hw), image_hw):
            raise InputError(
                "box_outside", f"box {box} lies too far outside the image for a template crop around it"
            )
        self.backend.initialize(rgb, aux, box)
        if self.settings.colour_prior > 0:
            self.colour_prior = ColourPrior(rgb, box, self.settings.colour_prior)
        self.state = list(box)
        self.image_hw = image_hw

    def track(self, rgb: np.ndarray, aux: np.ndarray) -> TrackResult:
        """Locate the target in a new frame; returns the box (also kept as the next frame's state)."""
        if self.state is None:
            raise RuntimeError("SEATracker.track() called before initialize()")
        image_hw = check_frame_pair(rgb, aux)
        if image_hw != self.image_hw:
            raise InputError("size_change", f"frame size {image_hw} differs from the initial frame's {self.image_hw}")
        weights = None
        if self.colour_prior is not None:
            weights = self.colour_prior.weights(rgb, self.state, self.settings, self._feat)
        raw_box, score, peak_index, resize_factor = self.backend.locate(rgb, aux, self.state, weights)
        clipped, unclipped = finish_box(raw_box, self.state, image_hw, self.settings, resize_factor)
        if not (math.isfinite(score) and all(math.isfinite(v) for v in clipped)):
            # e.g. a checkpoint that went bad after loading: keep the last good state rather than
            # crop around NaN from now on
            raise InputError(
                "nonfinite_output", f"the network gave a non-finite box {unclipped} or score {score}"
            )
        self.state = clipped
        return TrackResult(tuple(clipped), score, tuple(unclipped), peak_index)
