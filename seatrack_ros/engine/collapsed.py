"""Exact rewrites of the backbone for the engine path: the same arithmetic in far fewer operators.

Each piece here computes what `seatrack_ros.model` computes (proven equal in float64 to <= 1e-12 by
test/test_collapsed.py) with fewer, larger kernels; the rounding order differs, so the float32 host
tracker, whose golden parity is bitwise, never runs them. `collapse_for_inference` swaps them into a
loaded model in place (`prepare_model` calls it for the half precision and CUDA engine paths).

- `CollapsedHMoE`: one HMoE fusion step (both streams, template and search groups) whose rank-4 first
  projection lets everything after the LayerNorm run in a 5-value space per token slot: the routing
  logits, the slot values and the combine logits come from the normalised tokens by two matrix
  products, both groups share one routing softmax (their columns masked) and one slot product, the
  whole expert chain is one batched product, and the output is one (tokens x experts) @ (experts x
  dim) product that also adds the residual: 8 kernels per fusion step (in float16; bfloat16's float32 island adds
  two casts) where the two reference HMoE calls take 44 (plus four casts) and the block five
  concatenations around them.
- `CollapsedBlock`: a ViT block whose mutually guided q and k both come from one multiply by
  precomputed guidance coefficients (1 for k), written straight into the attention's layout, instead
  of four casts, four multiplies and five concatenations; `ResidualMlp` puts fc2's bias and the residual add
  into fc2's product.
- `CollapsedViT`: patch embedding as one copy (which also splits the two streams) and one matrix
  product, the projection's bias folded into the positional embeddings; with the model's pixel
  statistics it embeds raw 0..255 crops, the normalisation folded into per-stream weights.

Kernels per engine frame of the released architecture (float16, counted on the CPU as CUDA would
launch them; scripts/count_ops.py): 988 before these rewrites, 247 with them (docs/gpu.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..model.backbone import Block, TwoStreamViT
from ..model.hmoe import HMoE
from .fold import FoldedCenterHead


class CollapsedHMoE(HMoE):
    """Residual HMoE fusion ``x + HMoE(template group) | HMoE(search group)``, collapsed (see module doc).

    A subclass of `HMoE` only so that the half precision policy, which finds its float32 islands by
    type, keeps this module float32 under bfloat16; it shares no parameters or code with `HMoE`. Under
    the dtypes in ``HALF_DTYPES`` (float16) it runs in that dtype, without the island's two casts
    (`seatrack_ros.engine.precision` says why that is safe).

    Notation (per token ``n``, slot ``s``): ``h5[n] = [LoRP1_a(LayerNorm(x[n])), 1]`` is the rank-4
    projection with a constant 1 appended; the reference's token half ``(n, s)`` is
    ``h5[n] @ B1s[s]`` with ``B1s[s] = [lora_b[:, slot s]; bias_b[slot s]]`` (5, dim/S). Everything the
    reference computes from token halves is linear in them, so it is computed from ``h5`` with matrices
    that absorb ``B1s``, the gate, the temperatures and the experts. The constant 1 carries the biases:
    a dispatch column sums to 1 over its group, so a bias times the summed 1-entries is the bias itself.

    Each (stream, token, slot) is one of ``R = 2 N S`` rows, and one matrix product of the normalised
    tokens gives every row ``[dispatch logits (2 E S) | slot values (S * 5)]``:

    - the dispatch logits ``h5 @ B1s[s] @ gate / D_temp`` once per group g (column g*E*S + j), the
      other group's columns at -inf (the mask is part of the product's input term), so one softmax
      over all R rows (dim 0) routes both groups. It also runs over the slot values' columns, whose
      result is never read: the rows stay one contiguous block, so nothing is copied;
    - the slot values: ``h5`` in block s, zeros elsewhere, so that the slot inputs
      (dispatch^T @ values) keep each slot's 5 values apart for the expert matrices.

    Buffers (float64 products rounded once to the source dtype; C = S * (2 E S + S * 5)):
        first_weight (C, dim), first_bias (C,): the product above.
        combine_weight (2E, dim), combine_bias (2E,): per token the combine logits
            ``sum_s h5 @ B1s[s] @ gate @ P / C_temp`` (P sums each expert's slot columns), each
            expert column twice (column e*2 + g), for the template and the search group.
        expert_weight (E, S*S*5, dim): slot inputs (in the 5-value space) -> expert output after both
            low-rank stages and the second projection, biases folded into the constant-1 rows.
        first_input (2N, C), combine_input (2N, 2E): the biases plus the group masks (-inf on the
            other group's columns) per (stream, token) position, for the token split given at init.

    Kernels per call (one batch item): LayerNorm, first product, dispatch softmax, slot product,
    expert product, combine product, combine softmax, output product with the residual add: 8.
    """

    HALF_DTYPES = (torch.float16,)

    def __init__(self, moe: HMoE, num_template: int, num_tokens: int) -> None:
        nn.Module.__init__(self)
        self.num_experts, self.slots = moe.num_experts, moe.slots
        self.eps = moe.norm.eps
        dtype = moe.gate_thi.dtype
        self.norm = moe.norm  # kept: the half policy and the LayerNorm statistics stay as they were
        with torch.no_grad():
            weights = _collapse_hmoe(moe)
        self.dispatch_width = 2 * moe.num_experts * moe.slots  # 2ES logits, then S*5 values, per row
        for name, value in weights.items():
            self.register_buffer(name, value.to(dtype).contiguous())
        first, combine = self._inputs(num_template, num_tokens)
        self.register_buffer("first_input", first)
        self.register_buffer("combine_input", combine)
        self._mask_shape = (num_template, num_tokens)

    def _inputs(self, num_template: int, num_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(first_input, combine_input) for a token split: biases plus group masks, both streams."""
        experts, slots = self.num_experts, self.slots
        f64, device = torch.float64, self.first_bias.device
        mask = group_mask(num_template, num_tokens, 1).to(device)  # (N, 2): column g = group g
        row_width = self.first_weight.shape[0] // slots
        values = torch.zeros(num_tokens, row_width - self.dispatch_width, dtype=f64, device=device)
        per_slot = torch.cat([mask.repeat_interleave(experts * slots, dim=1), values], dim=1)  # one row
        first = self.first_bias.to(f64) + per_slot.repeat(1, slots)
        combine = self.combine_bias.to(f64) + mask.repeat(1, experts)  # column e*2 + g
        dtype = self.first_bias.dtype
        return first.repeat(2, 1).to(dtype), combine.repeat(2, 1).to(dtype)

    def forward(self, x: torch.Tensor, num_template: int) -> torch.Tensor:
        """x: (2B, N, dim) stacked streams, the first ``num_template`` tokens of each the template.

        Returns ``x`` plus the HMoE update, as `Block._fuse` does with the reference `HMoE`.
        """
        two_batch, num_tokens, dim = x.shape
        batch = two_batch // 2
        if batch == 1:
            return self._fuse_item(x, num_template)
        # routing mixes the two streams of one item only: one item at a time (the engine runs batch 1)
        items = x.view(2, batch, num_tokens, dim)
        fused = [self._fuse_item(items[:, b].contiguous(), num_template) for b in range(batch)]
        return torch.stack(fused, dim=1).reshape(two_batch, num_tokens, dim)

    def _fuse_item(self, x: torch.Tensor, num_template: int) -> torch.Tensor:
        """x: (2, N, dim), one item's two streams -> x plus the update."""
        _, num_tokens, dim = x.shape
        experts, slots = self.num_experts, self.slots
        first_input, combine_input = self.first_input, self.combine_input
        if (num_template, num_tokens) != self._mask_shape:
            first_input, combine_input = (t.to(x.dtype) for t in self._inputs(num_template, num_tokens))
        y = F.layer_norm(x, (dim,), self.norm.weight, self.norm.bias, self.eps).view(2 * num_tokens, dim)
        rows = torch.addmm(first_input, y, self.first_weight.t()).view(2 * num_tokens * slots, -1)  # (R, 2ES + S*5)
        dispatch = torch.softmax(rows, dim=0)[:, : self.dispatch_width]  # per column over all rows
        slot_inputs = torch.mm(dispatch.t(), rows[:, self.dispatch_width :])  # (2ES, S*5), row g*E*S + j
        # per expert e: (group, S*S*5) against (S*S*5, dim) -> (E, 2, dim), row e*2 + g viewed flat
        stacked = slot_inputs.view(2, experts, -1).transpose(0, 1)
        expert_out = torch.bmm(stacked, self.expert_weight).view(2 * experts, dim)
        combine = torch.softmax(torch.addmm(combine_input, y, self.combine_weight.t()), dim=-1)  # (2N, 2E)
        return torch.addmm(x.view(2 * num_tokens, dim), combine, expert_out).view(2, num_tokens, dim)


def group_mask(num_template: int, num_tokens: int, experts: int) -> torch.Tensor:
    """(num_tokens, 2E) float64: 0 where column e*2 + g belongs to the token's group g, else -inf."""
    token_group = (torch.arange(num_tokens) >= num_template).long()  # 0 template, 1 search
    column_group = torch.arange(2 * experts) % 2
    mask = torch.zeros(num_tokens, 2 * experts, dtype=torch.float64)
    mask[token_group[:, None] != column_group[None, :]] = float("-inf")
    return mask


def _collapse_hmoe(moe: HMoE) -> dict[str, torch.Tensor]:
    """The input-independent matrices of `CollapsedHMoE`, in float64 (see its docstring)."""
    f64 = torch.float64
    experts, slots = moe.num_experts, moe.slots
    device = moe.gate_thi.device
    a1, bias_a1 = moe.linear1.lora_a.to(f64), moe.linear1.bias_a.to(f64)  # (dim, r), (r,)
    b1, bias_b1 = moe.linear1.lora_b.to(f64), moe.linear1.bias_b.to(f64)  # (r, dim), (dim,)
    dim, rank = a1.shape
    width = dim // slots
    aug = rank + 1  # h5 = [h4, 1]
    values = slots * aug  # slot values per row
    # h5 = y @ lift_weight + lift_bias: (dim, aug), (aug,)
    lift_weight = torch.cat([a1, torch.zeros(dim, 1, dtype=f64, device=device)], dim=1)
    lift_bias = torch.cat([bias_a1, torch.ones(1, dtype=f64, device=device)])
    # B1s[s]: (aug, width), the slot-s half of the first projection's second factor, bias appended.
    b1s = [torch.cat([b1[:, s * width : (s + 1) * width], bias_b1[None, s * width : (s + 1) * width]]) for s in range(slots)]
    gate = moe.gate_thi.to(f64)  # (width, E*S), column j belongs to expert j // S
    d_temp, c_temp = moe.D_temp.to(f64).reshape(()), moe.C_temp.to(f64).reshape(())

    row_width = 2 * experts * slots + values
    first_weight = torch.zeros(slots, row_width, dim, dtype=f64, device=device)
    first_bias = torch.zeros(slots, row_width, dtype=f64, device=device)
    for s in range(slots):
        to_logits = (b1s[s] @ gate / d_temp).repeat(1, 2)  # (aug, 2ES): both groups' copies
        first_weight[s, : 2 * experts * slots] = (lift_weight @ to_logits).T
        first_bias[s, : 2 * experts * slots] = lift_bias @ to_logits
        block = slice(2 * experts * slots + s * aug, 2 * experts * slots + (s + 1) * aug)
        first_weight[s, block] = lift_weight.T
        first_bias[s, block] = lift_bias

    columns = torch.arange(experts * slots, device=device)
    expert_sum = (columns[:, None] // slots == torch.arange(experts, device=device)[None, :]).to(f64)
    to_combine = sum(b1s[s] @ gate @ expert_sum for s in range(slots)) / c_temp  # (aug, E)
    combine_weight = (lift_weight @ to_combine).repeat_interleave(2, dim=1).T  # (2E, dim), row e*2 + g
    combine_bias = (lift_bias @ to_combine).repeat_interleave(2)

    ex = moe.experts
    a2, bias_a2 = moe.linear2.lora_a.to(f64), moe.linear2.bias_a.to(f64)  # (dim, r)
    b2, bias_b2 = moe.linear2.lora_b.to(f64), moe.linear2.bias_b.to(f64)  # (r, dim)
    expert_weight = torch.zeros(experts, slots, slots, aug, dim, dtype=f64, device=device)  # [e, s', s, k, :]
    for e in range(experts):
        ea, eb = ex.lora_a[e].to(f64), ex.lora_b[e].to(f64)  # (width, r), (r, width)
        e_bias_a, e_bias_b = ex.bias_a[e].to(f64), ex.bias_b[e].to(f64)
        constant = bias_a2.clone()  # the second projection's hidden offset from all biases
        for s_out in range(slots):
            a2_part = a2[s_out * width : (s_out + 1) * width]  # (width, r): slot s_out's share of LoRP2
            constant += (e_bias_a @ eb + e_bias_b) @ a2_part
            for s in range(slots):
                expert_weight[e, s_out, s] = b1s[s] @ ea @ eb @ a2_part @ b2
        # Row (slot 0, any s, constant-1 entry): the constant-1 entries of one slot sum to 1 over s.
        for s in range(slots):
            expert_weight[e, 0, s, rank] += constant @ b2 + bias_b2
    return {
        "first_weight": first_weight.reshape(slots * row_width, dim),
        "first_bias": first_bias.reshape(slots * row_width),
        "combine_weight": combine_weight,
        "combine_bias": combine_bias,
        "expert_weight": expert_weight.reshape(experts, slots * values, dim),
    }


def guidance_coefficients(block: Block) -> torch.Tensor:
    """(2, 1, 1, 1, 2, 1): coefficient [i, j] scales stream j's q in stream i's guided query.

    Formed in the scalars' own precision (at least float32) before any cast, as
    `guided_attention_fused` does: ``1 - s`` of a half ``s`` near 1 keeps only a few bits.
    """
    with torch.no_grad():
        to_rgb, to_aux = block.dte2r_scaling.reshape(()), block.r2dte_scaling.reshape(())
        coef = torch.stack([torch.stack([1 - to_rgb, to_rgb]), torch.stack([to_aux, 1 - to_aux])])
    return coef.reshape(2, 1, 1, 1, 2, 1).clone()


class ResidualMlp(nn.Module):
    """``x + Mlp(y)`` with fc2's bias and the residual add inside fc2's matrix product.

    GELU(16) is exactly 16 in float64, float32 and half (erf(16 / sqrt 2) rounds to 1), so fc1 gets
    extra hidden units (``BIAS_UNITS``, to keep the width a multiple of 8 for tensor cores): the first
    with weight 0 and bias 16, the others all zero (GELU(0) = 0). fc2's matching columns are
    ``bias / 16`` (exact: a power of two) and zeros, and the product's input term is the residual:
    ``addmm(x, GELU(fc1(y)), fc2^T)`` = ``x + fc2(GELU(fc1(y)))``, one kernel instead of two.
    """

    BIAS_UNITS = 8
    CONSTANT = 16.0

    def __init__(self, mlp: nn.Module) -> None:
        super().__init__()
        fc1, fc2 = mlp.fc1, mlp.fc2
        hidden, dim = fc1.weight.shape
        extra = self.BIAS_UNITS
        with torch.no_grad():
            w1 = torch.zeros(hidden + extra, dim, dtype=fc1.weight.dtype, device=fc1.weight.device)
            b1 = torch.zeros(hidden + extra, dtype=fc1.bias.dtype, device=fc1.bias.device)
            w1[:hidden], b1[:hidden], b1[hidden] = fc1.weight, fc1.bias, self.CONSTANT
            w2 = torch.zeros(dim, hidden + extra, dtype=fc2.weight.dtype, device=fc2.weight.device)
            w2[:, :hidden], w2[:, hidden] = fc2.weight, fc2.bias / self.CONSTANT
        self.fc1 = nn.Linear(dim, hidden + extra)
        self.fc1.weight, self.fc1.bias = nn.Parameter(w1), nn.Parameter(b1)
        self.fc2_weight = nn.Parameter(w2)  # (dim, hidden + extra), no bias: it is column ``hidden``
        self.act = mlp.act

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: residual (..., dim); y: the normalised x -> x + Mlp(y)."""
        h = self.act(self.fc1(y))
        if x.dtype != h.dtype:  # residual_float32: the product in half, the add promotes
            return x + F.linear(h, self.fc2_weight)
        shape = x.shape
        return torch.addmm(x.reshape(-1, shape[-1]), h.reshape(-1, h.shape[-1]), self.fc2_weight.t()).view(shape)


class CollapsedBlock(nn.Module):
    """`Block` with fused attention, precomputed guidance (``qk_guidance`` (2, 2, 1, 1, 1, 2, 1): q's
    coefficients [i, j] from `guidance_coefficients`, then k's, all 1), `CollapsedHMoE` fusion and
    `ResidualMlp`."""

    def __init__(self, block: Block, num_template: int, num_tokens: int) -> None:
        super().__init__()
        self.fusion = block.fusion
        self.norm1, self.attn, self.norm2 = block.norm1, block.attn, block.norm2
        self.mlp = ResidualMlp(block.mlp)
        if self.fusion:
            guidance = guidance_coefficients(block)  # (2, 1, 1, 1, 2, 1): [i, j] for q; k's are 1
            self.register_buffer("qk_guidance", torch.stack([guidance, torch.ones_like(guidance)]))
            self.attn_moe = CollapsedHMoE(block.attn_moe, num_template, num_tokens)
            self.ffn_moe = CollapsedHMoE(block.ffn_moe, num_template, num_tokens)
        self.attention_impl = "fused"  # set_attention_impl visits every block; this one has one impl

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        attn = self.attn
        if not self.fusion:
            q, k, v = attn.split_heads(self.norm1(x))  # (2B, H, N, d) each
            return attn.merge_heads(F.scaled_dot_product_attention(q, k, v))
        two_batch, tokens, _ = x.shape
        batch, heads, head_dim = two_batch // 2, attn.num_heads, attn.head_dim
        # (qkv, 2B, H, N, d) views of the one qkv product
        qkv = attn.qkv(self.norm1(x)).reshape(two_batch, tokens, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
        # Guided attention as plain attention over head dim 2d (see guided_attention_fused): for both
        # streams i, q_guided[i] = [c[i,0] q_rgb, c[i,1] q_aux] and k_guided[i] = [k_rgb, k_aux]. One
        # multiply by `qk_guidance` (k's coefficients are 1: exact) lays out both: (q|k, stream i, B, H,
        # N, stream j, d), contiguous, so each merge of (stream j, d) into the head dim is a view.
        by_stream = (0, 2, 3, 4, 1, 5)  # (q|k, 2, B, H, N, d) -> (q|k, B, H, N, 2, d): stream j by head_dim
        qk_src = qkv[:2].reshape(2, 2, batch, heads, tokens, head_dim).permute(*by_stream)
        qk_guided = torch.empty((2, 2, batch, heads, tokens, 2, head_dim), dtype=qkv.dtype, device=qkv.device)
        torch.mul(self.qk_guidance.to(qkv.dtype), qk_src.unsqueeze(1), out=qk_guided)
        q_guided = qk_guided[0].view(two_batch, heads, tokens, 2 * head_dim)
        k_guided = qk_guided[1].view(two_batch, heads, tokens, 2 * head_dim)
        out = F.scaled_dot_product_attention(q_guided, k_guided, qkv[2], scale=attn.scale)
        return attn.merge_heads(out)

    def forward(self, x: torch.Tensor, num_template: int) -> torch.Tensor:
        x = x + self._attention(x)
        if self.fusion:
            x = self.attn_moe(x, num_template)
        x = self.mlp(x, self.norm2(x))
        if self.fusion:
            x = self.ffn_moe(x, num_template)
        return x


class CollapsedViT(nn.Module):
    """`TwoStreamViT` on the engine path: same interface (`embed_template`, `embed_search`, forward).

    ``patch_weight`` (dim, 3*p*p) is the patch embedding's convolution as a matrix over (channel, row,
    column) patch values; ``pos_embed_z`` / ``pos_embed_x`` here include that convolution's bias.

    With the model's pixel statistics it also embeds raw crops (0..255, ``pixels=True``): the
    normalisation ``(v / 255 - mean_c) / std_c`` is affine per channel, so it folds into one weight per
    stream (``pixel_weight`` (2, 3*p*p, dim): the matrix divided by std_c) applied with the product's
    scale 1/255, and positions per stream (``pixel_pos_z`` / ``pixel_pos_x`` (2, T, dim)) that absorb
    ``-sum W mean_c / std_c``. The engine then needs no normalisation kernels at all, and raw pixel
    values are exact in half precision. (1/255 goes into the product's scale rather than the weight,
    which in float16 would put small weights into the subnormal range.)
    """

    def __init__(self, vit: TwoStreamViT, pixel_mean=None, pixel_std=None) -> None:
        super().__init__()
        config = vit.config
        self.config = config
        self.patch_size = config.patch_size
        conv = vit.patch_embed.proj
        with torch.no_grad():
            self.patch_weight = nn.Parameter(conv.weight.reshape(conv.weight.shape[0], -1).clone())
            bias = conv.bias.to(torch.float64)
            self.pos_embed_z = nn.Parameter((vit.pos_embed_z.to(torch.float64) + bias).to(conv.bias.dtype))
            self.pos_embed_x = nn.Parameter((vit.pos_embed_x.to(torch.float64) + bias).to(conv.bias.dtype))
            self.pixel_input = pixel_mean is not None
            if self.pixel_input:
                weight, pos_z, pos_x = _fold_pixel_statistics(vit, pixel_mean, pixel_std)
                self.pixel_weight = nn.Parameter(weight.to(conv.weight.dtype))
                self.pixel_pos_z = nn.Parameter(pos_z.to(conv.bias.dtype))
                self.pixel_pos_x = nn.Parameter(pos_x.to(conv.bias.dtype))
        num_template, num_tokens = config.template_tokens, config.template_tokens + config.search_tokens
        self.blocks = nn.ModuleList(CollapsedBlock(block, num_template, num_tokens) for block in vit.blocks)
        self.norm = vit.norm

    def _patches(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 6, H, W) -> (2B, H*W/p^2, 3*p*p) patch rows, RGB stream first."""
        batch, channels, height, width = image.shape
        p = self.patch_size
        rows, cols = height // p, width // p
        # (B, stream, c, row, py, col, px) -> (stream, B, row, col, c, py, px): one copy splits the
        # streams and lays every patch out as the convolution weight's (c, py, px) order.
        return (
            image.reshape(batch, 2, channels // 2, rows, p, cols, p)
            .permute(1, 0, 3, 5, 2, 4, 6)
            .reshape(2 * batch, rows * cols, -1)
        )

    def _embed(self, image: torch.Tensor, pos_embed: torch.Tensor) -> torch.Tensor:
        """(B, 6, H, W) normalised -> stacked stream tokens (2B, H*W/p^2, dim), RGB rows first."""
        patches = self._patches(image)
        weight = self.patch_weight.t()
        if pos_embed.dtype == patches.dtype:
            return torch.baddbmm(pos_embed, patches, weight.expand(patches.shape[0], -1, -1))
        return torch.matmul(patches, weight) + pos_embed  # residual_float32: float32 positions promote

    def _embed_pixels(self, image: torch.Tensor, crop: str) -> torch.Tensor:
        """(B, 6, H, W) raw 0..255 -> stacked stream tokens (2B, H*W/p^2, dim); crop "z" or "x"."""
        if not self.pixel_input:
            raise RuntimeError("this backbone was collapsed without the pixel statistics")
        pixel_pos = self.pixel_pos_z if crop == "z" else self.pixel_pos_x
        patches = self._patches(image)
        batch = image.shape[0]
        weight = self.pixel_weight.repeat_interleave(batch, dim=0) if batch > 1 else self.pixel_weight
        pos = pixel_pos.repeat_interleave(batch, dim=0) if batch > 1 else pixel_pos
        if pos.dtype != patches.dtype:  # residual_float32: positions float32, the product in half
            return torch.bmm(patches, weight).mul(1.0 / 255.0) + pos
        return torch.baddbmm(pos, patches, weight, alpha=1.0 / 255.0)

    def embed_template(self, template: torch.Tensor, pixels: bool = False) -> torch.Tensor:
        if pixels:
            return self._embed_pixels(template, "z")
        return self._embed(template, self.pos_embed_z)

    def embed_search(self, search: torch.Tensor, pixels: bool = False) -> torch.Tensor:
        if pixels:
            return self._embed_pixels(search, "x")
        return self._embed(search, self.pos_embed_x)

    def forward(self, template, search, template_tokens=None, capture=None, pixels: bool = False) -> torch.Tensor:
        """`TwoStreamViT.forward`; ``pixels``: template and search are raw 0..255 crops."""
        if template_tokens is None:
            template_tokens = self.embed_template(template, pixels)
        return self.fuse_tokens(template_tokens, self.embed_search(search, pixels), capture)

    fuse_tokens = TwoStreamViT.fuse_tokens  # the same token assembly, blocks, final norm and stream sum


def _fold_pixel_statistics(vit: TwoStreamViT, pixel_mean, pixel_std) -> tuple[torch.Tensor, ...]:
    """(pixel_weight (2, 3pp, dim), pixel_pos_z (2, Tz, dim), pixel_pos_x (2, Tx, dim)) in float64:
    ``baddbmm(pos, raw patches, weight, alpha=1/255)`` equals the normalised patches' embedding."""
    f64 = torch.float64
    conv = vit.patch_embed.proj
    device = conv.weight.device
    weight = conv.weight.to(f64)  # (dim, 3, p, p)
    mean = torch.tensor(pixel_mean, dtype=f64, device=device).view(2, 3)
    std = torch.tensor(pixel_std, dtype=f64, device=device).view(2, 3)
    per_stream = weight[None] / std[:, None, :, None, None]  # (2, dim, 3, p, p): W / std_c
    offset = -(per_stream * mean[:, None, :, None, None]).sum(dim=(2, 3, 4))  # (2, dim): -sum W mean/std
    bias = conv.bias.to(f64)[None] + offset  # (2, dim)
    pixel_weight = per_stream.reshape(2, weight.shape[0], -1).transpose(1, 2)  # (2, 3pp, dim)
    pos_z = vit.pos_embed_z.to(f64) + bias[:, None, :]
    pos_x = vit.pos_embed_x.to(f64) + bias[:, None, :]
    return pixel_weight.contiguous(), pos_z, pos_x


def collapse_for_inference(model: nn.Module) -> nn.Module:
    """Swap the exact rewrites into a loaded SEATrack in place (backbone and head); returns it.

    Call it on the float32 (or float64) weights with LoRA merged, before any half-precision cast: the
    folds are computed in float64 and rounded once. Already collapsed parts are left as they are.
    """
    if not isinstance(model.backbone, CollapsedViT):
        for block in model.backbone.blocks:
            if block.fusion and not all(layer.merged for layer in block.modules() if hasattr(layer, "merged")):
                raise ValueError("collapse_for_inference needs LoRA merged into qkv first (merge_lora)")
        model.backbone = CollapsedViT(model.backbone, getattr(model, "pixel_mean", None), getattr(model, "pixel_std", None))
    if not isinstance(model.box_head, FoldedCenterHead):
        model.box_head = FoldedCenterHead(model.box_head)
    return model


class EngineNetwork(nn.Module):
    """Backbone + head returning only the three maps: the engine decodes its own (windowed) box.

    Same call as `SEATrack.forward` (template, search, template_tokens); skips the unwindowed
    ``pred_boxes`` decode and hands the head the fused tokens as a channels-last view (no copy). With a
    `FoldedCenterHead` the three maps are views of one (B, 6, F, F) tensor, also returned as ``maps``.
    """

    def __init__(self, model: nn.Module, pixels: bool = False) -> None:
        super().__init__()
        self.model = model
        self._pixels = {"pixels": True} if pixels else {}  # raw 0..255 crops (a collapsed backbone only)

    def forward(self, template, search, template_tokens=None) -> dict[str, torch.Tensor]:
        model = self.model
        fused = model.backbone(template, search, template_tokens=template_tokens, **self._pixels)
        batch, tokens, dim = fused.shape
        side = model.box_head.feat_size
        features = fused.view(batch, side, side, dim).permute(0, 3, 1, 2)  # channels-last (B, dim, F, F)
        head = model.box_head
        if isinstance(head, FoldedCenterHead):  # one stacked map, so the decode gathers a cell once
            maps = head.maps(features)  # (B, 6, F, F) channels-last, see FoldedCenterHead.maps
            return {"score_map": maps[:, 0:1], "size_map": maps[:, 2:4], "offset_map": maps[:, 4:6], "maps": maps}
        score_map, size_map, offset_map = head(features)
        return {"score_map": score_map, "size_map": size_map, "offset_map": offset_map}
