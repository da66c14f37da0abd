"""The engine's exact rewrites (engine/collapsed.py, engine/fold.py) against the model's arithmetic.

Each rewrite is compared with the reference module in float64 on random weights and inputs, to
<= 1e-12, with a negative control beside it: the same comparison against a reference whose weight was
perturbed by 1e-6 (relative to weights of order 0.3) must exceed that tolerance a hundredfold.
"""

from __future__ import annotations

import copy
import re

import pytest
import torch

from seatrack_ros.bench import build_tiny_model
from seatrack_ros.engine import float32_island_modules, prepare_model
from seatrack_ros.engine.collapsed import CollapsedBlock, CollapsedHMoE, CollapsedViT, EngineNetwork, collapse_for_inference
from seatrack_ros.engine.fold import FoldedCenterHead
from seatrack_ros.engine.opcount import count_engine_frame
from seatrack_ros.model import BackboneConfig, SEATrack
from seatrack_ros.model.backbone import Block, TwoStreamViT
from seatrack_ros.model.head import CenterHead
from seatrack_ros.model.hmoe import HMoE

TOL = 1e-12
PERTURBATION = 1e-6
F64 = torch.float64


def randomize_(module: torch.nn.Module, seed: int, scale: float = 0.3) -> torch.nn.Module:
    """Random float64 weights of order ``scale`` (norm gains near 1, BatchNorm variances in [0.5, 1.5])."""
    gen = torch.Generator().manual_seed(seed)
    module.to(F64).eval()
    with torch.no_grad():
        for name, param in module.named_parameters():
            values = torch.randn(param.shape, generator=gen, dtype=F64) * scale
            if name.endswith("temp"):
                values = 0.5 + torch.rand(param.shape, generator=gen, dtype=F64)  # temperatures > 0
            elif param.dim() == 1 and name.endswith("weight"):
                values = values + 1.0  # LayerNorm / BatchNorm gains
            param.copy_(values)
        for name, buffer in module.named_buffers():
            if name.endswith("running_var"):
                buffer.copy_(0.5 + torch.rand(buffer.shape, generator=gen, dtype=F64))
            elif name.endswith("running_mean"):
                buffer.copy_(torch.randn(buffer.shape, generator=gen, dtype=F64) * 0.3)
    return module


def perturbed(module: torch.nn.Module, name: str) -> torch.nn.Module:
    """A copy of ``module`` with parameter or buffer ``name`` changed by PERTURBATION (all entries)."""
    changed = copy.deepcopy(module)
    tensors = dict(changed.named_parameters()) | dict(changed.named_buffers())
    with torch.no_grad():
        tensors[name].add_(PERTURBATION)
    return changed


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def tiny_config(**overrides) -> BackboneConfig:
    fields = dict(embed_dim=64, depth=4, num_heads=2, fusion_blocks=(1, 3), lora_rank=4, template_size=64, search_size=96)
    fields.update(overrides)
    return BackboneConfig(**fields)


def random_model(seed: int = 0, scale: float = 0.3) -> SEATrack:
    # the whole network at 0.3 grows its activations to O(100); 0.1 keeps the maps O(1)
    model = randomize_(SEATrack(tiny_config(), head_channels=32), seed, scale)
    model.merge_lora()
    return model


# ------------------------------------------------------------------------------------------- HMoE
@pytest.mark.parametrize("experts", [4, 8])
@pytest.mark.parametrize("batch, num_tokens, num_template", [(1, 20, 6), (2, 20, 14), (1, 40, 20)])
def test_collapsed_hmoe_equals_reference_fusion_in_float64(experts, batch, num_tokens, num_template):
    moe = randomize_(HMoE(dim=48, num_experts=experts, slots=2, hidden=4), seed=experts)
    collapsed = CollapsedHMoE(moe, num_template, num_tokens)
    x = torch.randn(2 * batch, num_tokens, 48, generator=torch.Generator().manual_seed(1), dtype=F64)
    with torch.no_grad():
        expected = Block._fuse(moe, x, num_template)
        got = collapsed(x, num_template)
        control = Block._fuse(perturbed(moe, "gate_thi"), x, num_template)
    assert got.dtype == F64 and got.shape == expected.shape
    assert max_diff(got, expected) <= TOL
    assert max_diff(expected - x, torch.zeros_like(x)) > 1e-2  # the update is not negligible
    assert max_diff(got, control) > 1e2 * TOL


