"""Builders for the released SEATrack variants (the segment-anything style `build_*` entry points)."""

from __future__ import annotations

from .backbone import BackboneConfig
from .seatrack import SEATrack

# The authors' rgbt / rgbd / rgbe configurations build the same network; only training data differ.
VARIANTS = ("rgbt", "rgbd", "rgbe")


def build_seatrack(variant: str = "rgbt", config: BackboneConfig | None = None) -> SEATrack:
    """SEATrack with the released architecture (ViT-B/16, 128/256 px, AMG-LoRA rank 8, HMoE 4/8).

    Parameters are placeholders until a checkpoint is loaded (`load_checkpoint`). Returns the model in
    eval mode, on the CPU, float32.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown SEATrack variant {variant!r}; expected one of {VARIANTS}")
    return SEATrack(config or BackboneConfig()).eval()
