"""The host-crop backend of `SEATracker`: crops with OpenCV on the host, the network on any device.

It is the reference pipeline, op for op (bitwise equal to the authors' tracker on the golden
fixtures with the model as loaded), and the backend on CPUs. Its counterpart on CUDA devices is
`seatrack_ros.engine.TrackEngine`. Both offer the same small interface, which `SEATracker` drives:

- ``initialize(rgb, aux, box)``: crop the template around ``box`` and cache its tokens
  (``template_tokens``);
- ``locate(rgb, aux, state, weights=None) -> (raw_box, score, peak_index, resize_factor)``: the
  float32 (4,) normalised (cx, cy, w, h) at the Hann-windowed score peak in the search crop around
  ``state`` (the window times ``weights``, an (F, F) float32 array, when given: the colour prior),
  that peak's score and flat index, and the crop's resize factor; `SEATracker` turns it into the
  image box with the one shared tail (`seatrack_ros.geometry.finish_box`);
- ``stage_times()``: milliseconds per stage of the last ``locate`` when profiling.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from ..engine.precision import prepare_model
from ..geometry.boxes import hann_window
from ..geometry.crop import TrackerSettings, sample_crop
from ..model.head import decode_box


class HostBackend:
    """Host crops, ``model.normalize``, the network on ``device`` in ``dtype``, decoding on the device.

    The model goes through `prepare_model` with ``attention`` / ``merge_lora`` as given (None: as
    loaded), which also refuses a model that already serves a tracker on another device or dtype.
    ``dtype`` bfloat16 (CPUs with native bfloat16 units, see `seatrack_ros.engine.cpu_precision`) runs
    the half policy with its float32 islands; it needs the fused attention and merged LoRA, which it
    selects (the reference's written-out softmax would run in bfloat16).
    """

    def __init__(
        self,
        model: nn.Module,
        device: torch.device,
        settings: TrackerSettings,
        profile: bool = False,
        attention: str | None = None,
        merge_lora: bool | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.device = device
        self.settings = settings
        self.dtype = dtype
        if dtype != torch.float32:
            attention, merge_lora = "fused", True
        self.model = prepare_model(model, device, dtype, attention=attention, merge_lora=merge_lora)
        self.profile = profile
        feat = settings.search_size // self.model.config.patch_size
        self.window = hann_window(feat).reshape(1, 1, feat, feat).to(device)
        self.template_tokens: torch.Tensor | None = None
        self.template_crop: np.ndarray | None = None
        self.last_search_crop: np.ndarray | None = None
        self._stage_ms: dict[str, float] = {}
        self._stage_clock = 0.0

    def normalize(self, crop: np.ndarray) -> torch.Tensor:
        """(S, S, 6) uint8 host crop -> (1, 6, S, S) network input on the device (normalised in float32,
        then in the backend's dtype)."""
        return self.model.normalize(torch.from_numpy(np.ascontiguousarray(crop)).to(self.device)).to(self.dtype)

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

    def stage_times(self) -> dict[str, float]:
        return dict(self._stage_ms)

    def initialize(self, rgb: np.ndarray, aux: np.ndarray, box) -> None:
        s = self.settings
        self.template_crop, _ = sample_crop(
            (rgb, aux), box, s.template_factor, s.template_size
        )
        with torch.no_grad():
            self.template_tokens = self.model.backbone.embed_template(self.normalize(self.template_crop))

    def locate(self, rgb: np.ndarray, aux: np.ndarray, state,
               weights: np.ndarray | None = None) -> tuple[torch.Tensor, float, int, float]:
        s = self.settings
        self._mark(None)
        search_crop, resize_factor = sample_crop(
            (rgb, aux), state, s.search_factor, s.search_size
        )
        self.last_search_crop = search_crop
        self._mark("crop_normalize")
        with torch.no_grad():
            search = self.normalize(search_crop)
            self._mark("host_to_device")
            out = self.model(None, search, template_tokens=self.template_tokens)
            self._mark("backbone_head")
            window = self.window
            if weights is not None:  # window first, then the map: the engine's order of operations
                cells = torch.from_numpy(np.ascontiguousarray(weights, np.float32)).to(window.device)
                window = window * cells.reshape(window.shape)
            response = window * out["score_map"]
            boxes, peaks, peak_indices = decode_box(response, out["size_map"], out["offset_map"])
            self._mark("decode")
            raw_box = boxes[0]
            score, peak_index = float(peaks[0]), int(peak_indices[0])
            self._mark("device_to_host")
        return raw_box, score, peak_index, resize_factor
