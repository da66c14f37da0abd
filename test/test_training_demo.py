"""Training the demo model: every parameter trains from random weights on synthetic scenes, and what
seatrack-train writes loads as the demo variant in the tools; scene sources use the node's encoders;
the exported file is float16 and tracks like the checkpoint it came from."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seatrack_ros.modalities import encode_aux, render_events
from seatrack_ros.model import load_seatrack
from seatrack_ros.model.build import build_seatrack
from seatrack_ros.model.checkpoint import read_checkpoint
from seatrack_ros.streams.scenes import Scene, SceneSettings
from seatrack_ros.training import cli
from seatrack_ros.training.export import export_weights
from seatrack_ros.training.scenes import SceneSource, encode_scene_frame, scene_sources, write_scene_dataset
from seatrack_ros.training.trainer import freeze_for, init_from_scratch

SMALL = SceneSettings(height=128, width=160, frames=12, target_side=(20.0, 30.0))


def test_scene_frames_are_what_the_node_encoders_make():
    scene = Scene(5, SMALL)
    rgb, thermal = encode_scene_frame(scene, 3, "thermal")
    assert np.array_equal(rgb, scene.rgb(3))
    assert np.array_equal(thermal, encode_aux("thermal", scene.thermal(3), "mono8"))
    _, depth = encode_scene_frame(scene, 3, "depth")
    assert np.array_equal(depth, encode_aux("depth", scene.depth(3), "16UC1"))
    _, events = encode_scene_frame(scene, 3, "event")
    stamp = 4 * scene.period_ns
    assert np.array_equal(events, render_events(*scene.events(3, stamp), 128, 160, stamp - scene.period_ns, stamp))
    source = SceneSource(5, "depth", SMALL)
    frame = source.frame(3)
    assert frame.shape == (128, 160, 6) and np.array_equal(frame[..., 3:], depth)
    assert source.visible.all() and source.boxes.shape == (12, 4)


def test_scene_sources_share_one_scene_per_seed():
    sources = scene_sources([1, 2], ("thermal", "event"), SMALL)
    assert [s.name for s in sources] == ["scene00001_thermal", "scene00001_event", "scene00002_thermal",
                                         "scene00002_event"]
    assert sources[0].scene is sources[1].scene and sources[0].scene is not sources[2].scene


def test_trainable_sets():
    model = build_seatrack("tiny")
    everything = freeze_for(model, "all")
    assert len(everything) == len(list(model.parameters())) and all(p.requires_grad for p in everything)
    peft = freeze_for(model, "peft")
    assert 0 < len(peft) < len(everything)
    assert not any(p.requires_grad for n, p in model.named_parameters() if "blocks.0.attn.proj" in n)
    with pytest.raises(ValueError, match="trainable"):
        freeze_for(model, "some")


def test_init_from_scratch_is_seeded_and_sane():
    a = init_from_scratch(build_seatrack("tiny"), seed=3).state_dict()
    b = init_from_scratch(build_seatrack("tiny"), seed=3).state_dict()
    c = init_from_scratch(build_seatrack("tiny"), seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)
    weight = a["backbone.blocks.0.mlp.fc1.weight"]
    assert abs(float(weight.std()) - 0.02) < 0.003 and float(weight.abs().max()) <= 0.04 + 1e-6
    assert torch.count_nonzero(a["backbone.pos_embed_x"]) > 0  # not left at zero
    assert torch.all(a["backbone.blocks.0.norm1.weight"] == 1)


def test_seatrack_train_on_scenes_from_scratch_writes_a_demo_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["--scenes", "0-2", "--scene-frames", "12", "--min-frames", "10", "--variant", "demo",
                     "--from-scratch", "--out", str(out), "--epochs", "1", "--samples-per-epoch", "8", "--batch-size", "4",
                     "--precision", "float32", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "3 seeds x 3 modalities = 9 sequences" in printed and "random weights" in printed
    assert f"{sum(p.numel() for p in build_seatrack('demo').parameters()):,} parameters" in printed
    checkpoint = out / "SEATrack_ep0001.pth.tar"
    state, recorded = read_checkpoint(checkpoint)
    assert recorded is False
    start = init_from_scratch(build_seatrack("demo"), seed=0).state_dict()
    moved = [k for k, v in state.items() if v.is_floating_point() and not torch.equal(v, start[k])]
    assert any("patch_embed" in k for k in moved) and any("box_head" in k for k in moved)  # not only PEFT
    model = load_seatrack("demo", checkpoint)
    scene = Scene(10_000, SMALL)
    from seatrack_ros.tracker import SEATracker

    tracker = SEATracker(model)
    assert tracker.settings.template_size == 64 and tracker.settings.search_size == 128
    tracker.initialize(*encode_scene_frame(scene, 0, "thermal"), scene.box(0))
    box = tracker.track(*encode_scene_frame(scene, 1, "thermal")).box
    assert all(np.isfinite(box))
    # export: float16, same keys, and the network computes nearly what the checkpoint computes
    exported = tmp_path / "demo.pth"
    export_weights(checkpoint, exported)
    half_state, half_recorded = read_checkpoint(exported)
    assert half_recorded is False and set(half_state) == set(state)
    assert all(v.dtype == torch.float16 for v in half_state.values() if v.is_floating_point())
    assert exported.stat().st_size < 0.6 * checkpoint.stat().st_size


def test_scene_inputs_are_checked(tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["--out", str(tmp_path / "x"), "--from-scratch", "--variant", "demo"])  # nothing to train on
    with pytest.raises(SystemExit):
        cli.main(["--scenes", "0-1", "--scene-modalities", "sonar", "--variant", "demo", "--from-scratch",
                  "--out", str(tmp_path / "y")])


def test_written_scene_datasets_run_and_score(tmp_path):
    """seatrack-scenes' folders are read by seatrack-run (demo variant) and scored by seatrack-eval."""
    from seatrack_ros.offline import evaluate, run

    settings = SceneSettings(height=128, width=160, frames=6, target_side=(20.0, 30.0))
    for modality, benchmark in (("thermal", "lasher"), ("depth", "depthtrack"), ("event", "visevent")):
        data = write_scene_dataset(tmp_path / modality, modality, [10_000], settings)
        results = tmp_path / f"{modality}_results"
        assert run.main([str(data), "--benchmark", benchmark, "--variant", "demo", "--device", "cpu",
                         "--out", str(results), "--no-progress"]) == 0
        assert evaluate.main(["--benchmark", benchmark, "--dataset", str(data), "--results", f"demo={results}",
                              "--out", str(tmp_path / f"{modality}_scores"), "--no-plots"]) == 0


