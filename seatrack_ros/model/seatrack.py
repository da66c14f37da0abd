"""The SEATrack network: two-stream backbone + centre head."""

from __future__ import annotations

import torch
from torch import nn

from .backbone import BackboneConfig, TwoStreamViT
from .head import CenterHead, decode_box
from .lora import LoRAQKV


class SEATrack(nn.Module):
    """SEATrack: ``model(template, search)`` -> dict of score/size/offset maps and the decoded box.

    Inputs are normalised images: channels 0-2 RGB, 3-5 the auxiliary modality as 3 channels, each
    ``(pixel/255 - mean) / std`` with ImageNet statistics.

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
