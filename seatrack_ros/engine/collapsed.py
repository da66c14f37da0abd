"""Exact rewrites of the backbone for the engine path: the same arithmetic in far fewer operators.

Each piece here computes what `seatrack_ros.model` computes (proven equal in float64 to <= 1e-12 by
test/test_collapsed.py) with fewer, larger kernels; the rounding order differs, so the float32 host
tracker, whose golden parity is bitwise, never runs them. `collapse_for_inference` swaps them into a
loaded model in place (`prepare_model` calls it for the half precision and CUDA engine paths).

- `CollapsedHMoE`: one HMoE fusion step (both streams, template and search groups) whose rank-4 first
  projection lets everything after the LayerNorm run in a 5-value space per token slot: the routing
  logits, the slot inputs and the whole expert chain (experts, second projection) fold into
  matrices computed once; both token groups share one routing softmax and one slot product, and the
  output is one (tokens x experts) @ (experts x dim) product, added to the residual stream by the same
  kernel: 10 kernels per fusion step (plus the half policy's two casts) where the two reference HMoE
  calls take 44 (plus four casts) and the block five concatenations around them.
- `CollapsedBlock`: a ViT block whose mutually guided q/k come from one multiply by precomputed
  guidance coefficients and one copy, instead of four casts, four multiplies and five concatenations.
- `CollapsedViT`: patch embedding as one copy (which also splits the two streams) and one matrix
  product, the projection's bias folded into the positional embeddings.
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
    type, keeps this module float32 too; it shares no parameters or code with `HMoE`.

    Notation (per token ``n``, slot ``s``): ``h5[n] = [LoRP1_a(LayerNorm(x[n])), 1]`` is the rank-4
    projection with a constant 1 appended; the reference's token half ``(n, s)`` is
    ``h5[n] @ B1s[s]`` with ``B1s[s] = [lora_b[:, slot s]; bias_b[slot s]]`` (5, dim/S). Everything the
    reference computes from token halves is linear in them, so it is computed from ``h5`` with matrices
    that absorb ``B1s``, the gate, the temperatures and the experts. The constant 1 carries the biases:
    a dispatch column sums to 1 over its group, so a bias times the summed 1-entries is the bias itself.

    Buffers (float64 products rounded once to the source dtype):
        project_weight/bias (S*S*5, dim): per token, S rows of S*5 values, row s holding ``h5`` in block s
            and zeros elsewhere, so each (token, slot) row selects its own slot's matrices below.
        dispatch_weight (S*5, E*S): ``B1s[s] @ gate / D_temp`` stacked over s: routing logits per row.
        combine_weight (S*S*5, 2E): per token, the combine logits ``sum_s h5 @ B1s[s] @ gate @ P / C_temp``
            (P sums each expert's slot columns), each expert column twice (template group, search group).
        expert_weight (E, S*S*5, dim): slot inputs (in the 5-value space) -> expert output after both
            low-rank stages and the second projection, biases folded into the constant-1 rows.
        group_mask (num_tokens, 2E): 0 for the token's own group's columns, -inf for the other group's.
        row_mask (2, G, 1): 0 on a group window's own rows, -inf on the other group's (see forward).
    """

    def __init__(self, moe: HMoE, num_template: int, num_tokens: int) -> None:
        nn.Module.__init__(self)
        self.num_experts, self.slots = moe.num_experts, moe.slots
        self.eps = moe.norm.eps
        dtype = moe.gate_thi.dtype
        experts, slots = moe.num_experts, moe.slots
        self.norm = moe.norm  # kept: the half policy and the LayerNorm statistics stay as they were
        with torch.no_grad():
            weights = _collapse_hmoe(moe)
        for name, value in weights.items():
            self.register_buffer(name, value.to(dtype).contiguous())
        mask = group_mask(num_template, num_tokens, experts).to(moe.gate_thi.device, dtype)
        self.register_buffer("group_mask", mask)
        rows = row_mask(num_template, num_tokens, slots).to(moe.gate_thi.device, dtype)
        self.register_buffer("row_mask", rows)
        self._mask_shape = (num_template, num_tokens)

    def forward(self, x: torch.Tensor, num_template: int) -> torch.Tensor:
        """x: (2B, N, dim) stacked streams, the first ``num_template`` tokens of each the template.

        Returns ``x`` plus the HMoE update, as `Block._fuse` does with the reference `HMoE`.
        """
        two_batch, num_tokens, dim = x.shape
        batch = two_batch // 2
        experts, slots = self.num_experts, self.slots
        row = self.dispatch_weight.shape[0]  # S*5 values per (token, slot) row
        y = F.layer_norm(x, (dim,), self.norm.weight, self.norm.bias, self.eps)
        per_token = F.linear(y, self.project_weight, self.project_bias)  # (2B, N, S*row)
        # Rows (token, stream, slot) per batch item: the template group (template tokens of both
        # streams) is the first run of rows, the search group the rest. Both groups are read as two
        # equally long, overlapping windows of these rows, group 0 from the first row, group 1 ending
        # at the last, so one softmax and one product serve both; rows of the other group inside a
        # window get -inf logits (row_mask), hence exactly zero dispatch weight.
        rows = per_token.view(2, batch, num_tokens, slots * row).permute(1, 2, 0, 3).reshape(batch, -1, row)
        group_rows, second_start = self._windows(num_template, num_tokens)
        if batch == 1:
            grouped = rows.as_strided((2, group_rows, row), (second_start * row, row, 1))
        else:
            grouped = torch.stack([rows[:, :group_rows], rows[:, second_start:]], dim=1).flatten(0, 1)
        row_mask = self._row_mask(num_template, num_tokens, x)  # (2, G, 1)
        if batch > 1:
            row_mask = row_mask.repeat(batch, 1, 1)
        logits = torch.baddbmm(row_mask, grouped, self.dispatch_weight.expand(2 * batch, -1, -1))
        dispatch = torch.softmax(logits, dim=1)  # over each group's own rows
        slot_inputs = torch.bmm(dispatch.transpose(1, 2), grouped)  # (B*2 as b, g; E*S, row)
        # -> per expert: (E, B*2, S*row) against (E, S*row, dim)
        stacked = slot_inputs.view(2 * batch, experts, slots * row).transpose(0, 1)
        expert_out = torch.bmm(stacked, self.expert_weight)  # (E, 2B, dim), column b*2 + g
        # -> (B, 2E, dim) with row e*2 + g, the combine columns' order
        expert_out = expert_out.view(experts, batch, 2, dim).transpose(0, 1).reshape(batch, 2 * experts, dim)
        mask = self.group_mask
        if (num_template, num_tokens) != self._mask_shape:
            mask = group_mask(num_template, num_tokens, experts).to(x.device, x.dtype)
        combine_weight = self.combine_weight.expand(two_batch, -1, -1)
        combine = torch.softmax(torch.baddbmm(mask, per_token, combine_weight), dim=-1)  # (2B, N, 2E)
        per_stream = expert_out.unsqueeze(0).expand(2, batch, 2 * experts, dim).reshape(two_batch, 2 * experts, dim)
        return torch.baddbmm(x, combine, per_stream)

    def _windows(self, num_template: int, num_tokens: int) -> tuple[int, int]:
        """(rows per group window G, first row of the search group's window)."""
        template_rows, total_rows = 2 * self.slots * num_template, 2 * self.slots * num_tokens
        group_rows = max(template_rows, total_rows - template_rows)
        return group_rows, total_rows - group_rows

    def _row_mask(self, num_template: int, num_tokens: int, x: torch.Tensor) -> torch.Tensor:
        if (num_template, num_tokens) == self._mask_shape:
            return self.row_mask
        return row_mask(num_template, num_tokens, self.slots).to(x.device, x.dtype)


