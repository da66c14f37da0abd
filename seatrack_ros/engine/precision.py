"""Preparing a loaded SEATrack network for fast inference: merged LoRA, fused attention, half precision.

Half precision policy (``float16`` or ``bfloat16`` weights and activations) with float32 islands where
half would overflow or lose the peak:

- LayerNorm (backbone ``norm1``/``norm2``/``norm``): PyTorch's half kernels accumulate mean and
  variance in float32 and return half. The affine parameters are half: CUDA's LayerNorm kernel rejects
  float32 parameters with half input (pytorch/pytorch#135969), which the CPU kernel would accept.
- Optional (``residual_float32=True``): the residual stream (tokens between blocks, positional
  embeddings, residual adds) stays float32 and only the matmul branches run in half; the LayerNorms
  then run entirely in float32 and cast their output to half. On the golden frame 1 (CPU float16,
  LayerNorm parameters float32 in both runs) it cut the box deviation from
  0.069 to 0.031 px but the score-map deviation only from 8.2e-4 to 7.2e-4 (the half matmuls
  dominate), for one extra cast kernel per LayerNorm, so it is off by default.
- HMoE (routing softmaxes over 2N tokens, temperatures, low-rank experts): the reference module, and
  the collapsed one under bfloat16, run in float32 (they are tiny: rank-4 projections) and hand half
  back to the residual stream, two casts per call. Under float16 the collapsed module
  (`CollapsedHMoE.HALF_DTYPES`) runs in float16 without those casts: its 8 kernels are 5 matrix
  products, which accumulate in float32, 2 softmaxes, which compute in float32 inside the half kernels
  (CUDA and CPU), and its LayerNorm, whose statistics are float32; only the routing logits and
  weights are rounded to float16's 11 bits. On the golden sequence (CPU float16) that measured no
  worse than the float32 island: open-loop worst box 0.43 px against 0.52 px, argmax 7/7 in both
  (docs/gpu.md). bfloat16's 8 bits would move the routing weights ~8x more, so it keeps the island.
- Attention softmax: the fused kernels (flash / memory-efficient SDPA) keep the softmax in float32
  internally; the guidance coefficients ``1 - s`` and ``s`` are formed in float32 before the cast.
- Mutual-guidance scalars stay float32 (``1 - s`` of a half ``s`` near 1 would lose ~2% relative).
- The head's last 1x1 convolutions (score, size, offset) run in float32, so the sigmoid, its clamp to
  [1e-4, 1 - 1e-4] (1 - 1e-4 is not representable in float16) and the peak search are float32.

Everything else (patch embedding, qkv/proj/MLP matmuls, the head's 3x3 convolutions) runs in half.

`prepare_model` changes the model in place and records what it did, so trackers that share one model
share its weights; asking for a different device or precision on an already prepared model is an error.
"""

from __future__ import annotations

import torch
from torch import nn

from ..model.hmoe import HMoE
from .collapsed import collapse_for_inference

HALF_DTYPES = (torch.float16, torch.bfloat16)
_STATE_ATTR = "_seatrack_inference_state"


_ISLAND_INPUT_DTYPE = "_float32_island_input_dtype"


def _cast_inputs_to(dtype: torch.dtype):
    """Forward pre-hook: remember the caller's dtype, hand the module ``dtype`` inputs."""

    def hook(module, args):
        first = next((a for a in args if isinstance(a, torch.Tensor)), None)
        if first is not None:
            setattr(module, _ISLAND_INPUT_DTYPE, first.dtype)
        return tuple(a.to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)

    return hook


def _cast_output_back(module, args, output):
    """Forward hook: return the output in the dtype the caller passed in (forward hooks see cast args)."""
    dtype = getattr(module, _ISLAND_INPUT_DTYPE, None)
    if dtype is not None and isinstance(output, torch.Tensor) and output.dtype != dtype:
        return output.to(dtype)
    return output


def float32_island_modules(model: nn.Module, dtype: torch.dtype | None = None) -> dict[str, list[nn.Module]]:
    """The modules computing in float32 under the half policy for ``dtype``, by role (see module
    docstring); ``dtype`` None lists every HMoE (the islands of bfloat16).

    ``layer_norm`` modules keep float32 parameters only with ``residual_float32``; otherwise their
    statistics are float32 inside PyTorch's half kernel.
    """
    head = getattr(model, "box_head", None)
    head_outputs = [getattr(head, f"conv5_{name}") for name in ("ctr", "size", "offset")] if head is not None else []
    return {
        "layer_norm": [m for m in model.modules() if isinstance(m, nn.LayerNorm) and not _inside_hmoe(model, m)],
        "hmoe": [m for m in model.modules() if isinstance(m, HMoE) and dtype not in getattr(m, "HALF_DTYPES", ())],
        "head_output": head_outputs,
    }


