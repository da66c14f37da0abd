"""One fine-tuning step against the authors' training step (shared golden ``train_step.npz``).

Everything is compared at the tolerances the golden README (section 7) gives, and each comparison has
a negative control: a plausible mistake that the same tolerance must catch.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from seatrack_ros.model import build_seatrack, load_checkpoint, make_test_state_dict
from seatrack_ros.training import LossWeights, centre_heatmap, tracking_loss
from seatrack_ros.training.trainer import (
    TRAINABLE_KEYWORDS,
    forward_network,
    freeze_for_peft,
    make_optimizer,
    set_train_mode,
    train_step,
    trainable_parameter_names,
)

OUTPUT_TOL = {"score_map": 1e-5, "size_map": 1e-5, "pred_boxes": 1e-5, "offset_map": 1e-4}
LOSS_TOL = {"total": 2e-5, "location": 2e-5, "giou": 2e-6, "l1": 2e-6}
PARAM_AFTER_STEP_TOL = 1e-6


@pytest.fixture(scope="module")
def step_golden(golden):
    return dict(np.load(golden / "train_step.npz", allow_pickle=False))


@pytest.fixture(scope="module")
def schema(golden):
    return json.loads((golden / "state_dict_schema.json").read_text())


def _training_model():
    torch.set_num_threads(2)
    model = build_seatrack()
    load_checkpoint(model, make_test_state_dict(model), lora_merged=False, merge=False)
    params = freeze_for_peft(model)
    set_train_mode(model)
    return model, params


@pytest.fixture(scope="module")
def one_step(step_golden):
    """Our `train_step` on the golden batch, float32, with the raw gradients recorded by hooks."""
    model, params = _training_model()
    names = {id(p): n for n, p in model.named_parameters()}
    before = {names[id(p)]: p.detach().clone() for p in params}
    raw_grads = {}
    hooks = [p.register_post_accumulate_grad_hook(
        lambda p: raw_grads.__setitem__(names[id(p)], p.grad.detach().clone())) for p in params]
    optimizer = make_optimizer(params, lr=float(step_golden["optimizer_lr"]),
                               weight_decay=float(step_golden["optimizer_weight_decay"]))
    result = train_step(model, optimizer, params, torch.from_numpy(step_golden["template"]),
                        torch.from_numpy(step_golden["search"]), torch.from_numpy(step_golden["search_anno"]),
                        LossWeights(), grad_clip=float(step_golden["grad_clip_max_norm"]))
    for h in hooks:
        h.remove()
    after = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return {"model": model, "result": result, "before": before, "raw_grads": raw_grads, "after": after}


def _max_abs(a, b) -> float:
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    return float(np.max(np.abs(a.astype(np.float64) - np.asarray(b, dtype=np.float64))))


def gradient_mismatches(grads: dict, step_golden: dict) -> list[str]:
    """Violations of the README's gradient tolerances (empty when all hold)."""
    problems, err2, ref2 = [], 0.0, 0.0
    for name in step_golden["trainable_names"]:
        ref = step_golden[f"grad/{name}"].astype(np.float64)
        ours = grads[str(name)].numpy().astype(np.float64)
        diff = np.abs(ours - ref)
        if diff.max() > 2e-3 * np.abs(ref).max():
            problems.append(f"{name}: max diff {diff.max():.3g} > 2e-3 x max|g| {np.abs(ref).max():.3g}")
        bad = int(np.sum(diff > 1e-5 + 1e-3 * np.abs(ref)))
        if bad:
            problems.append(f"{name}: {bad} elements outside 1e-5 + 1e-3 |g|")
        err2 += float(np.sum(diff**2))
        ref2 += float(np.sum(ref**2))
    if (err2 / ref2) ** 0.5 > 1e-4:
        problems.append(f"relative L2 error {(err2 / ref2) ** 0.5:.3g} > 1e-4")
    return problems


# -- what trains ---------------------------------------------------------------------------------------


def test_trainable_set_is_exactly_the_schemas(schema, step_golden):
    model, params = _training_model()
    by_design = {k["key"] for k in schema["keys"] if k["trainable_by_design"]}
    ours = trainable_parameter_names(model)
    assert set(ours) == by_design == set(str(n) for n in step_golden["trainable_names"])
    assert len(ours) == 228
    assert sum(p.numel() for p in params) == schema["num_trainable_by_design"] == 636_324
    frozen = [n for n, p in model.named_parameters() if n not in by_design]
    assert frozen and all(not dict(model.named_parameters())[n].requires_grad for n in frozen)
    assert all(p.requires_grad for p in params)
    bn = [m for m in model.box_head.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bn) == 12 and not any(m.training for m in bn) and model.backbone.training


