"""The SEATrack network: two-stream backbone + centre head."""

from __future__ import annotations

import torch
from torch import nn

from .backbone import BackboneConfig, TwoStreamViT
from .head import CenterHead, decode_box
from .lora import LoRAQKV


# ImageNet statistics, for the RGB channels and again for the 3-channel auxiliary image (as trained).
PIXEL_MEAN = (0.485, 0.456, 0.406) * 2
PIXEL_STD = (0.229, 0.224, 0.225) * 2


def normalize_crop(crop: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(S, S, 6) uint8 -> (1, 6, S, S) ``(pixel/255 - mean) / std`` computed in float32, returned as dtype.

    mean, std: (1, 6, 1, 1) float32. The float32 arithmetic is the reference's, op for op. On CUDA,
    PyTorch divides by a Python scalar as a multiplication by its reciprocal, so GPU values can differ
    from CPU ones by one ulp; the reference's own preprocessing does the same division on the GPU.
    """
    tensor = crop.float().permute(2, 0, 1)[None]
    return (((tensor / 255.0) - mean) / std).to(dtype)


class SEATrack(nn.Module):
    """SEATrack: ``model(template, search)`` -> dict of score/size/offset maps and the decoded box.

    Inputs are normalised images: channels 0-2 RGB, 3-5 the auxiliary modality as 3 channels, each
    ``(pixel/255 - mean) / std`` with ImageNet statistics; `normalize` makes them from uint8 crops (as
    segment-anything's ``Sam.preprocess``), with the statistics the model holds (`pixel_mean`,
    `pixel_std`), so every tracker backend normalises the same way.

    - template: (B, 6, 128, 128) float
    - search:   (B, 6, 256, 256) float

    Returns ``score_map`` (B,1,16,16), ``size_map`` (B,2,16,16), ``offset_map`` (B,2,16,16) and
    ``pred_boxes`` (B,1,4) = normalised (cx, cy, w, h) at the raw score map's peak.
    """

    def __init__(self, config: BackboneConfig | None = None, head_channels: int = 256) -> None:
        super().__init__()
        self.backbone = TwoStreamViT(config)
        cfg = self.backbone.config
        self.box_head = CenterHead(cfg.embed_dim, head_channels, cfg.search_size // cfg.patch_size)
        self.pixel_mean: tuple[float, ...] = PIXEL_MEAN
        self.pixel_std: tuple[float, ...] = PIXEL_STD
        # Plain attributes, not buffers: float32 whatever precision the weights are cast to, and no
        # state-dict keys (checkpoints load strictly). One (mean, std) pair per device, made ahead of
        # any CUDA graph capture.
        self._pixel_stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        # TrackerSettings fields its registry variant prescribes beyond the crop sizes (set by
        # `build_seatrack`, e.g. the demo's size_update_rate); empty: the authors' tracker.
        self.tracker_options: dict = {}

    def pixel_stats(self, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) as (1, 6, 1, 1) float32 tensors on ``device`` (made once per device)."""
        key = str(torch.device(device))
        if key not in self._pixel_stats:
            mean = torch.tensor(self.pixel_mean, device=device).view(1, 6, 1, 1)
            std = torch.tensor(self.pixel_std, device=device).view(1, 6, 1, 1)
            self._pixel_stats[key] = (mean, std)
        return self._pixel_stats[key]

    def normalize(self, crop: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """(S, S, 6) uint8 crop (RGB then aux, on any device) -> (1, 6, S, S) network input in ``dtype``."""
        mean, std = self.pixel_stats(crop.device)
        return normalize_crop(crop, mean, std, dtype)

    @property
    def config(self) -> BackboneConfig:
        return self.backbone.config

    def forward(
        self,
        template: torch.Tensor,
        search: torch.Tensor,
        template_tokens: torch.Tensor | None = None,
        capture: dict | None = None,
    ) -> dict[str, torch.Tensor]:
        fused = self.backbone(template, search, template_tokens=template_tokens, capture=capture)
        if capture is not None:
            capture["x_fusion"] = fused
        return self.forward_head(fused)

    def forward_head(self, fused: torch.Tensor) -> dict[str, torch.Tensor]:
        """fused (B, 256, dim) -> output dict (see class docstring)."""
        batch, tokens, dim = fused.shape
        side = self.box_head.feat_size
        features = fused.transpose(1, 2).reshape(batch, dim, side, side)
        score_map, size_map, offset_map = self.box_head(features)
        boxes, _, _ = decode_box(score_map, size_map, offset_map)
        return {
            "score_map": score_map,
            "size_map": size_map,
            "offset_map": offset_map,
            "pred_boxes": boxes.view(batch, 1, 4),
        }

    def lora_layers(self) -> list[LoRAQKV]:
        return [m for m in self.modules() if isinstance(m, LoRAQKV)]

    def merge_lora(self) -> None:
        """Fold every LoRA update into its qkv weight (no LoRA work at inference)."""
        for layer in self.lora_layers():
            layer.merge()

    def set_attention_impl(self, impl: str) -> None:
        """``"math"`` (reference op order, default) or ``"fused"`` (fused SDPA kernels, folded guidance)."""
        if impl not in ("math", "fused"):
            raise ValueError(f"attention impl must be 'math' or 'fused', got {impl!r}")
        for block in self.backbone.blocks:
            block.attention_impl = impl