def test_collapsed_hmoe_handles_a_token_split_other_than_its_mask():
    moe = randomize_(HMoE(dim=48, num_experts=4), seed=3)
    collapsed = CollapsedHMoE(moe, num_template=6, num_tokens=20)
    x = torch.randn(2, 30, 48, generator=torch.Generator().manual_seed(2), dtype=F64)
    with torch.no_grad():
        assert max_diff(collapsed(x, 10), Block._fuse(moe, x, 10)) <= TOL


@pytest.mark.parametrize("name", ["linear1.lora_a", "experts.bias_a", "linear2.bias_b", "C_temp", "norm.weight"])
def test_collapsed_hmoe_sees_every_weight(name):
    """Negative controls for the folded pieces: a change anywhere in the HMoE changes the result."""
    moe = randomize_(HMoE(dim=48, num_experts=4), seed=5)
    x = torch.randn(2, 20, 48, generator=torch.Generator().manual_seed(4), dtype=F64)
    with torch.no_grad():
        got = CollapsedHMoE(moe, 6, 20)(x, 6)
        control = Block._fuse(perturbed(moe, name), x, 6)
    assert max_diff(got, control) > 1e2 * TOL


# ------------------------------------------------------------------------------------ ViT blocks
@pytest.mark.parametrize("index", [0, 1])  # plain block, fusion block (guided attention, HMoE)
@pytest.mark.parametrize("impl", ["math", "fused"])
def test_collapsed_block_equals_reference_block_in_float64(index, impl):
    model = random_model(seed=index)
    block = model.backbone.blocks[index]
    block.attention_impl = impl
    config = model.config
    num_template = config.template_tokens
    num_tokens = num_template + config.search_tokens
    x = torch.randn(2, num_tokens, config.embed_dim, generator=torch.Generator().manual_seed(7), dtype=F64)
    collapsed = CollapsedBlock(block, num_template, num_tokens)
    with torch.no_grad():
        expected = block(x, num_template)
        got = collapsed(x, num_template)
        name = "dte2r_scaling" if block.fusion else "attn.qkv.weight"
        control = perturbed(block, name)(x, num_template)
    assert max_diff(got, expected) <= TOL
    assert max_diff(got, control) > 1e2 * TOL


def test_guidance_coefficients_follow_both_scalars():
    model = random_model(seed=2)
    block = model.backbone.blocks[1]
    config = model.config
    num_tokens = config.template_tokens + config.search_tokens
    x = torch.randn(2, num_tokens, config.embed_dim, generator=torch.Generator().manual_seed(8), dtype=F64)
    with torch.no_grad():
        got = CollapsedBlock(block, config.template_tokens, num_tokens)(x, config.template_tokens)
        control = perturbed(block, "r2dte_scaling")(x, config.template_tokens)
    assert max_diff(got, control) > 1e2 * TOL


# --------------------------------------------------------------------------------- patch embedding
def test_patch_embedding_as_one_matrix_product_equals_the_convolution():
    model = random_model(seed=3)
    vit = model.backbone
    collapsed = CollapsedViT(copy.deepcopy(vit))
    config = model.config
    gen = torch.Generator().manual_seed(9)
    template = torch.randn(2, 6, config.template_size, config.template_size, generator=gen, dtype=F64)
    search = torch.randn(2, 6, config.search_size, config.search_size, generator=gen, dtype=F64)
    with torch.no_grad():
        assert max_diff(collapsed.embed_template(template), vit.embed_template(template)) <= TOL
        assert max_diff(collapsed.embed_search(search), vit.embed_search(search)) <= TOL
        control = perturbed(vit, "patch_embed.proj.bias").embed_search(search)
    assert max_diff(collapsed.embed_search(search), control) > 1e2 * TOL