def test_scene_crossing_frames_are_where_a_distractor_is_near_the_target():
    settings = SceneSettings(frames=60, distractors=(3, 3))
    source = SceneSource(3, "event", settings)
    scene = source.scene
    for i in range(60):  # the distance by hand, from the drawn rectangles
        tx, ty, tw, th = scene.box(i)
        nearest = min(math.hypot(x + w / 2 - tx - tw / 2, y + h / 2 - ty - th / 2)
                      for x, y, w, h in (scene._rect(d, i) for d in scene.distractors))
        assert source.crossing_frames[i] == (nearest / math.sqrt(tw * th) < 1.5)
    assert 0 < source.crossing_frames.sum() < 60  # this scene has both kinds of frames
    lonely = SceneSource(3, "event", SceneSettings(frames=60, distractors=(0, 0)))
    assert not lonely.crossing_frames.any() and math.isinf(lonely.scene.distractor_distance(0))
    parser = cli.build_parser()
    common = ["--scenes", "0-1", "--out", "unused", "--scene-frames", "4"]
    assert parser.parse_args([*common, "--scene-crossings", "0.5"]).scene_crossings == 0.5
    assert parser.parse_args(common).scene_crossings == 0.0
    for bad in ("1", "-0.1", "half"):
        with pytest.raises(SystemExit):
            parser.parse_args([*common, "--scene-crossings", bad])


def test_scene_distractors_sets_how_many_look_alikes_each_training_scene_has():
    parser = cli.build_parser()
    common = ["--scenes", "0-9", "--out", "unused", "--scene-frames", "4"]
    args = parser.parse_args([*common, "--scene-distractors", "2-3", "--scene-modalities", "event"])
    _, sources = cli._collect_sources(args, parser, lambda _text: None)
    counts = {len(source.scene.distractors) for source in sources}
    assert counts <= {2, 3} and len(sources) == 10
    # without the option: the scenes' own 0 to 3, so some of these ten have fewer than two
    args = parser.parse_args([*common, "--scene-modalities", "event"])
    _, sources = cli._collect_sources(args, parser, lambda _text: None)
    assert min(len(source.scene.distractors) for source in sources) < 2
    for bad in ("3-2", "-1", "0-9", "many"):
        with pytest.raises(SystemExit):
            parser.parse_args([*common, "--scene-distractors", bad])
