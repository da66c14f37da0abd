"""qkv projection with a LoRA update on the key and value parts (the "LoRA" of AMG-LoRA)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LoRAQKV(nn.Linear):
    """``nn.Linear(dim, 3*dim)`` whose K and V output rows carry a rank-``r`` update.

    Parameters (the names an official checkpoint uses):
        weight: (3*dim, dim) frozen base weight, or base + delta when ``merged`` is True.
        bias:   (3*dim,) untouched by LoRA.
        lora_A: (2*r, dim); rows [0:r] are A_k, rows [r:2r] are A_v.
        lora_B: (2*dim, r); rows [0:dim] are B_k, rows [dim:2*dim] are B_v.

    The update is ``delta[dim:2dim] = B_k @ A_k`` and ``delta[2dim:3dim] = B_v @ A_v``; the query rows get
    none and no alpha/r scaling is applied (the released weights were trained that way).

    ``merged`` is runtime state, not part of the state dict: it says whether ``weight`` already holds the
    update. Inference normally runs merged (one matmul, no LoRA work); unmerged it adds ``x @ delta^T``.
    """

    def __init__(self, dim: int, rank: int) -> None:
        super().__init__(dim, 3 * dim, bias=True)
        self.rank = rank
        self.lora_A = nn.Parameter(torch.zeros(2 * rank, dim))
        self.lora_B = nn.Parameter(torch.zeros(2 * dim, rank))
        self.merged = False

    def lora_delta(self) -> torch.Tensor:
        """The (3*dim, dim) update; zero rows for Q."""
        dim, r = self.in_features, self.rank
        delta_k = self.lora_B[:dim] @ self.lora_A[:r]
        delta_v = self.lora_B[dim:] @ self.lora_A[r:]
        return torch.cat([torch.zeros_like(delta_k), delta_k, delta_v], dim=0)

    @torch.no_grad()
    def merge(self) -> None:
        """Add the update into ``weight`` in place (no-op when already merged)."""
        if not self.merged:
            self.weight += self.lora_delta()
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Subtract the update from ``weight`` in place (no-op when not merged)."""
        if self.merged:
            self.weight -= self.lora_delta()
            self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., dim) -> (..., 3*dim)."""
        out = F.linear(x, self.weight, self.bias)
        if not self.merged:
            out = out + F.linear(x, self.lora_delta())
        return out