def _inside_hmoe(model: nn.Module, module: nn.Module) -> bool:
    return any(module is sub for moe in model.modules() if isinstance(moe, HMoE) for sub in moe.modules())


def _cast_output_to(dtype: torch.dtype):
    def hook(module, args, output):
        return output.to(dtype)

    return hook


def apply_half_policy(
    model: nn.Module, dtype: torch.dtype = torch.float16, residual_float32: bool = False, head_float32: bool = False
) -> nn.Module:
    """Cast ``model`` to ``dtype`` in place, keeping the float32 islands described above. Returns it.

    Hooks registered here do the casts at the island borders; under CUDA graph replay they cost nothing.
    """
    if dtype not in HALF_DTYPES:
        raise ValueError(f"half dtype must be one of {HALF_DTYPES}, got {dtype}")
    model.to(dtype)
    islands = float32_island_modules(model, dtype)
    if residual_float32:
        for norm in islands["layer_norm"]:
            norm.float()  # float32 input from the residual stream, float32 parameters: no mixed dtypes
            norm.register_forward_hook(_cast_output_to(dtype))
        backbone = model.backbone
        # half patch embedding + float32 positional embedding -> float32 tokens from the start
        for name in ("pos_embed_z", "pos_embed_x", "pixel_pos_z", "pixel_pos_x"):
            if hasattr(backbone, name):  # the pixel positions: a collapsed backbone's raw-crop embedding
                getattr(backbone, name).data = getattr(backbone, name).data.float()
    for moe in islands["hmoe"]:
        moe.float()
        moe.register_forward_pre_hook(_cast_inputs_to(torch.float32))
        moe.register_forward_hook(_cast_output_back)
    if head_float32:
        model.box_head.float()
        model.box_head.register_forward_pre_hook(_cast_inputs_to(torch.float32))  # maps come out float32
    for conv in islands["head_output"]:
        conv.float()
        conv.register_forward_pre_hook(_cast_inputs_to(torch.float32))  # output stays float32
    for name, param in model.named_parameters():
        if name.endswith("_scaling"):
            param.data = param.data.float()
    return model


def inference_state(model: nn.Module) -> tuple | None:
    """(device, dtype[, residual_float32]) the model was prepared for by `prepare_model`, or None."""
    return getattr(model, _STATE_ATTR, None)


def prepare_model(
    model: nn.Module,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
    residual_float32: bool | None = None,
    *,
    attention: str | None = "fused",
    merge_lora: bool | None = True,
) -> nn.Module:
    """Ready a loaded SEATrack for inference on ``device`` in ``dtype``, in place; idempotent. Every
    tracker backend goes through here, so the kernels that run are the ones asked for, not a caller's.

    Merges LoRA into qkv (so inference does no LoRA work), selects the attention implementation
    (``"fused"``: guidance folded into one SDPA call; ``"math"``: the reference's op order), moves the
    weights and applies the half policy for float16/bfloat16. ``attention`` / ``merge_lora`` None
    leave the model's current choice (the host path's default: the model as loaded, bitwise the
    reference). A model already prepared for the same (device, dtype) keeps its weights, so several
    trackers share it; an explicit ``attention`` / ``merge_lora`` still applies (to all of them).
    For half precision or a CUDA device it also swaps in the exact fewer-kernel rewrites of `collapsed`
    (not on the float32 CPU path: they round differently from the reference).
    ``residual_float32`` (half only, see module docstring): None accepts either setting on an already
    prepared model and means False on a fresh one.
    Raises ValueError when it was prepared for something else: load a second model for that.
    """
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    state = inference_state(model)
    if residual_float32 is None:
        residual_float32 = state[2] if state is not None and len(state) > 2 and state[:2] == (str(device), dtype) else False
    key = (str(device), dtype) if dtype == torch.float32 else (str(device), dtype, residual_float32)
    if state is not None and state != key:
        raise ValueError(
            f"this model is already prepared for {state}; it cannot also serve {key} "
            "without copying its weights, so load a separate model for that"
        )
    if attention is not None:
        model.set_attention_impl(attention)
    if merge_lora:
        model.merge_lora()
    if state == key:
        return model
    model.eval()
    if dtype != torch.float32 or device.type == "cuda":
        # Exact rewrites with fewer kernels (folded in float64 before any cast); they round differently
        # from the reference, so the float32 CPU path, whose golden parity is bitwise, never gets them.
        model.merge_lora()  # the rewrites need LoRA folded into qkv
        collapse_for_inference(model)
    model.to(device)
    if dtype != torch.float32:
        apply_half_policy(model, dtype, residual_float32)
    setattr(model, _STATE_ATTR, key)
    return model
