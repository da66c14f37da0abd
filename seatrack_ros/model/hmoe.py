"""Hierarchical Mixture-of-Experts (HMoE) with soft slot routing, as used in SEATrack's odd blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LowRankProjection(nn.Module):
    """``(x @ lora_a + bias_a) @ lora_b + bias_b``, no activation.

    lora_a: (in_dim, hidden), lora_b: (hidden, out_dim). x: (..., in_dim) -> (..., out_dim).
    """

    def __init__(self, in_dim: int = 768, hidden: int = 4, out_dim: int = 768) -> None:
        super().__init__()
        self.lora_a = nn.Parameter(torch.zeros(in_dim, hidden))
        self.lora_b = nn.Parameter(torch.zeros(hidden, out_dim))
        self.bias_a = nn.Parameter(torch.zeros(hidden))
        self.bias_b = nn.Parameter(torch.zeros(out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(torch.matmul(x, self.lora_a) + self.bias_a, self.lora_b) + self.bias_b


class BatchedLowRankExperts(nn.Module):
    """E independent low-rank MLPs ``dim -> hidden -> dim`` (no activation), evaluated in one batch.

    lora_a: (E, dim, hidden), lora_b: (E, hidden, dim), bias_a: (E, hidden), bias_b: (E, dim).
    x: (B, E, S, dim) -> (B, E, S, dim); expert e sees x[:, e].
    """

    def __init__(self, num_experts: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.lora_a = nn.Parameter(torch.zeros(num_experts, dim, hidden))
        self.lora_b = nn.Parameter(torch.zeros(num_experts, hidden, dim))
        self.bias_a = nn.Parameter(torch.zeros(num_experts, hidden))
        self.bias_b = nn.Parameter(torch.zeros(num_experts, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = torch.matmul(x, self.lora_a) + self.bias_a[None, :, None, :]
        return torch.matmul(hidden, self.lora_b) + self.bias_b[None, :, None, :]


class HMoE(nn.Module):
    """Soft-routed mixture of E low-rank experts with S slots each.

    Each token (dim) is projected (LayerNorm, then a low-rank projection) and split into S slot-sized
    halves of ``dim // S``. Per expert-slot column of the gate, a softmax over all token halves
    (``dispatch``, temperature ``D_temp``) builds that slot's input as a weighted sum of token halves.
    Each token's mixing weights over experts (``combine``, temperature ``C_temp``) come from the same
    gate logits summed over the token's halves and the expert's slots. Expert outputs (S halves
    concatenated back to ``dim``) pass a second low-rank projection and are mixed per token.

    Column j of the gate belongs to expert ``j // S``.

    x: (B, N, dim) -> (B, N, dim). The caller adds the result to its residual stream.
    """

    def __init__(self, dim: int = 768, num_experts: int = 4, slots: int = 2, hidden: int = 4) -> None:
        super().__init__()
        if dim % slots:
            raise ValueError(f"dim {dim} is not divisible by slots {slots}")
        self.num_experts = num_experts
        self.slots = slots
        slot_dim = dim // slots
        self.norm = nn.LayerNorm(dim)  # eps 1e-5 (PyTorch default), unlike the backbone's 1e-6
        self.linear1 = LowRankProjection(dim, hidden, dim)
        self.gate_thi = nn.Parameter(torch.zeros(slot_dim, num_experts * slots))
        self.experts = BatchedLowRankExperts(num_experts, slot_dim, hidden)
        self.linear2 = LowRankProjection(dim, hidden, dim)
        self.D_temp = nn.Parameter(torch.ones(1))
        self.C_temp = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, num_tokens, dim = x.shape
        experts, slots = self.num_experts, self.slots
        halves = self.linear1(self.norm(x)).reshape(batch, num_tokens * slots, dim // slots)
        logits = torch.matmul(halves, self.gate_thi)  # (B, N*S, E*S)
        dispatch = F.softmax(logits / self.D_temp, dim=1)
        combine_logits = (
            logits.reshape(batch, num_tokens, slots, experts * slots)
            .sum(dim=2)
            .reshape(batch, num_tokens, experts, slots)
            .sum(dim=-1)
        )
        combine = F.softmax(combine_logits / self.C_temp, dim=-1)  # (B, N, E)
        slot_inputs = torch.matmul(dispatch.transpose(1, 2), halves)  # (B, E*S, dim/S)
        slot_inputs = slot_inputs.reshape(batch, experts, slots, dim // slots)
        expert_out = self.experts(slot_inputs).reshape(batch, experts, dim)
        expert_out = self.linear2(expert_out)
        return torch.matmul(combine, expert_out)
