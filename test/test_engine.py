"""The accelerated path's pieces, checked on the CPU: folded guidance, GPU crop code, half policy, engine."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pytest
import torch

from seatrack_ros.testing import tiny_model as build_tiny_model
from seatrack_ros.engine.collapsed import EngineNetwork
from seatrack_ros.engine import (
    TrackEngine,
    apply_half_policy,
    crop_resize,
    crop_tables,
    float32_island_modules,
    inference_state,
    normalize_crop,
    prepare_model,
    window_is_regular,
)
from seatrack_ros.engine.gpu_preprocess import ROW_SRC0, ROW_SRC1, rows_read
from seatrack_ros.model.backbone import Block, BackboneConfig, guided_attention_fused
from seatrack_ros.model.hmoe import HMoE
from seatrack_ros.errors import InputError
from seatrack_ros.tracker import SEATracker, TrackerSettings
from seatrack_ros.geometry.crop import crop_window, sample_crop

MEAN = torch.tensor((0.485, 0.456, 0.406) * 2).view(1, 6, 1, 1)
STD = torch.tensor((0.229, 0.224, 0.225) * 2).view(1, 6, 1, 1)


# ------------------------------------------------------------------------------ folded mutual guidance
def reference_guided_attention(q, k, v, scale, s_rgb, s_aux):
    """The paper's arithmetic, written out: guided logits from both streams' unguided logits."""
    batch = q.shape[0] // 2
    logits = torch.einsum("bhnd,bhmd->bhnm", q, k) * scale
    a_rgb, a_aux = logits[:batch], logits[batch:]
    guided_rgb = a_rgb + s_rgb * (a_aux - a_rgb)
    guided_aux = a_aux + s_aux * (a_rgb - a_aux)
    weights = torch.softmax(torch.cat([guided_rgb, guided_aux]), dim=-1)
    return torch.einsum("bhnm,bhmd->bhnd", weights, v)


@pytest.mark.parametrize("s_rgb, s_aux", [(1.0, 1.0), (0.37, -0.21), (1.7, 0.93), (0.0, 0.5)])
def test_folded_guidance_equals_reference_in_float64(s_rgb, s_aux):
    gen = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(4, 3, 37, 16, generator=gen, dtype=torch.float64) * 2 for _ in range(3))
    scale = 16**-0.5
    expected = reference_guided_attention(q, k, v, scale, s_rgb, s_aux)
    got = guided_attention_fused(
        q, k, v, scale, torch.tensor([s_rgb], dtype=torch.float64), torch.tensor([s_aux], dtype=torch.float64)
    )
    assert got.dtype == torch.float64
    assert (got - expected).abs().max().item() <= 1e-12


def test_folded_guidance_check_detects_swapped_scalars():
    gen = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(2, 2, 20, 8, generator=gen, dtype=torch.float64) for _ in range(3))
    expected = reference_guided_attention(q, k, v, 8**-0.5, 0.3, 0.8)
    swapped = guided_attention_fused(
        q, k, v, 8**-0.5, torch.tensor([0.8], dtype=torch.float64), torch.tensor([0.3], dtype=torch.float64)
    )
    assert (swapped - expected).abs().max().item() > 1e-3


def test_fused_block_equals_math_block_in_float64():
    config = BackboneConfig(embed_dim=48, depth=2, num_heads=3, fusion_blocks=(1,), lora_rank=4)
    torch.manual_seed(5)
    block = Block(config, fusion=True).double().eval()
    with torch.no_grad():
        for name, p in block.named_parameters():
            p.copy_(torch.randn_like(p) * 0.2 + (1.0 if name.endswith("norm1.weight") else 0.0))
        block.dte2r_scaling.fill_(0.62)
        block.r2dte_scaling.fill_(1.35)
        x = torch.randn(2, 64 + 256, 48, dtype=torch.float64)
        block.attention_impl = "math"
        expected = block(x, 64)
        block.attention_impl = "fused"
        got = block(x, 64)
    assert (got - expected).abs().max().item() <= 1e-12


# ------------------------------------------------------------------------------------ GPU crop code
def torch_crop(frame: np.ndarray, box, factor: float, size: int) -> np.ndarray:
    window = crop_window(box, factor, frame.shape[:2])
    assert window_is_regular(window, frame.shape[:2])
    tables = torch.from_numpy(crop_tables(window, frame.shape[:2], size))
    return crop_resize(torch.from_numpy(frame), tables).numpy()


def test_torch_crops_reproduce_golden_crops(tracker_seq, golden_meta):
    frames = tracker_seq["frames"]
    template = torch_crop(frames[0], tuple(tracker_seq["init_box"]), 2.0, 128)
    np.testing.assert_array_equal(template, tracker_seq["template_crop"])
    hashes = []
    for i, box in enumerate(tracker_seq["search_crop_boxes"], start=1):
        crop = torch_crop(frames[i], tuple(box), 4.0, 256)
        if i == 1:
            np.testing.assert_array_equal(crop, tracker_seq["search_crop_frame1"])
        hashes.append(hashlib.sha256(crop.tobytes()).hexdigest())
    assert hashes == golden_meta["tracker"]["crop_sha256"]


def random_windows(count: int, seed: int):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        height, width = (int(v) for v in rng.integers(24, 260, size=2))
        w, h = rng.uniform(2, 160, size=2)
        box = (float(rng.uniform(-w + 1, width - 1)), float(rng.uniform(-h + 1, height - 1)), float(w), float(h))
        factor, size = ((2.0, 128), (4.0, 256))[len(cases) % 2]
        if window_is_regular(crop_window(box, factor, (height, width)), (height, width)):
            cases.append(((height, width), box, factor, size))
    # exact 2x downscales (OpenCV's area filter) and large/odd scales
    cases += [((600, 700), (100.0, 50.0, side / 4, side / 4), 4.0, 256) for side in (512, 1024, 768, 513, 255)]
    cases += [((300, 300), (60.0, 60.0, 64.0, 64.0), 2.0, 128), ((300, 300), (250.0, 5.0, 40.0, 40.0), 2.0, 128)]
    return cases


@pytest.mark.parametrize("case", random_windows(40, seed=11), ids=lambda c: f"{c[0]}-{c[3]}")
def test_torch_crop_matches_opencv_crop(case):
    (height, width), box, factor, size = case
    frame = np.random.default_rng(abs(hash(case)) % 2**32).integers(0, 256, size=(height, width, 6), dtype=np.uint8)
    expected, _ = sample_crop(frame, box, factor, size)
    got = torch_crop(frame, box, factor, size)
    diff = np.abs(got.astype(np.int16) - expected.astype(np.int16)).max()
    assert diff == 0, f"max pixel difference {diff}"


def test_irregular_windows_are_recognised():
    hw = (240, 320)
    # centre above the image, crop too short to reach row 0: the host slicing would wrap around
    assert not window_is_regular(crop_window((100.0, -100.0, 2.0, 110.0), 4.0, hw), hw)
    assert window_is_regular(crop_window((100.0, -10.0, 20.0, 30.0), 4.0, hw), hw)
    assert window_is_regular(crop_window((300.0, 230.0, 30.0, 20.0), 4.0, hw), hw)


@pytest.mark.parametrize("box", [(40, 30, 20, 16), (-30, -20, 40, 30), (150, 100, 60, 50), (5, 200, 30, 30), (0, 0, 160, 120)])
def test_rows_read_are_exactly_the_rows_the_crop_tables_read(box):
    image_hw = (240, 320)
    window = crop_window(box, 4.0, image_hw)
    tables = crop_tables(window, image_hw, 64)
    read = np.concatenate([tables[0, ROW_SRC0], tables[0, ROW_SRC1]]) // image_hw[1]
    top, bottom = rows_read(window, image_hw)
    assert 0 <= top < bottom <= image_hw[0]
    assert top <= read.min() and read.max() <= bottom - 1  # every row read is uploaded
    # and not many more: the window's own rows, of which the bilinear samples skip at most half a step
    assert bottom - top <= window.crop_size
    margin = window.crop_size / 64 / 2 + 1
    assert read.min() - top <= margin and (bottom - 1) - read.max() <= margin


def test_engine_uploads_only_the_rows_its_search_crop_reads():
    """A frame's upload writes only `rows_read` of the window; the rows left from the previous frame
    are never read: the crop still equals the host crop of the new frame."""
    rng = np.random.default_rng(4)
    frames = [tuple(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(2)) for _ in range(2)]
    settings = TrackerSettings()
    engine = TrackEngine(build_tiny_model(), torch.device("cpu"), settings)
    box = [140.0, 100.0, 20.0, 16.0]  # a small target: the search window covers 72 of 240 rows
    engine.initialize(*frames[0], box)
    engine.track(*frames[1], list(box))
    window = crop_window(box, settings.search_factor, (240, 320))
    top, bottom = rows_read(window, (240, 320))
    assert bottom - top < 240
    planes = engine.frame_host.numpy()
    np.testing.assert_array_equal(planes[0, top:bottom], frames[1][0][top:bottom])
    np.testing.assert_array_equal(planes[0, :top], frames[0][0][:top])  # not uploaded: frame 0 stays
    expected, _ = sample_crop(np.concatenate(frames[1], axis=2), box, settings.search_factor, settings.search_size)
    np.testing.assert_array_equal(engine.search_crop(), expected)


def test_normalize_crop_is_the_trackers_arithmetic():
    crop = np.random.default_rng(2).integers(0, 256, size=(256, 256, 6), dtype=np.uint8)
    tracker = SEATracker(build_tiny_model(), "cpu")
    expected = tracker.normalize(crop)
    got = normalize_crop(torch.from_numpy(crop), MEAN, STD, torch.float32)
    assert torch.equal(got, expected)
    assert normalize_crop(torch.from_numpy(crop), MEAN, STD, torch.float16).dtype == torch.float16


# ---------------------------------------------------------------------------------- half precision
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_policy_keeps_float32_islands(dtype):
    model = apply_half_policy(build_tiny_model(), dtype)
    islands = float32_island_modules(model)
    assert len(islands["layer_norm"]) == 2 * 2 + 1 and len(islands["hmoe"]) == 2 and len(islands["head_output"]) == 3
    for role in ("hmoe", "head_output"):
        for module in islands[role]:
            assert all(p.dtype == torch.float32 for p in module.parameters())
    # CUDA's LayerNorm needs parameters in the input's dtype (half); its statistics are float32 inside
    assert all(p.dtype == dtype for norm in islands["layer_norm"] for p in norm.parameters())
    block = model.backbone.blocks[1]
    assert block.attn.qkv.weight.dtype == dtype and block.mlp.fc1.weight.dtype == dtype
    assert model.box_head.conv1_ctr[0].weight.dtype == dtype
    assert block.dte2r_scaling.dtype == torch.float32
    assert model.backbone.pos_embed_x.dtype == dtype
    optional = apply_half_policy(build_tiny_model(), dtype, residual_float32=True)
    assert optional.backbone.pos_embed_x.dtype == torch.float32  # residual stream starts float32
    assert all(p.dtype == torch.float32 for norm in float32_island_modules(optional)["layer_norm"] for p in norm.parameters())


@pytest.mark.parametrize("residual_float32", [True, False])
@pytest.mark.parametrize("dtype, tol", [(torch.float16, 2e-3), (torch.bfloat16, 2e-2)])
def test_half_forward_on_cpu_runs_islands_in_float32(dtype, tol, residual_float32):
    reference = build_tiny_model()
    reference.set_attention_impl("fused")
    model = apply_half_policy(build_tiny_model(), dtype, residual_float32=residual_float32)
    model.set_attention_impl("fused")
    seen, residual, matmul_inputs = [], [], []
    for moe in (m for m in model.modules() if isinstance(m, HMoE)):
        moe.norm.register_forward_pre_hook(lambda m, args: seen.append(args[0].dtype))
    mixed_norms = []  # CUDA's LayerNorm rejects half input with float32 parameters; the CPU's accepts it
    for norm in (m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)):
        norm.register_forward_pre_hook(lambda m, args: mixed_norms.append(args[0].dtype != m.weight.dtype))
    for block in model.backbone.blocks:
        block.register_forward_pre_hook(lambda m, args: residual.append(args[0].dtype))
        block.attn.qkv.register_forward_pre_hook(lambda m, args: matmul_inputs.append(args[0].dtype))
        block.mlp.fc1.register_forward_pre_hook(lambda m, args: matmul_inputs.append(args[0].dtype))
    gen = torch.Generator().manual_seed(8)
    template, search = torch.randn(1, 6, 128, 128, generator=gen), torch.randn(1, 6, 256, 256, generator=gen)
    with torch.no_grad():
        expected = reference(template, search)
        got = model(template.to(dtype), search.to(dtype))
    assert seen and set(seen) == {torch.float32}
    assert set(residual) == {torch.float32 if residual_float32 else dtype}
    assert set(matmul_inputs) == {dtype}
    assert mixed_norms and not any(mixed_norms)
    for name in ("score_map", "size_map", "offset_map"):
        assert got[name].dtype == torch.float32, name
        assert torch.isfinite(got[name]).all()
    deviation = (got["score_map"] - expected["score_map"]).abs().max().item()
    assert deviation <= tol, f"{dtype} score map deviates by {deviation}"


def test_prepare_model_is_shared_idempotent_and_refuses_a_second_precision():
    model = build_tiny_model()
    pointers = [p.data_ptr() for p in model.parameters()]
    prepared = prepare_model(model, "cpu")
    assert prepared is model and inference_state(model) == ("cpu", torch.float32)
    assert all(layer.merged for layer in model.lora_layers())
    assert all(block.attention_impl == "fused" for block in model.backbone.blocks)
    assert prepare_model(model, "cpu") is model
    assert [p.data_ptr() for p in model.parameters()] == pointers
    with pytest.raises(ValueError, match="separate model"):
        prepare_model(model, "cpu", torch.float16)


def test_tracker_options_fall_back_on_cpu(caplog):
    rgb = np.random.default_rng(1).integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    with caplog.at_level(logging.WARNING):
        tracker = SEATracker(build_tiny_model(), "cpu", half=True, cuda_graphs=True, compile_network=True)
    assert tracker.half is False and tracker.cuda_graphs is False and tracker.engine is None
    assert tracker.compiled is False
    assert any("float32" in r.message for r in caplog.records)
    tracker.initialize(rgb, rgb, (60, 40, 30, 20))
    result = tracker.track(rgb, rgb)
    assert np.isfinite(result.box).all() and 0.0 < result.score < 1.0


# ------------------------------------------------------------------------------------ engine on CPU
def moving_target_frames(count: int, hw=(150, 200)):
    rng = np.random.default_rng(6)
    background = rng.integers(0, 255, size=(*hw, 3), dtype=np.uint8)
    frames = []
    for i in range(count):
        rgb, aux = background.copy(), background[..., ::-1].copy()
        x, y = 20 + 25 * i, 10 + 18 * i  # runs into the bottom-right corner: crops get padded
        rgb[y : y + 30, x : x + 40] = (250, 240, 10)
        aux[y : y + 30, x : x + 40] = 255
        frames.append((rgb, aux))
    return frames


def test_engine_crops_an_irregular_template_window_like_the_host_crop():
    """The tracker refuses such a box; the engine alone still reproduces the host crop for it."""
    init_box = (100.0, -100.0, 2.0, 110.0)
    model = build_tiny_model()
    frames = moving_target_frames(1)
    hw = frames[0][0].shape[:2]
    assert not window_is_regular(crop_window(init_box, 2.0, hw), hw)
    engine = TrackEngine(model, torch.device("cpu"), TrackerSettings())
    engine.initialize(*frames[0], init_box)
    expected, _ = sample_crop(np.concatenate(frames[0], axis=2), init_box, 2.0, 128)
    np.testing.assert_array_equal(engine.template_crop(), expected)
    with pytest.raises(InputError):
        SEATracker(model, "cpu").initialize(*frames[0], init_box)


def test_engine_on_cpu_equals_host_pipeline():
    init_box = (20.0, 10.0, 40.0, 30.0)
    model = build_tiny_model()
    engine = TrackEngine(model, torch.device("cpu"), TrackerSettings())
    reference = SEATracker(model, "cpu")  # same prepared model: merged LoRA, fused attention
    frames = moving_target_frames(7)
    hw = frames[0][0].shape[:2]
    assert window_is_regular(crop_window(init_box, 2.0, hw), hw)
    engine.initialize(*frames[0], init_box)
    reference.initialize(*frames[0], init_box)
    np.testing.assert_array_equal(engine.template_crop(), reference.template_crop)
    assert torch.equal(engine.template_tokens, reference.template_tokens)
    state = list(init_box)
    for rgb, aux in frames[1:]:
        box, unclipped, score, peak = engine.track(rgb, aux, state)
        expected = reference.track(rgb, aux)
        np.testing.assert_array_equal(engine.search_crop(), reference.last_search_crop)
        assert box == list(expected.box) and unclipped == list(expected.unclipped_box)
        assert score == expected.score and peak == expected.peak_index
        state = box


def test_half_engine_on_cpu_crops_raw_pixels_and_follows_the_host_pipeline():
    """The half path (collapsed network, raw crops into the folded patch embedding, the 5-kernel
    decode) against the float32 host tracker, with the trained demo model on a held-out scene: the
    same crops byte for byte, the same peak cells, boxes within 0.5 px."""
    from seatrack_ros.model import load_seatrack
    from seatrack_ros.streams.scenes import HELD_OUT_SEED_START, Scene, SceneSettings
    from seatrack_ros.training.scenes import encode_scene_frame

    scene = Scene(HELD_OUT_SEED_START, SceneSettings(frames=8))
    settings = TrackerSettings(template_size=64, search_size=128)
    engine = TrackEngine(load_seatrack("demo"), torch.device("cpu"), settings, dtype=torch.float16)
    assert engine.pixel_input
    reference = SEATracker(load_seatrack("demo"), "cpu", settings)
    init_box = scene.box(0)
    engine.initialize(*encode_scene_frame(scene, 0, "thermal"), init_box)
    reference.initialize(*encode_scene_frame(scene, 0, "thermal"), init_box)
    np.testing.assert_array_equal(engine.template_crop(), reference.template_crop)
    state, deviations = list(init_box), []
    for index in range(1, 8):
        rgb, aux = encode_scene_frame(scene, index, "thermal")
        box, _, score, peak = engine.track(rgb, aux, state)
        expected = reference.track(rgb, aux)
        np.testing.assert_array_equal(engine.search_crop(), reference.last_search_crop)
        assert peak == expected.peak_index
        assert abs(score - expected.score) <= 5e-3
        deviations.append(np.abs(np.array(box) - np.array(expected.box)).max())
        state = list(expected.box)  # both follow the reference's path, so frames stay comparable
    assert max(deviations) <= 0.5, deviations


def test_engine_on_cpu_follows_golden_sequence(test_weights, tracker_seq):
    from seatrack_ros.model import build_seatrack, load_checkpoint

    model = load_checkpoint(build_seatrack(), test_weights, lora_merged=False)
    engine = TrackEngine(model, torch.device("cpu"), TrackerSettings())
    frames = tracker_seq["frames"]
    engine.initialize(frames[0][..., :3], frames[0][..., 3:], tuple(tracker_seq["init_box"]))
    np.testing.assert_array_equal(engine.template_crop(), tracker_seq["template_crop"])
    state = list(tracker_seq["init_box"])
    for i in (1, 2, 3):
        box, _, score, peak = engine.track(frames[i][..., :3], frames[i][..., 3:], state)
        # fused attention rounds differently from the reference's op order: golden tolerances apply
        assert np.abs(np.array(box) - tracker_seq["pred_boxes"][i]).max() <= 1e-2
        assert abs(score - tracker_seq["best_score"][i]) <= 1e-5
        assert peak == tracker_seq["response_argmax"][i - 1]
        state = box


def test_engine_graph_capture_failure_falls_back_to_eager(caplog):
    model = build_tiny_model()
    engine = TrackEngine(model, torch.device("cpu"), TrackerSettings())
    reference = SEATracker(model, "cpu")
    engine.cuda_graphs = True  # as if graphs were requested where capturing then fails (no CUDA here)
    frames = moving_target_frames(3)
    box = (20.0, 10.0, 40.0, 30.0)
    engine.initialize(*frames[0], box)
    reference.initialize(*frames[0], box)
    state = list(box)
    with caplog.at_level(logging.WARNING):
        for rgb, aux in frames[1:]:
            state, _, score, _ = engine.track(rgb, aux, state)
            expected = reference.track(rgb, aux)
            assert state == list(expected.box) and score == expected.score
    assert engine.cuda_graphs is False
    assert "running eagerly" in caplog.text


class GraphOnCpu:
    """CPU stand-in for a captured CUDA graph, to check the engine's stages keep the graph contract.

    A real replay reruns the captured kernels only: no Python of the stage runs, so an attribute the
    stage rebinds keeps its value, and the tensors the stage created at capture are rewritten in place.
    This stand-in reruns the stage, copies what it produced into the capture-time tensors and undoes
    every rebinding; a stage that passes results on any other way gives stale results here, as on a GPU.
    """

    def __init__(self, engine: TrackEngine, fn) -> None:
        self.engine, self.fn = engine, fn
        before = dict(vars(engine))
        fn()
        self.outputs = {name: value for name, value in vars(engine).items() if before.get(name) is not value}

    def replay(self) -> None:
        before = dict(vars(self.engine))
        self.fn()
        after = vars(self.engine)
        for name in [n for n in after if after[n] is not before.get(n)]:
            assert name in self.outputs, f"a replay rebound {name}, which the capture did not create"
            captured, fresh = self.outputs[name], after[name]
            for key in captured if isinstance(captured, dict) else [None]:
                (captured[key] if key is not None else captured).copy_(fresh[key] if key is not None else fresh)
            after[name] = before[name]


def graphed_on_cpu(engine: TrackEngine) -> TrackEngine:
    engine.cuda_graphs = True
    engine._capture = lambda name, fn: engine._graphs.setdefault(name, GraphOnCpu(engine, fn))
    return engine


@pytest.mark.parametrize("staged", [False, True])  # one graph per frame, or one per stage (as when profiled)
def test_graph_replays_give_the_eager_results_through_irregular_crops_and_reinitialisation(staged):
    model = build_tiny_model()
    graphed = graphed_on_cpu(TrackEngine(model, torch.device("cpu"), TrackerSettings()))
    graphed.profile = staged  # on CUDA profile=True times the stages, so they are captured one by one
    eager = TrackEngine(model, torch.device("cpu"), TrackerSettings())
    frames = moving_target_frames(6)
    hw = frames[0][0].shape[:2]
    far_outside = [-109.0, -104.0, 40.0, 30.0]  # search window ends left of and above the image
    assert not window_is_regular(crop_window(far_outside, 4.0, hw), hw)
    wide = moving_target_frames(2, hw=(170, 260))
    calls = [("init", frames[0], (20.0, 10.0, 40.0, 30.0))]
    calls += [("track", frames[i], None) for i in (1, 2)]
    calls += [("track", frames[3], far_outside), ("track", frames[4], None)]
    calls += [("init", frames[4], (60.0, 50.0, 30.0, 30.0)), ("track", frames[5], None)]
    calls += [("init", wide[0], (30.0, 20.0, 40.0, 30.0)), ("track", wide[1], None)]  # new frame size
    state = None
    for kind, (rgb, aux), box in calls:
        if kind == "init":
            graphed.initialize(rgb, aux, box)
            eager.initialize(rgb, aux, box)
            state = list(box)
            assert torch.equal(graphed.template_tokens, eager.template_tokens)
            # the frame graph exists before the first track: captured at initialize
            assert ("frame" in graphed._graphs) != staged
            continue
        state = box if box is not None else state
        got, want = graphed.track(rgb, aux, state), eager.track(rgb, aux, state)
        assert got == want
        expected_crop, _ = sample_crop(np.concatenate([rgb, aux], axis=2), state, 4.0, 256)
        np.testing.assert_array_equal(graphed.search_crop(), expected_crop)
        state = got[0]
    stages = {"crop_normalize", "backbone_head", "decode"} if staged else {"frame", "host_frame"}
    assert graphed.cuda_graphs and set(graphed._graphs) == stages
    assert graphed.host_crops == 1


def run_calls(engine: TrackEngine, frames, init_box) -> list:
    engine.initialize(*frames[0], init_box)
    state, results = list(init_box), []
    for rgb, aux in frames[1:]:
        results.append(engine.track(rgb, aux, state))
        state = results[-1][0]
    return results


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_compiled_network_replays_the_plain_networks_results(dtype):
    model = build_tiny_model()
    frames = moving_target_frames(4)
    box = (20.0, 10.0, 40.0, 30.0)
    plain = run_calls(TrackEngine(model, torch.device("cpu"), TrackerSettings(), dtype=dtype), frames, box)
    engine = graphed_on_cpu(
        TrackEngine(model, torch.device("cpu"), TrackerSettings(), dtype=dtype, compile_network=True)
    )
    engine.compile_backend = "eager"  # traces the whole network (fullgraph) without generating kernels
    compiled = run_calls(engine, frames, box)
    assert engine.compiled and engine._network is not engine.model
    assert compiled == plain


def test_a_failed_compile_keeps_the_plain_network(caplog):
    def broken_backend(graph_module, example_inputs):
        raise RuntimeError("no compiler toolchain here")

    model = build_tiny_model()
    frames = moving_target_frames(3)
    box = (20.0, 10.0, 40.0, 30.0)
    plain = run_calls(TrackEngine(model, torch.device("cpu"), TrackerSettings()), frames, box)
    engine = TrackEngine(model, torch.device("cpu"), TrackerSettings(), compile_network=True)
    engine.compile_backend = broken_backend
    with caplog.at_level(logging.WARNING):
        results = run_calls(engine, frames, box)
    assert not engine.compiled and isinstance(engine._network, EngineNetwork) and engine._network.model is engine.model
    assert "running it uncompiled" in caplog.text and "no compiler toolchain here" in caplog.text
    assert results == plain


def test_a_model_prepared_for_another_device_is_not_moved_under_its_engine():
    model = prepare_model(build_tiny_model(), torch.device("meta"))  # stands in for a CUDA engine's model
    with pytest.raises(ValueError, match="load a separate model"):
        SEATracker(model, "cpu")
    assert next(model.parameters()).device.type == "meta"
