"""The authors' train-time dropouts and stochastic depth, attached to the network with forward hooks.

The network in `seatrack_ros.model` has no stochastic layers (inference never needs them), so training
adds them from outside, in the places the authors' code has them (docs/training.md, "Stochastic
layers"); nothing changes in eval mode or for a model without the hooks:

- dropout (p 0.1) on the LoRA branch's *output* ``x delta^T`` of every LoRA qkv;
- in each HMoE, dropout after the first and after the second low-rank projection of ``linear1``,
  ``linear2`` and of the experts (p 0.1 each);
- stochastic depth (per-sample DropPath) with rate ``0.1 * i / (depth - 1)`` in block ``i`` on the
  attention branch and the MLP branch of each stream, and on each stream's HMoE update. The authors
  draw one mask per stream for an HMoE update, shared by its template and its search tokens, which
  here come from two calls of the HMoE (template first, then search): the hook draws at the first
  call and reuses the draw at the second.

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


class _PairedDropPath:
    """DropPath for an HMoE called on [RGB; X] template tokens, then on [RGB; X] search tokens: one
    mask per sample and stream, drawn at the template call and reused at the search call."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.pending: torch.Tensor | None = None

    def __call__(self, module: nn.Module, inputs, output):
        if not module.training:
            return None
        keep = 1.0 - self.rate
        if self.pending is None:
            masks = output.new_empty((output.shape[0], 2)).bernoulli_(keep) / keep  # (B, stream)
            self.pending = masks
        else:
            masks, self.pending = self.pending, None
        half = output.shape[1] // 2
        scale = torch.cat([masks[:, :1].expand(-1, half), masks[:, 1:].expand(-1, output.shape[1] - half)], dim=1)
        return output * scale.unsqueeze(-1)


def add_stochastic_layers(model: nn.Module, dropout: float = DROPOUT, drop_path: float = DROP_PATH) -> list:
    """Attach the hooks to a SEATrack ``model``; returns the handles (``handle.remove()`` detaches)."""
    handles, paired_hooks = [], []
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
            for branch in (block.attn.proj, block.mlp):  # (2B, N, dim): rows are (stream, sample)
                handles.append(branch.register_forward_hook(_drop_path_hook(rate)))
            for moe in (getattr(block, "attn_moe", None), getattr(block, "ffn_moe", None)):
                if isinstance(moe, HMoE):
                    paired = _PairedDropPath(rate)
                    paired_hooks.append(paired)
                    handles.append(moe.register_forward_hook(paired))
    if paired_hooks:
        def forget_pending(module, inputs):  # a forward that failed half-way must not shift the pairing
            for paired in paired_hooks:
                paired.pending = None

        handles.append(model.register_forward_pre_hook(forget_pending))
    return handles
