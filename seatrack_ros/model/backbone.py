"""Two-stream ViT-B/16 backbone with AMG-LoRA attention and HMoE fusion (SEATrack's encoder).

Both streams (RGB and the auxiliary modality X) run through the *same* frozen ViT weights. The two
streams are stacked along the batch axis, ``tokens[:B]`` = RGB and ``tokens[B:]`` = X, so every shared
layer runs once for both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .hmoe import HMoE
from .lora import LoRAQKV


@dataclass(frozen=True)
class BackboneConfig:
    """Architecture of the released SEATrack models (identical for the RGB-T, RGB-D and RGB-E files)."""

    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    patch_size: int = 16
    template_size: int = 128
    search_size: int = 256
    fusion_blocks: tuple[int, ...] = (1, 3, 5, 7, 9, 11)
    lora_rank: int = 8
    attn_moe_experts: int = 4
    ffn_moe_experts: int = 8
    moe_slots: int = 2
    moe_hidden: int = 4
    # Present in the released state dicts (inherited from the ImageNet ViT) but never used.
    legacy_pos_embed_tokens: int = 197

    @property
    def template_tokens(self) -> int:
        return (self.template_size // self.patch_size) ** 2

    @property
    def search_tokens(self) -> int:
        return (self.search_size // self.patch_size) ** 2


class Mlp(nn.Module):
    """fc1 -> exact (erf) GELU -> fc2. x: (..., dim) -> (..., dim)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head attention parameters (qkv, proj); the attention itself is computed by `Block`."""

    def __init__(self, dim: int, num_heads: int, lora_rank: int | None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv: nn.Linear = LoRAQKV(dim, lora_rank) if lora_rank else nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def split_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (B, N, dim) -> q, k, v each (B, heads, N, head_dim)."""
        batch, tokens, _ = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, heads, N, head_dim) -> proj output (B, N, dim)."""
        batch, _, tokens, _ = x.shape
        return self.proj(x.transpose(1, 2).reshape(batch, tokens, -1))


class Block(nn.Module):
    """One ViT block applied to both streams; odd blocks add mutual guidance and HMoE fusion.

    Mutual guidance (fusion blocks) mixes the pre-softmax logits of the two streams:
    ``a_rgb' = a_rgb + dte2r_scaling * (a_x - a_rgb)`` and ``a_x' = a_x + r2dte_scaling * (a_rgb - a_x)``,
    both from the unmixed logits. HMoE runs after attention (``attn_moe``) and after the MLP
    (``ffn_moe``), separately on the two streams' template tokens and on their search tokens.
    """

    def __init__(self, config: BackboneConfig, fusion: bool) -> None:
        super().__init__()
        dim = config.embed_dim
        self.fusion = fusion
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, config.num_heads, config.lora_rank if fusion else None)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * config.mlp_ratio))
        if fusion:
            self.r2dte_scaling = nn.Parameter(torch.ones(1))
            self.dte2r_scaling = nn.Parameter(torch.ones(1))
            moe = dict(slots=config.moe_slots, hidden=config.moe_hidden)
            self.attn_moe = HMoE(dim, config.attn_moe_experts, **moe)
            self.ffn_moe = HMoE(dim, config.ffn_moe_experts, **moe)
        # "math" reproduces the reference arithmetic op for op; "fused" lets PyTorch pick a fused kernel
        # (flash / memory-efficient attention) and folds the guidance into one attention call.
        self.attention_impl = "math"

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        """x: (2B, N, dim) stacked streams -> attention output (2B, N, dim)."""
        attn = self.attn
        q, k, v = attn.split_heads(self.norm1(x))
        batch = x.shape[0] // 2
        if self.attention_impl == "fused":
            if self.fusion:
                out = guided_attention_fused(q, k, v, attn.scale, self.dte2r_scaling, self.r2dte_scaling)
            else:
                out = F.scaled_dot_product_attention(q, k, v)
            return attn.merge_heads(out)
        logits = (q @ k.transpose(-2, -1)) * attn.scale  # (2B, H, N, N)
        if self.fusion:
            rgb, aux = logits[:batch], logits[batch:]
            logits = torch.cat(
                [rgb + self.dte2r_scaling * (aux - rgb), aux + self.r2dte_scaling * (rgb - aux)], dim=0
            )
        # Half-precision logits get a float32 softmax; float32 and float64 run unchanged.
        softmax_dtype = torch.float32 if logits.dtype in (torch.float16, torch.bfloat16) else logits.dtype
        return attn.merge_heads(logits.softmax(dim=-1, dtype=softmax_dtype).to(v.dtype) @ v)

    @staticmethod
    def _fuse(moe: HMoE, x: torch.Tensor, num_template: int) -> torch.Tensor:
        """Residual HMoE over the concatenated streams, template and search tokens separately."""
        batch = x.shape[0] // 2
        rgb, aux = x[:batch], x[batch:]
        mixed_template = moe(torch.cat([rgb[:, :num_template], aux[:, :num_template]], dim=1))
        mixed_search = moe(torch.cat([rgb[:, num_template:], aux[:, num_template:]], dim=1))
        num_search = x.shape[1] - num_template
        update_rgb = torch.cat([mixed_template[:, :num_template], mixed_search[:, :num_search]], dim=1)
        update_aux = torch.cat([mixed_template[:, num_template:], mixed_search[:, num_search:]], dim=1)
        return x + torch.cat([update_rgb, update_aux], dim=0)

    def forward(self, x: torch.Tensor, num_template: int) -> torch.Tensor:
        """x: (2B, N, dim), rows [:B] RGB stream, [B:] X stream; N = template + search tokens."""
        x = x + self._attention(x)
        if self.fusion:
            x = self._fuse(self.attn_moe, x, num_template)
        x = x + self.mlp(self.norm2(x))
        if self.fusion:
            x = self._fuse(self.ffn_moe, x, num_template)
        return x


def guided_attention_fused(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scale: float,
    dte2r_scaling: torch.Tensor,
    r2dte_scaling: torch.Tensor,
) -> torch.Tensor:
    """Mutually guided attention for both streams as one fused attention call.

    q, k, v: (2B, H, N, d), rows [:B] RGB, [B:] X. Because the guided logits are affine in the two
    streams' logits, ``a_rgb + s (a_x - a_rgb) = ((1-s) q_rgb) k_rgb^T + (s q_x) k_x^T`` (times the
    scale), the guided map equals plain attention with head dim 2d over ``[(1-s) q_rgb, s q_x]`` and
    ``[k_rgb, k_x]``. That lets `scaled_dot_product_attention` pick a fused kernel. Exact in real
    arithmetic; in floating point it rounds differently from the reference order.
    Returns (2B, H, N, d).
    """
    batch = q.shape[0] // 2
    q_rgb, q_aux = q[:batch], q[batch:]
    k_rgb, k_aux = k[:batch], k[batch:]
    # Coefficients are formed in the scalars' own precision (float32) before meeting half-precision q:
    # 1 - s of a float16 s near 1 would keep only a few significant bits.
    keep_rgb, mix_rgb = (1 - dte2r_scaling).to(q.dtype), dte2r_scaling.to(q.dtype)
    keep_aux, mix_aux = (1 - r2dte_scaling).to(q.dtype), r2dte_scaling.to(q.dtype)
    q_guided = torch.cat(
        [
            torch.cat([keep_rgb * q_rgb, mix_rgb * q_aux], dim=-1),
            torch.cat([mix_aux * q_rgb, keep_aux * q_aux], dim=-1),
        ],
        dim=0,
    )
    k_joint = torch.cat([k_rgb, k_aux], dim=-1)
    k_guided = torch.cat([k_joint, k_joint], dim=0)
    return F.scaled_dot_product_attention(q_guided, k_guided, v, scale=scale)


class PatchEmbed(nn.Module):
    """Conv2d(3, dim, patch, stride=patch). x: (B, 3, H, W) -> (B, H*W/patch^2, dim), row-major."""

    def __init__(self, patch_size: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class TwoStreamViT(nn.Module):
    """SEATrack encoder: returns the fused search features (B, search_tokens, dim)."""

    def __init__(self, config: BackboneConfig | None = None) -> None:
        super().__init__()
        config = config or BackboneConfig()
        self.config = config
        dim = config.embed_dim
        self.patch_embed = PatchEmbed(config.patch_size, dim)
        self.pos_embed_z = nn.Parameter(torch.zeros(1, config.template_tokens, dim))
        self.pos_embed_x = nn.Parameter(torch.zeros(1, config.search_tokens, dim))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))  # unused, kept for checkpoint layout
        self.pos_embed = nn.Parameter(torch.zeros(1, config.legacy_pos_embed_tokens, dim))  # unused
        self.blocks = nn.ModuleList(Block(config, i in config.fusion_blocks) for i in range(config.depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def embed_template(self, template: torch.Tensor) -> torch.Tensor:
        """template: (B, 6, 128, 128) normalised -> stacked template tokens (2B, 64, dim)."""
        streams = torch.cat([template[:, :3], template[:, 3:]], dim=0)
        return self.patch_embed(streams) + self.pos_embed_z

    def embed_search(self, search: torch.Tensor) -> torch.Tensor:
        """search: (B, 6, 256, 256) normalised -> stacked search tokens (2B, 256, dim)."""
        streams = torch.cat([search[:, :3], search[:, 3:]], dim=0)
        return self.patch_embed(streams) + self.pos_embed_x

    def forward(
        self,
        template: torch.Tensor,
        search: torch.Tensor,
        template_tokens: torch.Tensor | None = None,
        capture: dict | None = None,
    ) -> torch.Tensor:
        """template (B,6,128,128), search (B,6,256,256) -> fused search features (B, 256, dim).

        ``template_tokens`` (from `embed_template`) skips re-embedding a fixed template. ``capture``, when
        a dict, receives ``embed`` (2B, N, dim) and ``blocks`` (list of (2B, N, dim)) for inspection.
        """
        if template_tokens is None:
            template_tokens = self.embed_template(template)
        return self.fuse_tokens(template_tokens, self.embed_search(search), capture)

    def fuse_tokens(
        self, template_tokens: torch.Tensor, search_tokens: torch.Tensor, capture: dict | None = None
    ) -> torch.Tensor:
        """Stacked stream tokens (2B, Nz, dim), (2B, Nx, dim) -> fused search features (B, Nx, dim):
        the blocks, the final norm and the sum of the two streams' search tokens (see `forward`)."""
        num_template = template_tokens.shape[1]
        x = torch.cat([template_tokens, search_tokens], dim=1)
        if capture is not None:
            capture["embed"] = x
            capture["blocks"] = []
        for block in self.blocks:
            x = block(x, num_template)
            if capture is not None:
                capture["blocks"].append(x)
        x = self.norm(x)
        batch = x.shape[0] // 2
        return x[:batch, num_template:] + x[batch:, num_template:]
