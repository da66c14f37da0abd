"""Deterministic test weights: every tensor is a pure function of its key, shape and dtype.

Used by the tests (the golden fixtures in the project's shared data were computed with exactly these
weights) and by the node and demo when no checkpoint is given. Boxes from these weights mean nothing.

Per key: ``v = numpy.random.default_rng(crc32(key)).standard_normal(shape)`` (float64, one call, cast to
float32), then ``offset + scale * v`` (or ``scale * |v|``) evaluated in float32, with the first matching
rule of `recipe_rule`.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import torch
from torch import nn


def recipe_rule(key: str, shape: tuple[int, ...]) -> tuple[str, float, float, bool]:
    """(rule name, scale, offset, use |v|) for one state-dict key."""
    parts = key.split(".")
    leaf = parts[-1]
    parent = parts[-2] if len(parts) > 1 else ""
    if leaf == "num_batches_tracked":
        return "keep_zero", 0.0, 0.0, False
    if leaf == "running_var":
        return "bn_running_var", 0.1, 1.0, True
    if leaf.endswith("_scaling") or leaf in ("D_temp", "C_temp"):
        return "scalar_param", 0.05, 1.0, False
    is_batchnorm_weight = key.startswith("box_head.") and parent == "1" and leaf == "weight"
    if leaf == "weight" and (parent.startswith("norm") or is_batchnorm_weight):
        return "norm_weight", 0.02, 1.0, False
    if "_moe." in key and len(shape) >= 2:
        return "hmoe_matrix", 1.0 / math.sqrt(shape[-2]), 0.0, False
    if key.startswith("box_head.") and len(shape) == 4:
        fan_in = shape[1] * shape[2] * shape[3]
        if parent == "0":
            return "head_conv", math.sqrt(2.0 / fan_in), 0.0, False
        if parent.startswith("conv5_") and leaf == "weight":
            return "head_out_conv", 1.0 / math.sqrt(fan_in), 0.0, False
    if key == "box_head.conv5_size.bias":
        return "size_bias", 0.02, -2.5, False
    return "default", 0.02, 0.0, False


def recipe_tensor(key: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The recipe value of one key as a tensor of ``shape`` and ``dtype``."""
    rule, scale, offset, use_abs = recipe_rule(key, shape)
    if rule == "keep_zero":
        return torch.zeros(shape, dtype=dtype)
    draw = np.random.default_rng(zlib.crc32(key.encode("utf-8"))).standard_normal(shape).astype(np.float32)
    if use_abs:
        draw = np.abs(draw)
    value = np.float32(offset) + np.float32(scale) * draw  # float32 products and sums, as specified
    return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)).to(dtype)


def make_test_state_dict(model: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """Recipe weights for every key of ``model``'s state dict (default: the released architecture).

    The result loads with ``lora_merged=False`` (its qkv weights are base weights).
    """
    if model is None:
        from .seatrack import SEATrack  # the released architecture (what build_seatrack("rgbt") builds)

        model = SEATrack().eval()
    return {k: recipe_tensor(k, tuple(v.shape), v.dtype) for k, v in model.state_dict().items()}