@pytest.mark.parametrize("keywords", [("moe", "lora"), ("moe", "scaling", "lora", "norm"), ("moe", "scaling", "lora", "bias")])
def test_negative_control_wrong_trainable_rule(schema, keywords):
    model = build_seatrack()
    by_design = {k["key"] for k in schema["keys"] if k["trainable_by_design"]}
    assert keywords != TRAINABLE_KEYWORDS
    assert set(trainable_parameter_names(model, keywords)) != by_design


# -- the target ------------------------------------------------------------------------------------------


def test_gaussian_target_is_bitwise_equal(step_golden):
    ours = centre_heatmap(torch.from_numpy(step_golden["search_anno"]))
    assert ours.dtype == torch.float32 and ours.shape == (2, 1, 16, 16)
    assert _max_abs(ours, step_golden["gt_gaussian_map"]) == 0.0


@pytest.mark.parametrize("sigma_divisor", [4.0, 8.0])
def test_negative_control_wrong_gaussian_sigma(step_golden, sigma_divisor):
    wrong = centre_heatmap(torch.from_numpy(step_golden["search_anno"]), sigma_divisor=sigma_divisor)
    assert _max_abs(wrong, step_golden["gt_gaussian_map"]) > 1e-7


# -- outputs and losses ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OUTPUT_TOL))
def test_train_mode_outputs_match(one_step, step_golden, name):
    assert _max_abs(one_step["result"].outputs[name], step_golden[name]) <= OUTPUT_TOL[name]


def test_negative_control_head_batchnorm_in_train_mode(one_step, step_golden):
    """Without FIX_BN the head normalises with batch statistics: the outputs leave the tolerance."""
    model = one_step["model"]
    model.train()  # BatchNorms too
    try:
        with torch.no_grad():
            out = model(torch.from_numpy(step_golden["template"]), torch.from_numpy(step_golden["search"]))
    finally:
        set_train_mode(model)
    assert _max_abs(out["score_map"], step_golden["score_map"]) > OUTPUT_TOL["score_map"]


@pytest.mark.parametrize("name", sorted(LOSS_TOL))
def test_loss_components_match(one_step, step_golden, name):
    terms = one_step["result"].terms
    ours = {"total": terms.total, "location": terms.focal, "giou": terms.giou, "l1": terms.l1}[name]
    assert abs(float(ours.detach()) - float(step_golden[f"loss_{name}"])) <= LOSS_TOL[name]


def test_iou_and_boxes_match(one_step, step_golden):
    terms = one_step["result"].terms
    assert _max_abs(terms.iou, step_golden["iou"]) <= 2e-6
    assert _max_abs(terms.pred_xyxy, step_golden["pred_boxes_xyxy"]) <= 1e-5
    assert _max_abs(terms.gt_xyxy, step_golden["gt_boxes_xyxy"]) == 0.0
    assert _max_abs(terms.target_map, step_golden["gt_gaussian_map"]) == 0.0


def _golden_outputs(step_golden):
    return {k: torch.from_numpy(step_golden[k]) for k in ("score_map", "size_map", "offset_map", "pred_boxes")}


@pytest.mark.parametrize("weights", [LossWeights(giou=1.0), LossWeights(l1=1.0), LossWeights(focal=2.0)])
def test_negative_control_wrong_loss_weight(step_golden, weights):
    """The golden outputs through our loss give the golden total only with weights 2 / 5 / 1."""
    boxes = torch.from_numpy(step_golden["search_anno"])
    right = tracking_loss(_golden_outputs(step_golden), boxes)
    wrong = tracking_loss(_golden_outputs(step_golden), boxes, weights)
    assert abs(float(right.total) - float(step_golden["loss_total"])) <= LOSS_TOL["total"]
    assert abs(float(wrong.total) - float(step_golden["loss_total"])) > LOSS_TOL["total"]