def _raw_and_normalised(model, batch: int, size: int, seed: int):
    """(raw (B, 6, S, S) 0..255, the same normalised) in float64 (the model's own normalisation
    computes in float32)."""
    raw = torch.randint(0, 256, (batch, 6, size, size), generator=torch.Generator().manual_seed(seed)).to(F64)
    mean = torch.tensor(model.pixel_mean, dtype=F64).view(1, 6, 1, 1)
    std = torch.tensor(model.pixel_std, dtype=F64).view(1, 6, 1, 1)
    return raw, (raw / 255.0 - mean) / std


@pytest.mark.parametrize("batch", [1, 2])
def test_pixel_embedding_folds_the_normalisation_in_float64(batch):
    """Raw 0..255 crops through the folded weights = the normalised crops through the convolution."""
    model = random_model(seed=6)
    vit = model.backbone
    collapsed = CollapsedViT(copy.deepcopy(vit), model.pixel_mean, model.pixel_std)
    config = model.config
    raw_z, norm_z = _raw_and_normalised(model, batch, config.template_size, 1)
    raw_x, norm_x = _raw_and_normalised(model, batch, config.search_size, 2)
    aux_std = tuple(model.pixel_std[:3]) + tuple(v * 1.01 for v in model.pixel_std[3:])
    other_std = CollapsedViT(copy.deepcopy(vit), model.pixel_mean, aux_std)
    with torch.no_grad():
        assert max_diff(collapsed.embed_template(raw_z, pixels=True), vit.embed_template(norm_z)) <= TOL
        assert max_diff(collapsed.embed_search(raw_x, pixels=True), vit.embed_search(norm_x)) <= TOL
        # negative controls: the auxiliary stream's std 1 % off; normalised input taken as raw
        assert max_diff(other_std.embed_search(raw_x, pixels=True), vit.embed_search(norm_x)) > 1e2 * TOL
        assert max_diff(collapsed.embed_search(norm_x, pixels=True), vit.embed_search(norm_x)) > 1e2 * TOL
    with pytest.raises(RuntimeError, match="pixel statistics"):
        CollapsedViT(copy.deepcopy(vit)).embed_search(raw_x, pixels=True)


# -------------------------------------------------------------------------------------------- head
def test_folded_head_equals_reference_head_in_float64():
    head = randomize_(CenterHead(in_channels=48, channel=32, feat_size=6), seed=11)
    folded = FoldedCenterHead(head)
    features = torch.randn(2, 48, 6, 6, generator=torch.Generator().manual_seed(12), dtype=F64)
    channels_last = features.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = head(features)
        got = folded(features)
        got_channels_last = folded(channels_last)
        control = perturbed(head, "conv2_size.1.running_var")(features)
    for want, have, have_cl in zip(expected, got, got_channels_last):
        assert have.shape == want.shape
        assert max_diff(have, want) <= TOL and max_diff(have_cl, want) <= TOL
    assert max(max_diff(a, b) for a, b in zip(got, control)) > 1e2 * TOL
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert all(conv.weight.is_contiguous(memory_format=torch.channels_last) for conv in folded.convs)


@pytest.mark.parametrize("name", ["conv1_ctr.0.weight", "conv1_offset.1.bias", "conv4_ctr.1.running_mean", "conv5_offset.bias"])
def test_folded_head_sees_every_branch(name):
    head = randomize_(CenterHead(in_channels=48, channel=32, feat_size=6), seed=13)
    features = torch.randn(1, 48, 6, 6, generator=torch.Generator().manual_seed(14), dtype=F64)
    with torch.no_grad():
        got = FoldedCenterHead(head)(features)
        control = perturbed(head, name)(features)
    assert max(max_diff(a, b) for a, b in zip(got, control)) > 1e2 * TOL


