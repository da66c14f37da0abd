"""Unit tests of the training package: targets, losses, pair sampling, box files, the trainer's
checkpoints and resuming (on a tiny network of the same family, so each step takes milliseconds)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import training_helpers as th
from seatrack_ros.errors import InputError
from seatrack_ros.model import BackboneConfig, SEATrack, load_checkpoint, make_test_state_dict, read_state_dict
from seatrack_ros.geometry.crop import sample_crop
from seatrack_ros.training import cli
from seatrack_ros.training.data import (
    DatasetSequenceSource,
    StampedBoxes,
    open_dataset_sources,
    read_box_file,
    usable_sources,
    visible_frames,
)
from seatrack_ros.training.losses import focal_loss, giou_loss, tracking_loss
from seatrack_ros.training.sampling import (
    SamplingSettings,
    box_in_crop,
    flip_frame_box,
    make_pair,
    sample_frame_ids,
)
from seatrack_ros.training.targets import centre_heatmap, gaussian_kernel, gaussian_radius
from seatrack_ros.training.trainer import (
    LATEST,
    TrainConfig,
    Trainer,
    resolve_precision,
    set_train_mode,
)
from seatrack_ros.training import trainer as trainer_module

MEAN = np.array([0.485, 0.456, 0.406] * 2, np.float32).reshape(6, 1, 1)
STD = np.array([0.229, 0.224, 0.225] * 2, np.float32).reshape(6, 1, 1)


# -- targets ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side,radius", [(1, 0), (2, 0), (3, 0), (4, 1), (5, 1), (6, 1), (8, 2), (10, 2),
                                         (12, 3), (16, 4)])
def test_gaussian_radius_of_square_boxes(side, radius):
    """The table in the training recipe (square boxes, sides in map cells)."""
    assert int(gaussian_radius(torch.tensor([[float(side), float(side)]]))[0]) == radius


def test_radius_one_kernel_values():
    kernel = gaussian_kernel(1)  # sigma 0.5
    np.testing.assert_allclose(kernel, [[math.exp(-4), math.exp(-2), math.exp(-4)],
                                        [math.exp(-2), 1.0, math.exp(-2)],
                                        [math.exp(-4), math.exp(-2), math.exp(-4)]], rtol=1e-15)


def test_target_centre_rounds_half_to_even():
    # centre x = (x + w/2) * 16 = 8.5 -> cell 8; y centre 7.5 -> cell 8 (half to even)
    box = torch.tensor([[(8.5 - 1.0) / 16, (7.5 - 1.0) / 16, 2.0 / 16, 2.0 / 16]])
    heat = centre_heatmap(box)[0, 0]
    assert heat.max() == 1.0 and heat.sum() == 1.0  # radius 0: one cell
    assert torch.nonzero(heat == 1).tolist() == [[8, 8]]


def test_target_cut_at_the_border_and_absent_outside():
    # 5-cell box centred on the last row: a 3x3 peak keeps its two in-map rows
    box = torch.tensor([[(8 - 2.5) / 16, (15 - 2.5) / 16, 5 / 16, 5 / 16],
                        [(30 - 2.5) / 16, (8 - 2.5) / 16, 5 / 16, 5 / 16]])
    heat = centre_heatmap(box)
    assert int((heat[0] > 0).sum()) == 6 and heat[0, 0, 15, 8] == 1.0
    assert float(heat[1].abs().sum()) == 0.0


def test_focal_loss_by_hand():
    pred = torch.tensor([[[[0.9, 0.1], [0.2, 0.3]]]])
    target = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]])
    positive = math.log(0.9) * 0.1**2
    negative = (math.log(0.9) * 0.1**2 * 0.5**4 + math.log(0.8) * 0.2**2 + math.log(0.7) * 0.3**2)
    assert float(focal_loss(pred, target)) == pytest.approx(-(positive + negative), rel=1e-6)
    # no positive cell anywhere: the negative sum, not divided
    assert float(focal_loss(pred, torch.zeros_like(target))) == pytest.approx(
        -(math.log(0.1) * 0.81 + math.log(0.9) * 0.01 + math.log(0.8) * 0.04 + math.log(0.7) * 0.09), rel=1e-6)


def test_giou_identical_and_inverted_boxes():
    boxes = torch.tensor([[0.1, 0.2, 0.5, 0.6]])
    loss, iou = giou_loss(boxes, boxes)
    assert float(loss) == pytest.approx(0.0, abs=1e-7) and float(iou[0]) == pytest.approx(1.0)
    inverted = torch.tensor([[0.5, 0.2, 0.1, 0.6]])
    loss, iou = giou_loss(inverted, boxes)
    assert float(loss) == 0.0 and float(iou[0]) == 0.0


def test_tracking_loss_rejects_nan_boxes():
    outputs = {"score_map": torch.full((1, 1, 16, 16), 0.5), "pred_boxes": torch.full((1, 1, 4), float("nan"))}
    with pytest.raises(FloatingPointError):
        tracking_loss(outputs, torch.tensor([[0.4, 0.4, 0.2, 0.2]]))


# -- sampling -------------------------------------------------------------------------------------------


def test_frame_pairs_are_causal_visible_and_within_the_gap():
    rng = np.random.default_rng(1)
    visible = rng.random(500) > 0.3
    settings = SamplingSettings()
    for _ in range(300):
        t, s = sample_frame_ids(visible, rng, settings)
        assert visible[t] and visible[s] and t <= len(visible) - 2 and t < s < t + 200


def test_frame_gap_widens_when_no_search_frame_is_near():
    visible = np.zeros(302, bool)
    visible[[0, 301]] = True  # 301 frames apart: needs 21 widenings of 5 frames
    assert sample_frame_ids(visible, np.random.default_rng(0), SamplingSettings()) == (0, 301)
    only_last = np.zeros(10, bool)
    only_last[-1] = True
    assert sample_frame_ids(only_last, np.random.default_rng(0), SamplingSettings()) is None


def test_crossing_share_draws_search_frames_among_the_marked_frames():
    rng = np.random.default_rng(2)
    visible = np.ones(120, bool)
    visible[50] = False  # a marked frame that is not visible is never a search frame
    crossing = np.zeros(120, bool)
    crossing[[0, 40, 50, 41]] = True  # frame 0 has no frame before it: never a search frame either
    marked = SamplingSettings(crossing_share=0.75)
    searches = []
    for _ in range(400):
        t, s = sample_frame_ids(visible, rng, marked, crossing)
        assert visible[t] and visible[s] and t < s < t + 200
        searches.append(s)
    on_marked = np.isin(searches, [40, 41]).mean()
    assert 0.7 < on_marked < 0.85  # 75 % by the rule, plus the few plain draws that land on 40 or 41
    # the authors' rule (share 0) ignores the mask: about 2 in 119 search frames are 40 or 41
    plain = [sample_frame_ids(visible, rng, SamplingSettings(), crossing)[1] for _ in range(400)]
    assert np.isin(plain, [40, 41]).mean() < 0.1
    # with share 0 the draws are the authors' draw for draw (no extra random number)
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert [sample_frame_ids(visible, a, SamplingSettings(), crossing) for _ in range(50)] == \
        [sample_frame_ids(visible, b, SamplingSettings()) for _ in range(50)]
    # the template stays fewer than max_gap frames before a marked search frame
    long_visible, long_crossing = np.ones(600, bool), np.zeros(600, bool)
    long_crossing[590] = True
    settings = SamplingSettings(crossing_share=0.99)
    pairs = [sample_frame_ids(long_visible, rng, settings, long_crossing) for _ in range(200)]
    assert all(590 - 200 < t < 590 for t, s in pairs if s == 590) and sum(s == 590 for _, s in pairs) > 180
    with pytest.raises(ValueError):
        sample_frame_ids(visible, rng, settings, np.ones(7, bool))


def test_frame_flip_has_the_one_pixel_offset():
    assert flip_frame_box(np.array([10.0, 5.0, 20.0, 8.0]), 100).tolist() == [69.0, 5.0, 20.0, 8.0]


def test_label_in_template_crop():
    box = np.array([40.0, 30.0, 20.0, 10.0])
    side = math.ceil(math.sqrt(200) * 2)
    label = box_in_crop(box, box, 128 / side, 128)
    expected_w, expected_h = 20 / side, 10 / side
    np.testing.assert_allclose(label, [63.5 / 128 - expected_w / 2, 63.5 / 128 - expected_h / 2,
                                       expected_w, expected_h], rtol=1e-6)


class _ArraySource:
    name = "synthetic"

    def __init__(self, n=8):
        self.frames = [np.concatenate([th.render(i)["rgb"], np.repeat(th.render(i)["thermal"][..., None], 3, 2)], 2)
                       for i in range(n)]
        self.boxes = np.asarray(th.target_boxes(n))
        self.visible = np.ones(n, bool)

    def frame(self, index):
        return self.frames[index]


def test_unaugmented_pair_is_the_trackers_crop_normalised():
    source = _ArraySource()
    pair = make_pair(source, np.random.default_rng(3), augment=False)
    t, s = pair.frame_ids
    crop, _ = sample_crop(source.frames[s], tuple(source.boxes[s]), 4.0, 256)
    expected = (crop.astype(np.float32).transpose(2, 0, 1) / np.float32(255) - MEAN) / STD
    np.testing.assert_allclose(pair.search, expected, atol=1e-6)
    cx = pair.search_box[0] + pair.search_box[2] / 2
    assert cx == pytest.approx(127.5 / 256, abs=1e-6)


def test_jittered_target_centre_stays_inside_the_search_crop():
    source = _ArraySource()
    rng = np.random.default_rng(5)
    centres = []
    for _ in range(300):
        pair = make_pair(source, rng)
        centres.append(pair.search_box[:2] + pair.search_box[2:] / 2)
        assert pair.search.shape == (6, 256, 256) and pair.template.shape == (6, 128, 128)
        assert np.isfinite(pair.search).all()
    centres = np.asarray(centres)
    assert centres.min() >= 0.125 - 1 / 256 and centres.max() <= 0.875 + 1 / 256
    assert centres.std() > 0.05  # the jitter is really there


# -- data -----------------------------------------------------------------------------------------------


def test_box_file_formats(tmp_path):
    run_csv = tmp_path / "run.csv"
    th.write_seatrack_run_csv(run_csv, [100, 200], [(1, 2, 3, 4), (5, 6, 7, 8)])
    boxes = read_box_file(run_csv)
    assert boxes.stamps_ns.tolist() == [100, 200] and boxes.boxes.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    plain = tmp_path / "plain.txt"
    plain.write_text("300 1 2 3 4\n100 5 6 7 8\n200 0 0 0 0\n")
    boxes = read_box_file(plain)
    assert boxes.stamps_ns.tolist() == [100, 200, 300]
    assert np.isnan(boxes.boxes[1]).all() and boxes.boxes[2].tolist() == [1, 2, 3, 4]
    seconds = tmp_path / "seconds.csv"
    seconds.write_text("stamp_s,x,y,w,h\n1.5,1,2,3,4\n2.0,,,,\n")
    boxes = read_box_file(seconds)
    assert boxes.stamps_ns.tolist() == [1_500_000_000, 2_000_000_000] and np.isnan(boxes.boxes[1]).all()
    bad = tmp_path / "bad.csv"
    bad.write_text("when,x,y,w,h\n1,1,2,3,4\n")
    with pytest.raises(InputError):
        read_box_file(bad)
    bad.write_text("12ab,1,2,3,4\n")
    with pytest.raises(InputError):
        read_box_file(bad)


def test_box_lookup_tolerance():
    boxes = StampedBoxes(np.array([100, 200], np.int64), np.array([[1, 1, 1, 1], [2, 2, 2, 2]], float))
    assert boxes.lookup(195, 10).tolist() == [2, 2, 2, 2]
    assert boxes.lookup(150, 10) is None


def test_visibility_rules():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 11, 11], [0, 0, 6, 6], [np.nan] * 4, [0, 0, 0, 5]], float)
    assert visible_frames("depthtrack", boxes).tolist() == [False, True, False, False, False]
    assert visible_frames("visevent", boxes, absent=[False, True, False, False, False]).tolist() == \
        [True, False, True, False, False]
    assert visible_frames("lasher", boxes).tolist() == [True, True, True, False, False]


@pytest.mark.parametrize("layout", ["lasher", "gtot", "visevent", "depthtrack"])
def test_dataset_frames_use_the_node_encoders(tmp_path, layout):
    from seatrack_ros.modalities import encode_aux

    root = th.write_layout(tmp_path, layout, n=3)
    modality, sources = open_dataset_sources(root)
    frame = sources[0].frame(1)
    raw = th.render(1)
    expected_aux = {"thermal": lambda: encode_aux("thermal", raw["thermal"], "mono8"),
                    "depth": lambda: encode_aux("depth", raw["depth"], "16UC1"),
                    "event": lambda: encode_aux("event", raw["event"], "bgr8")}[modality]()
    assert frame.shape == (th.H, th.W, 6) and frame.dtype == np.uint8
    if layout != "lasher":  # lossless formats: exactly the encoder's output
        np.testing.assert_array_equal(frame[:, :, 3:], expected_aux)
    assert np.abs(frame[:, :, 3:].astype(int) - expected_aux).mean() < 3


def test_short_sequences_are_left_out(tmp_path):
    _, sources = open_dataset_sources(th.write_layout(tmp_path, "lasher", n=6))
    assert usable_sources(sources, 5, 5) == sources
    with pytest.raises(InputError):
        usable_sources(sources, 20, 5)


# -- the trainer, on a tiny network -----------------------------------------------------------------------

TINY = BackboneConfig(embed_dim=32, depth=2, num_heads=2, fusion_blocks=(1,), lora_rank=2, attn_moe_experts=2,
                      ffn_moe_experts=2, moe_hidden=2)


def tiny_model():
    model = SEATrack(TINY, head_channels=16)
    return load_checkpoint(model, make_test_state_dict(model), lora_merged=False, merge=False)


@pytest.fixture()
def tiny_sources(tmp_path):
    _, sources = open_dataset_sources(th.write_layout(tmp_path / "data", "gtot", n=6))
    return sources


def _config(**overrides):
    values = dict(epochs=1, samples_per_epoch=4, batch_size=1, precision="float32")
    values.update(overrides)
    return TrainConfig.for_variant("rgbt", **values)


def _final_state(out):
    return read_state_dict(out / LATEST)


def test_checkpoint_is_unmerged_and_only_peft_parameters_moved(tmp_path, tiny_sources):
    start = {k: v.clone() for k, v in tiny_model().state_dict().items()}
    trainer = Trainer(tiny_model(), tiny_sources, _config(), tmp_path / "run", progress=False)
    history = trainer.run()
    assert len(history) == 4 and all(np.isfinite(h["total"]) for h in history)
    state = torch.load(tmp_path / "run" / "SEATrack_ep0001.pth.tar", weights_only=True)
    assert state["lora_merged"] is False and "unmerged" in state["convention"]
    net = state["net"]
    assert set(net) == set(start)
    moved = {k for k in net if not torch.equal(net[k], start[k])}
    assert moved and all(any(s in k for s in ("lora", "moe", "scaling")) for k in moved)
    assert any("lora_B" in k for k in moved)  # LoRA trained unmerged: its B moved off the start value
    # qkv.weight stayed the base weight (unmerged): loading it as unmerged adds the update once
    qkv = "backbone.blocks.1.attn.qkv.weight"
    assert torch.equal(net[qkv], start[qkv])


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, tiny_sources, monkeypatch):
    config = _config(save_every=1)
    Trainer(tiny_model(), tiny_sources, config, tmp_path / "whole", progress=False).run()

    real_step = trainer_module.train_step
    calls = {"n": 0}

    def step_then_interrupt(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "train_step", step_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        Trainer(tiny_model(), tiny_sources, config, tmp_path / "split", progress=False).run()
    monkeypatch.setattr(trainer_module, "train_step", real_step)
    saved = torch.load(tmp_path / "split" / LATEST, weights_only=True)
    assert (saved["epoch"], saved["iteration"]) == (0, 2)

    resumed = Trainer(tiny_model(), tiny_sources, config, tmp_path / "split", progress=False)
    assert resumed.resume()
    history = resumed.run()
    whole, split = _final_state(tmp_path / "whole"), _final_state(tmp_path / "split")
    assert all(torch.equal(whole[k], split[k]) for k in whole)
    whole_history = torch.load(tmp_path / "whole" / LATEST, weights_only=True)["stats"]
    assert [h["total"] for h in history] == [h["total"] for h in whole_history]


def test_resume_continues_epochs_and_the_schedule(tmp_path, tiny_sources):
    out = tmp_path / "run"
    Trainer(tiny_model(), tiny_sources, _config(samples_per_epoch=2, lr_drop_epoch=1), out, progress=False).run()
    more = Trainer(tiny_model(), tiny_sources, _config(samples_per_epoch=2, lr_drop_epoch=1, epochs=2), out,
                   progress=False)
    assert more.resume() and more.epoch == 1
    history = more.run()
    assert [h["epoch"] for h in history] == [1, 1, 2, 2]
    assert [h["lr"] for h in history] == pytest.approx([4e-4, 4e-4, 4e-5, 4e-5])
    assert not (out / "SEATrack_ep0001.pth.tar").exists() and (out / "SEATrack_ep0002.pth.tar").is_file()
    assert len((out / "history.csv").read_text().splitlines()) == 5


def test_resume_with_another_lr_drop_follows_the_new_schedule(tmp_path, tiny_sources):
    """Extending a run whose lr dropped after epoch 1: with --lr-drop-epoch 2 the lr of epoch 2 is the
    undropped one (the checkpoint's schedule would have given 4e-5) and it drops after epoch 2."""
    out = tmp_path / "run"
    Trainer(tiny_model(), tiny_sources, _config(samples_per_epoch=2, lr_drop_epoch=1), out, progress=False).run()
    logged = []
    more = Trainer(tiny_model(), tiny_sources, _config(samples_per_epoch=2, lr_drop_epoch=2, epochs=3), out,
                   progress=False, log=logged.append)
    assert more.resume()
    assert any("every 1 epochs" in line and "every 2 epochs" in line for line in logged)
    history = more.run()
    assert [h["lr"] for h in history] == pytest.approx([4e-4, 4e-4, 4e-4, 4e-4, 4e-5, 4e-5])


def test_training_refuses_merged_lora():
    model = SEATrack(TINY, head_channels=16)
    load_checkpoint(model, make_test_state_dict(model), lora_merged=False)  # merged for inference
    with pytest.raises(ValueError, match="unmerged"):
        set_train_mode(model)


def test_precision_choice():
    cpu = torch.device("cpu")
    assert resolve_precision("float32", cpu) is None
    assert resolve_precision("bfloat16", cpu) == torch.bfloat16
    assert resolve_precision("auto", cpu) in (None, torch.bfloat16)
    with pytest.raises(ValueError):
        resolve_precision("float16", cpu)


def test_bfloat16_step_gives_finite_float32_losses(tmp_path, tiny_sources):
    history = Trainer(tiny_model(), tiny_sources, _config(samples_per_epoch=2, precision="bfloat16"),
                      tmp_path / "run", progress=False).run()
    assert all(np.isfinite(h["total"]) and h["location"] > 0 for h in history)


# -- the command line -------------------------------------------------------------------------------------


def test_cli_needs_start_weights_and_bag_options(tmp_path, capsys):
    root = th.write_layout(tmp_path / "data", "gtot", n=6)
    with pytest.raises(SystemExit) as exc:
        cli.main([str(root), "--out", str(tmp_path / "run")])
    assert exc.value.code == 2 and "start weights" in capsys.readouterr().err
    bare = tmp_path / "bare.pth"  # records no LoRA convention, like the authors' files
    torch.save({"net": {"w": torch.zeros(1)}}, bare)
    with pytest.raises(SystemExit) as exc:
        cli.main([str(root), "--out", str(tmp_path / "run"), "--checkpoint", str(bare)])
    assert exc.value.code == 2 and "--lora-merged true|false is required" in capsys.readouterr().err
    bag = tmp_path / "rec"
    th.write_bag(bag, n=2)
    with pytest.raises(SystemExit) as exc:
        cli.main([str(bag), "--out", str(tmp_path / "run"), "--test-weights", "--modality", "thermal"])
    assert exc.value.code == 2 and "--boxes" in capsys.readouterr().err


def test_cli_reports_unusable_data_in_one_line(tmp_path, capsys):
    root = th.write_layout(tmp_path / "data", "gtot", n=6)
    code = cli.main([str(root), "--out", str(tmp_path / "run"), "--test-weights", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "20 frames" in err[0]


# -- train-time dropouts and stochastic depth ---------------------------------------------------------


def _tiny_inputs(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(2, 6, 128, 128, generator=gen), torch.randn(2, 6, 256, 256, generator=gen)


def test_stochastic_hooks_leave_eval_mode_unchanged():
    from seatrack_ros.training.stochastic import add_stochastic_layers

    plain, hooked = tiny_model(), tiny_model()
    handles = add_stochastic_layers(hooked)
    assert len(handles) > 0
    template, search = _tiny_inputs()
    with torch.no_grad():
        a, b = plain(template, search), hooked(template, search)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_stochastic_hooks_with_zero_rates_recompute_the_modules_own_output():
    """The hooks rebuild the low-rank projections and the LoRA branch: with p = 0 they must give back
    what the modules computed (to float32 rounding), so the dropout sits on the right tensors."""
    from seatrack_ros.training import stochastic

    model = tiny_model()
    set_train_mode(model)
    template, search = _tiny_inputs()
    with torch.no_grad():
        reference = model(template, search)
    handles = []
    for module in model.modules():
        if isinstance(module, stochastic.LoRAQKV):
            handles.append(module.register_forward_hook(stochastic._lora_dropout_hook(0.0)))
        elif isinstance(module, stochastic.LowRankProjection):
            handles.append(module.register_forward_hook(stochastic._projection_hook(0.0)))
        elif isinstance(module, stochastic.BatchedLowRankExperts):
            handles.append(module.register_forward_hook(stochastic._experts_hook(0.0)))
    assert len(handles) == 1 + 2 * 3  # one LoRA qkv, two HMoEs with linear1, experts, linear2
    with torch.no_grad():
        rebuilt = model(template, search)
    for key in ("score_map", "size_map", "offset_map"):
        assert float((rebuilt[key] - reference[key]).abs().max()) <= 1e-5


def test_stochastic_hooks_are_random_in_train_mode():
    from seatrack_ros.training.stochastic import add_stochastic_layers

    model = tiny_model()
    set_train_mode(model)
    add_stochastic_layers(model, dropout=0.3, drop_path=0.3)
    template, search = _tiny_inputs()
    with torch.no_grad():
        torch.manual_seed(1)
        first = model(template, search)["size_map"]
        torch.manual_seed(2)
        second = model(template, search)["size_map"]
        torch.manual_seed(1)
        again = model(template, search)["size_map"]
    assert torch.isfinite(first).all() and not torch.equal(first, second) and torch.equal(first, again)


def test_hmoe_drop_path_shares_one_draw_per_stream_across_template_and_search():
    from seatrack_ros.training.stochastic import _PairedDropPath

    paired = _PairedDropPath(0.5)
    module = torch.nn.Identity().train()
    torch.manual_seed(0)
    for _ in range(20):
        template = paired(module, None, torch.ones(4, 2 * 64, 3))
        search = paired(module, None, torch.ones(4, 2 * 256, 3))
        for out, n in ((template, 64), (search, 256)):
            rgb, aux = out[:, :n], out[:, n:]
            assert set(torch.unique(out).tolist()) <= {0.0, 2.0}
            assert (rgb == rgb[:, :1]).all() and (aux == aux[:, :1]).all()  # one draw per stream
        assert torch.equal(template[:, 0], search[:, 0]) and torch.equal(template[:, 64], search[:, 256])
    assert paired.pending is None


def test_a_failing_frame_is_drawn_again_counted_and_logged_once(caplog):
    from seatrack_ros.training import sampling

    class Flaky(_ArraySource):
        def frame(self, index):
            if index in (2, 3):
                raise InputError("unreadable_image", f"frame {index} is broken")
            return super().frame(index)

    source = Flaky()
    before = sampling.SKIPPED_PAIRS["unreadable_image"]
    caplog.set_level("WARNING", logger="seatrack_ros.training.sampling")
    rng = np.random.default_rng(0)
    pairs = [make_pair(source, rng) for _ in range(30)]
    assert all(2 not in p.frame_ids and 3 not in p.frame_ids for p in pairs)
    skipped = sampling.SKIPPED_PAIRS["unreadable_image"] - before
    assert skipped > 0
    logged = [r for r in caplog.records if "unreadable_image" in r.getMessage()]
    assert len(logged) == (1 if before == 0 else 0)