def row_mask(num_template: int, num_tokens: int, slots: int) -> torch.Tensor:
    """(2, G, 1) float64: 0 on each group window's own rows, -inf on the other group's (see forward)."""
    template_rows, total_rows = 2 * slots * num_template, 2 * slots * num_tokens
    search_rows = total_rows - template_rows
    group_rows = max(template_rows, search_rows)
    index = torch.arange(group_rows)
    mask = torch.zeros(2, group_rows, 1, dtype=torch.float64)
    mask[0, index >= template_rows] = float("-inf")  # window 0 starts at the first template row
    mask[1, index < group_rows - search_rows] = float("-inf")  # window 1 ends at the last search row
    return mask


def group_mask(num_template: int, num_tokens: int, experts: int) -> torch.Tensor:
    """(num_tokens, 2E) float64: 0 where column e*2 + g belongs to the token's group g, else -inf."""
    token_group = (torch.arange(num_tokens) >= num_template).long()  # 0 template, 1 search
    column_group = torch.arange(2 * experts) % 2
    mask = torch.zeros(num_tokens, 2 * experts, dtype=torch.float64)
    mask[token_group[:, None] != column_group[None, :]] = float("-inf")
    return mask


def _collapse_hmoe(moe: HMoE) -> dict[str, torch.Tensor]:
    """The input-independent matrices of `CollapsedHMoE`, in float64."""
    f64 = torch.float64
    experts, slots = moe.num_experts, moe.slots
    device = moe.gate_thi.device
    a1, bias_a1 = moe.linear1.lora_a.to(f64), moe.linear1.bias_a.to(f64)  # (dim, r), (r,)
    b1, bias_b1 = moe.linear1.lora_b.to(f64), moe.linear1.bias_b.to(f64)  # (r, dim), (dim,)
    dim, rank = a1.shape
    width = dim // slots
    aug = rank + 1  # h5 = [h4, 1]
    row = slots * aug
    # B1s[s]: (aug, width), the slot-s half of the first projection's second factor, bias appended.
    b1s = [torch.cat([b1[:, s * width : (s + 1) * width], bias_b1[None, s * width : (s + 1) * width]]) for s in range(slots)]

    project_weight = torch.zeros(slots, slots, aug, dim, dtype=f64, device=device)
    project_bias = torch.zeros(slots, slots, aug, dtype=f64, device=device)
    for s in range(slots):
        project_weight[s, s, :rank] = a1.T
        project_bias[s, s, :rank] = bias_a1
        project_bias[s, s, rank] = 1.0

    gate = moe.gate_thi.to(f64)  # (width, E*S), column j belongs to expert j // S
    d_temp, c_temp = moe.D_temp.to(f64).reshape(()), moe.C_temp.to(f64).reshape(())
    dispatch_weight = torch.cat([b1s[s] @ gate for s in range(slots)]) / d_temp  # (row, E*S)

    columns = torch.arange(experts * slots, device=device)
    expert_sum = (columns[:, None] // slots == torch.arange(experts, device=device)[None, :]).to(f64)
    combine = torch.zeros(slots, slots, aug, experts, dtype=f64, device=device)
    for s in range(slots):
        combine[s, s] = b1s[s] @ gate @ expert_sum / c_temp
    combine_weight = combine.reshape(slots * row, experts).repeat_interleave(2, dim=1)  # column e*2 + g

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
        "project_weight": project_weight.reshape(slots * row, dim),
        "project_bias": project_bias.reshape(slots * row),
        "dispatch_weight": dispatch_weight,
        "combine_weight": combine_weight,
        "expert_weight": expert_weight.reshape(experts, slots * row, dim),
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


class CollapsedBlock(nn.Module):
    """`Block` with fused attention, precomputed guidance and `CollapsedHMoE` fusion (same parameters)."""

    def __init__(self, block: Block, num_template: int, num_tokens: int) -> None:
        super().__init__()
        self.fusion = block.fusion
        self.norm1, self.attn, self.norm2, self.mlp = block.norm1, block.attn, block.norm2, block.mlp
        if self.fusion:
            self.register_buffer("guidance", guidance_coefficients(block))
            self.attn_moe = CollapsedHMoE(block.attn_moe, num_template, num_tokens)
            self.ffn_moe = CollapsedHMoE(block.ffn_moe, num_template, num_tokens)
        self.attention_impl = "fused"  # set_attention_impl visits every block; this one has one impl

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        attn = self.attn
        q, k, v = attn.split_heads(self.norm1(x))  # (2B, H, N, d) each
        if not self.fusion:
            return attn.merge_heads(F.scaled_dot_product_attention(q, k, v))
        two_batch, heads, tokens, head_dim = q.shape
        batch = two_batch // 2
        # Guided attention as plain attention over head dim 2d (see guided_attention_fused):
        # q_guided[i] = [c[i,0] q_rgb, c[i,1] q_aux], k_guided[i] = [k_rgb, k_aux] for both streams i.
        by_stream = (1, 2, 3, 0, 4)  # (2, B, H, N, d) -> (B, H, N, 2, d): stream j next to head_dim
        q_src = q.reshape(2, batch, heads, tokens, head_dim).permute(*by_stream)
        q_guided = (self.guidance.to(q.dtype) * q_src.unsqueeze(0)).reshape(two_batch, heads, tokens, 2 * head_dim)
        k_src = k.reshape(2, batch, heads, tokens, head_dim).permute(*by_stream)
        k_guided = k_src.unsqueeze(0).expand(2, -1, -1, -1, -1, -1).reshape(two_batch, heads, tokens, 2 * head_dim)
        out = F.scaled_dot_product_attention(q_guided, k_guided, v, scale=attn.scale)
        return attn.merge_heads(out)

    def forward(self, x: torch.Tensor, num_template: int) -> torch.Tensor:
        x = x + self._attention(x)
        if self.fusion:
            x = self.attn_moe(x, num_template)
        x = x + self.mlp(self.norm2(x))
        if self.fusion:
            x = self.ffn_moe(x, num_template)
        return x


class CollapsedViT(nn.Module):
    """`TwoStreamViT` on the engine path: same interface (`embed_template`, `embed_search`, forward).

    ``patch_weight`` (dim, 3*p*p) is the patch embedding's convolution as a matrix over (channel, row,
    column) patch values; ``pos_embed_z`` / ``pos_embed_x`` here include that convolution's bias.
    """

    def __init__(self, vit: TwoStreamViT) -> None:
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
        num_template, num_tokens = config.template_tokens, config.template_tokens + config.search_tokens
        self.blocks = nn.ModuleList(CollapsedBlock(block, num_template, num_tokens) for block in vit.blocks)
        self.norm = vit.norm

    def _embed(self, image: torch.Tensor, pos_embed: torch.Tensor) -> torch.Tensor:
        """(B, 6, H, W) -> stacked stream tokens (2B, H*W/p^2, dim), RGB rows first."""
        batch, channels, height, width = image.shape
        p = self.patch_size
        rows, cols = height // p, width // p
        # (B, stream, c, row, py, col, px) -> (stream, B, row, col, c, py, px): one copy splits the
        # streams and lays every patch out as the convolution weight's (c, py, px) order.
        patches = (
            image.reshape(batch, 2, channels // 2, rows, p, cols, p)
            .permute(1, 0, 3, 5, 2, 4, 6)
            .reshape(2 * batch, rows * cols, -1)
        )
        weight = self.patch_weight.t()
        if pos_embed.dtype == patches.dtype:
            return torch.baddbmm(pos_embed, patches, weight.expand(2 * batch, -1, -1))
        return torch.matmul(patches, weight) + pos_embed  # residual_float32: float32 positions promote

    def embed_template(self, template: torch.Tensor) -> torch.Tensor:
        return self._embed(template, self.pos_embed_z)

    def embed_search(self, search: torch.Tensor) -> torch.Tensor:
        return self._embed(search, self.pos_embed_x)

    forward = TwoStreamViT.forward  # the same token assembly, blocks, final norm and stream sum


def collapse_for_inference(model: nn.Module) -> nn.Module:
    """Swap the exact rewrites into a loaded SEATrack in place (backbone and head); returns it.

    Call it on the float32 (or float64) weights with LoRA merged, before any half-precision cast: the
    folds are computed in float64 and rounded once. Already collapsed parts are left as they are.
    """
    if not isinstance(model.backbone, CollapsedViT):
        for block in model.backbone.blocks:
            if block.fusion and not all(layer.merged for layer in block.modules() if hasattr(layer, "merged")):
                raise ValueError("collapse_for_inference needs LoRA merged into qkv first (merge_lora)")
        model.backbone = CollapsedViT(model.backbone)
    if not isinstance(model.box_head, FoldedCenterHead):
        model.box_head = FoldedCenterHead(model.box_head)
    return model


class EngineNetwork(nn.Module):
    """Backbone + head returning only the three maps: the engine decodes its own (windowed) box.

    Same call as `SEATrack.forward` (template, search, template_tokens); skips the unwindowed
    ``pred_boxes`` decode and hands the head the fused tokens as a channels-last view (no copy).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, template, search, template_tokens=None) -> dict[str, torch.Tensor]:
        model = self.model
        fused = model.backbone(template, search, template_tokens=template_tokens)
        batch, tokens, dim = fused.shape
        side = model.box_head.feat_size
        features = fused.view(batch, side, side, dim).permute(0, 3, 1, 2)  # channels-last (B, dim, F, F)
        score_map, size_map, offset_map = model.box_head(features)
        return {"score_map": score_map, "size_map": size_map, "offset_map": offset_map}