def test_negative_control_wrong_sigma_moves_focal_loss(step_golden):
    boxes = torch.from_numpy(step_golden["search_anno"])
    wrong_map = centre_heatmap(boxes, sigma_divisor=4.0)
    wrong = tracking_loss(_golden_outputs(step_golden), boxes, target_map=wrong_map)
    assert abs(float(wrong.focal) - float(step_golden["loss_location"])) > LOSS_TOL["location"]


def test_negative_control_unclamped_gt_box(step_golden):
    """Sample 1's box ends below the crop; the reference clamps it to 1 for GIoU / L1."""
    outputs = _golden_outputs(step_golden)
    pred = outputs["pred_boxes"].reshape(-1, 4)
    from seatrack_ros.training.losses import cxcywh_to_xyxy, giou_loss, xywh_to_xyxy

    gt = xywh_to_xyxy(torch.from_numpy(step_golden["search_anno"]))  # not clamped
    loss, _ = giou_loss(cxcywh_to_xyxy(pred), gt)
    assert abs(float(loss) - float(step_golden["loss_giou"])) > LOSS_TOL["giou"]


# -- gradients and the optimizer step -----------------------------------------------------------------


def test_every_trainable_gradient_matches(one_step, step_golden):
    assert set(one_step["raw_grads"]) == {str(n) for n in step_golden["trainable_names"]}
    assert gradient_mismatches(one_step["raw_grads"], step_golden) == []


def test_gradient_norm_and_clip_match(one_step, step_golden):
    norm = one_step["result"].grad_norm
    ref = float(step_golden["grad_total_norm"])
    assert abs(norm - ref) <= 1e-5 * ref
    coef = min(1.0, float(step_golden["grad_clip_max_norm"]) / (norm + 1e-6))
    assert abs(coef - float(step_golden["clip_coef"])) <= 1e-5 * float(step_golden["clip_coef"])


def test_negative_control_wrong_weight_fails_the_gradient_check(step_golden):
    """The same tolerances reject the gradients of a loss with the GIoU weight 1 instead of 2."""
    model, params = _training_model()
    names = {id(p): n for n, p in model.named_parameters()}
    out = forward_network(model, torch.from_numpy(step_golden["template"]), torch.from_numpy(step_golden["search"]))
    terms = tracking_loss(out, torch.from_numpy(step_golden["search_anno"]), LossWeights(giou=1.0))
    grads = torch.autograd.grad(terms.total, params)
    mismatches = gradient_mismatches({names[id(p)]: g for p, g in zip(params, grads)}, step_golden)
    assert any("relative L2" in m for m in mismatches) and len(mismatches) > 100


def test_parameters_after_one_adamw_step_match(one_step, step_golden):
    for name in step_golden["step_param_names"]:
        assert _max_abs(one_step["after"][str(name)], step_golden[f"param_after_step/{name}"]) <= PARAM_AFTER_STEP_TOL, name
    # The step moved every stored tensor (by about lr per element), so the check is not vacuous.
    for name in step_golden["step_param_names"]:
        assert _max_abs(one_step["before"][str(name)], step_golden[f"param_after_step/{name}"]) > 1e-4


@pytest.mark.parametrize("mistake", ["adam_l2_decay", "no_clipping_sgd"])
def test_negative_control_wrong_optimizer(one_step, step_golden, mistake):
    """Plausible optimizer mistakes applied to the same raw gradients leave the 1e-6 tolerance."""
    names = [str(n) for n in step_golden["step_param_names"]]
    all_names = [str(n) for n in step_golden["trainable_names"]]
    leaves = {n: one_step["before"][n].clone().requires_grad_(True) for n in all_names}
    coef = float(step_golden["clip_coef"])
    for n, leaf in leaves.items():
        leaf.grad = one_step["raw_grads"][n].clone() * (coef if mistake == "adam_l2_decay" else 1.0)
    lr, wd = float(step_golden["optimizer_lr"]), float(step_golden["optimizer_weight_decay"])
    if mistake == "adam_l2_decay":
        optimizer = torch.optim.Adam(list(leaves.values()), lr=lr, weight_decay=wd)
    else:
        optimizer = torch.optim.SGD(list(leaves.values()), lr=lr, weight_decay=wd)
    optimizer.step()
    worst = max(_max_abs(leaves[n], step_golden[f"param_after_step/{n}"]) for n in names)
    assert worst > PARAM_AFTER_STEP_TOL