# ------------------------------------------------------------------------------------ whole network
def test_collapsed_network_equals_reference_network_in_float64():
    reference = random_model(seed=4, scale=0.1)
    collapsed = collapse_for_inference(copy.deepcopy(reference))
    assert isinstance(collapsed.backbone, CollapsedViT) and isinstance(collapsed.box_head, FoldedCenterHead)
    config = reference.config
    gen = torch.Generator().manual_seed(15)
    template = torch.randn(1, 6, config.template_size, config.template_size, generator=gen, dtype=F64)
    search = torch.randn(1, 6, config.search_size, config.search_size, generator=gen, dtype=F64)
    with torch.no_grad():
        expected = reference(template, search)
        full = collapsed(template, search)
        tokens = collapsed.backbone.embed_template(template)
        maps = EngineNetwork(collapsed)(None, search, template_tokens=tokens)
        control = perturbed(reference, "backbone.blocks.3.ffn_moe.experts.lora_b")(template, search)
    assert set(maps) == {"score_map", "size_map", "offset_map", "maps"}  # no pred_boxes: the engine decodes
    # the three maps are views of the stacked one the decode gathers from: [score, -, size, offset]
    stacked = maps["maps"]
    assert stacked.shape[1] == 6 and all(maps[n].data_ptr() >= stacked.data_ptr() for n in ("score_map", "size_map", "offset_map"))
    assert torch.equal(stacked[:, 0:1], maps["score_map"]) and torch.equal(stacked[:, 2:4], maps["size_map"])
    assert torch.equal(stacked[:, 4:6], maps["offset_map"])
    for name in ("score_map", "size_map", "offset_map"):
        assert max_diff(full[name], expected[name]) <= TOL, name
        assert max_diff(maps[name], expected[name]) <= TOL, name
    assert max_diff(full["pred_boxes"], expected["pred_boxes"]) <= TOL
    assert max(max_diff(control[n], maps[n]) for n in ("score_map", "size_map", "offset_map")) > 1e2 * TOL
    # the engine's input: raw crops, the normalisation folded into the patch embedding
    raw_z, norm_z = _raw_and_normalised(reference, 1, config.template_size, 3)
    raw_x, norm_x = _raw_and_normalised(reference, 1, config.search_size, 4)
    with torch.no_grad():
        expected = reference(norm_z, norm_x)
        tokens = collapsed.backbone.embed_template(raw_z, pixels=True)
        maps = EngineNetwork(collapsed, pixels=True)(None, raw_x, template_tokens=tokens)
    for name in ("score_map", "size_map", "offset_map"):
        assert max_diff(maps[name], expected[name]) <= TOL, name


def test_collapse_refuses_unmerged_lora():
    model = randomize_(SEATrack(tiny_config(), head_channels=32), seed=5)
    with pytest.raises(ValueError, match="merge_lora"):
        collapse_for_inference(model)


