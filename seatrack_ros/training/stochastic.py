"""The authors' train-time dropouts and stochastic depth, attached to the network with forward hooks.

The network in `seatrack_ros.model` has no stochastic layers (inference never needs them), so training
adds them from outside, in the places the authors' code has them (docs/training.md, "Stochastic
layers"); nothing changes in eval mode or for a model without the hooks:

- dropout (p 0.1) on the LoRA branch's *output* ``x delta^T`` of every LoRA qkv;
- in each HMoE, dropout after the first and after the second low-rank projection of ``linear1``,
  ``linear2`` and of the experts (p 0.1 each);
- stochastic depth (per-sample DropPath) with rate ``0.1 * i / (depth - 1)`` in block ``i`` on the
  attention branch, the MLP branch and each HMoE output.

The hooks recompute the small low-rank parts they need (hidden size 4), and the LoRA branch once more,
because those intermediate values are not visible from outside the modules. Random draws come from
torch's global generator (the trainer seeds it and stores its state in checkpoints).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..model.hmoe import BatchedLowRankExperts, HMoE, LowRankProjection
from ..model.lora import LoRAQKV

DROPOUT = 0.1
DROP_PATH = 0.1


def _drop_path(x: torch.Tensor, rate: float) -> torch.Tensor:
    """Zero whole samples (rows of dim 0) with probability ``rate`` and rescale the rest."""
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask / keep


def _lora_dropout_hook(p: float):
    def hook(module: LoRAQKV, inputs, output):
        if not module.training or module.merged:
            return None
        lora = F.linear(inputs[0], module.lora_delta())
        return output - lora + F.dropout(lora, p, training=True)

    return hook


def _projection_hook(p: float):
    def hook(module: LowRankProjection, inputs, output):
        if not module.training:
            return None
        hidden = F.dropout(torch.matmul(inputs[0], module.lora_a) + module.bias_a, p, training=True)
        return F.dropout(torch.matmul(hidden, module.lora_b) + module.bias_b, p, training=True)

    return hook


def _experts_hook(p: float):
    def hook(module: BatchedLowRankExperts, inputs, output):
        if not module.training:
            return None
        hidden = torch.matmul(inputs[0], module.lora_a) + module.bias_a[None, :, None, :]
        hidden = F.dropout(hidden, p, training=True)
        return F.dropout(torch.matmul(hidden, module.lora_b) + module.bias_b[None, :, None, :], p, training=True)

    return hook


def _drop_path_hook(rate: float):
    def hook(module: nn.Module, inputs, output):
        if not module.training:
            return None
        return _drop_path(output, rate)

    return hook


def add_stochastic_layers(model: nn.Module, dropout: float = DROPOUT, drop_path: float = DROP_PATH) -> list:
    """Attach the hooks to a SEATrack ``model``; returns the handles (``handle.remove()`` detaches)."""
    handles = []
    if dropout > 0:
        for module in model.modules():
            if isinstance(module, LoRAQKV):
                handles.append(module.register_forward_hook(_lora_dropout_hook(dropout)))
            elif isinstance(module, LowRankProjection):
                handles.append(module.register_forward_hook(_projection_hook(dropout)))
            elif isinstance(module, BatchedLowRankExperts):
                handles.append(module.register_forward_hook(_experts_hook(dropout)))
    blocks = list(model.backbone.blocks)
    if drop_path > 0 and len(blocks) > 1:
        for i, block in enumerate(blocks):
            rate = drop_path * i / (len(blocks) - 1)
            if rate <= 0:
                continue
            branches = [block.attn.proj, block.mlp]
            branches += [m for m in (getattr(block, "attn_moe", None), getattr(block, "ffn_moe", None))
                         if isinstance(m, HMoE)]
            for branch in branches:
                handles.append(branch.register_forward_hook(_drop_path_hook(rate)))
    return handles