# --------------------------------------------------------------------------------- prepare_model
def test_prepare_model_leaves_the_float32_cpu_path_alone():
    model = prepare_model(build_tiny_model(), "cpu")
    assert type(model.backbone) is TwoStreamViT and type(model.box_head) is CenterHead


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_prepare_model_collapses_the_half_path_and_keeps_its_float32_islands(dtype):
    model = prepare_model(build_tiny_model(), "cpu", dtype)
    assert isinstance(model.backbone, CollapsedViT) and isinstance(model.box_head, FoldedCenterHead)
    islands = float32_island_modules(model, dtype)
    collapsed_hmoe = [m for m in model.modules() if isinstance(m, CollapsedHMoE)]
    assert len(collapsed_hmoe) == 2 and len(float32_island_modules(model)["hmoe"]) == 2
    # float16 runs the collapsed HMoE in float16 (no island casts); bfloat16 keeps it a float32 island
    assert islands["hmoe"] == ([] if dtype == torch.float16 else collapsed_hmoe)
    for module in collapsed_hmoe:
        tensors = list(module.parameters()) + list(module.buffers())
        assert tensors and all(t.dtype == (dtype if dtype == torch.float16 else torch.float32) for t in tensors)
    for module in islands["head_output"]:
        tensors = list(module.parameters()) + list(module.buffers())
        assert tensors and all(t.dtype == torch.float32 for t in tensors)
    assert model.backbone.patch_weight.dtype == dtype and model.box_head.convs[0].weight.dtype == dtype
    assert model.backbone.blocks[1].attn.qkv.weight.dtype == dtype
    gen = torch.Generator().manual_seed(16)
    template, search = torch.randn(1, 6, 128, 128, generator=gen), torch.randn(1, 6, 256, 256, generator=gen)
    reference = build_tiny_model()
    reference.merge_lora()
    with torch.no_grad():
        expected = reference(template, search)
        got = model(template.to(dtype), search.to(dtype))
    for name in ("score_map", "size_map", "offset_map"):
        assert got[name].dtype == torch.float32 and torch.isfinite(got[name]).all()
    deviation = max_diff(got["score_map"], expected["score_map"])
    assert deviation <= (2e-3 if dtype == torch.float16 else 2e-2), deviation


# ------------------------------------------------------------------------------------- op count
def test_rewrites_cut_the_engine_frames_operator_count():
    before = count_engine_frame(build_tiny_model(), collapse=False, maps_only=False)
    after = count_engine_frame(build_tiny_model(), collapse=True, maps_only=True)
    kernels = {name: sum(c.kinds()["kernel"] for c in stages.values()) for name, stages in (("before", before), ("after", after))}
    assert kernels["after"] < kernels["before"]
    assert after["network"].kinds()["kernel"] < before["network"].kinds()["kernel"] / 2
    after_ops = after["network"].by_operator("kernel")
    assert "native_batch_norm" in before["network"].by_operator("kernel")
    assert "native_batch_norm" not in after_ops and after_ops.get("cat", 0) <= 1  # tokens: template + search
    assert after_ops["convolution"] == 5  # 3 x 5 convolutions became 1 + 3 grouped + 1 grouped
    # the normalisation folded into the patch embedding leaves the crop stage one copy after the crop
    # arithmetic; without the fold (float32 / uncollapsed) the normalisation kernels follow it
    assert after["crop_normalize"].kinds()["kernel"] == 15
    assert before["crop_normalize"].kinds()["kernel"] > 15
    # window, peak, one gather of the stacked maps, the index as float32, the packing (box on the host)
    assert after["decode"].kinds()["kernel"] == 5 < before["decode"].kinds()["kernel"]


def _kernels_of(counter, module_suffix: str) -> int:
    return sum(n for path, n in counter.by_module("kernel").items() if path.endswith(module_suffix))


def test_engine_network_kernels_per_part():
    """What each part of the engine network launches (tiny model: blocks 0 plain, 1 fusion).

    Fails when a rewrite loses its fold: e.g. HMoE back to per-group calls, the guided q/k through
    copies again, fc2's residual add back as its own kernel, or the heads' merge copying."""
    network = count_engine_frame(build_tiny_model(), collapse=True, maps_only=True, attention_as_one=True)["network"]
    fusion_hmoe = network.by_module("kernel")
    hmoe = [path for path in fusion_hmoe if path.endswith("attn_moe") or path.endswith("ffn_moe")]
    assert hmoe and all(fusion_hmoe[path] == 8 for path in hmoe)  # float16: no float32 island, no casts
    per_block = {}
    for _, kind, path in network.records:
        match = re.search(r"blocks\.(\d+)", path)
        if kind == "kernel" and match and not path.endswith("_moe"):
            per_block[int(match.group(1))] = per_block.get(int(match.group(1)), 0) + 1
    # LN, qkv, SDPA, proj, add, LN, fc1, GELU, fc2 with the residual; + guided q and k (1 multiply)
    assert per_block == {0: 9, 1: 10}
