"""`seatrack-train` at the real architecture on tiny data: every benchmark layout and a rosbag2
recording. Each run takes one step (batch 1; two for the bag), must lower the loss on a fixed un-augmented pair, and
must write a checkpoint that `load_checkpoint(..., lora_merged=False)` loads and `SEATracker` tracks
with. Slow (a few real training steps each)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import training_helpers as th
from seatrack_ros.model import build_seatrack, load_checkpoint, make_test_state_dict, read_state_dict
from seatrack_ros.modalities import encode_aux
from seatrack_ros.tracker import SEATracker
from seatrack_ros.training import cli
from seatrack_ros.training.data import CachedFrameSource, open_dataset_sources, usable_sources
from seatrack_ros.training.trainer import evaluate_loss, fixed_batch, freeze_for_peft, set_train_mode

pytestmark = pytest.mark.slow

COMMON = ["--epochs", "1", "--batch-size", "1", "--min-frames", "5", "--precision", "float32", "--threads", "2",
          "--no-progress"]


def _loss_of(state_or_model, batch) -> float:
    """Total loss on ``batch`` in training arithmetic (LoRA unmerged, head BatchNorm in eval)."""
    if isinstance(state_or_model, torch.nn.Module):
        model = state_or_model
    else:
        model = load_checkpoint(build_seatrack(), state_or_model, lora_merged=False, merge=False)
    freeze_for_peft(model)
    set_train_mode(model)
    return evaluate_loss(model, batch)["total"]


def _tracks_one_frame(checkpoint: Path, modality: str) -> None:
    model = load_checkpoint(build_seatrack(), checkpoint, lora_merged=False)
    tracker = SEATracker(model)
    frames = [th.render(i) for i in range(2)]
    aux_of = {"thermal": lambda f: encode_aux("thermal", f["thermal"], "mono8"),
              "depth": lambda f: encode_aux("depth", f["depth"], "16UC1"),
              "event": lambda f: encode_aux("event", f["event"], "bgr8")}[modality]
    tracker.initialize(frames[0]["rgb"], aux_of(frames[0]), th.target_boxes(1)[0])
    result = tracker.track(frames[1]["rgb"], aux_of(frames[1]))
    x, y, w, h = result.box
    assert all(np.isfinite(result.box)) and np.isfinite(result.score)
    assert 0 <= x < th.W and 0 <= y < th.H and w > 0 and h > 0


def _check_run(out: Path, batch, modality: str) -> None:
    ckpt = out / "SEATrack_ep0001.pth.tar"
    assert ckpt.is_file() and (out / "checkpoint_latest.pth.tar").is_file()
    assert (out / "loss_curve.png").stat().st_size > 1000 and (out / "history.csv").is_file()
    before = _loss_of(make_test_state_dict(), batch)
    after = _loss_of(read_state_dict(ckpt), batch)
    assert after < before, (before, after)
    _tracks_one_frame(ckpt, modality)


@pytest.mark.parametrize("layout", ["lasher", "rgbt234", "gtot", "visevent", "depthtrack"])
def test_finetune_on_each_layout_lowers_the_loss_and_tracks(tmp_path, layout):
    root = th.write_layout(tmp_path / layout, layout)
    modality, sources = open_dataset_sources(root)
    batch = fixed_batch(usable_sources(sources, 5, 5), 1)
    out = tmp_path / "run"
    assert cli.main([str(root), "--out", str(out), "--test-weights", "--samples-per-epoch", "1", *COMMON]) == 0
    _check_run(out, batch, modality)


def test_finetune_on_a_bag_from_ostrack_weights(tmp_path):
    """A recording with a seatrack-run result file as its boxes; the start is an OSTrack-style file
    (no LoRA / HMoE / guidance keys), so the SEATrack parameters start from the authors' init."""
    bag = tmp_path / "rec"
    stamps, boxes = th.write_bag(bag)
    box_file = tmp_path / "boxes.csv"
    th.write_seatrack_run_csv(box_file, stamps, boxes)
    ostrack = {k: v for k, v in make_test_state_dict().items()
               if not any(s in k for s in ("lora", "moe", "scaling"))}
    ostrack_file = tmp_path / "OSTrack_ep0300.pth.tar"
    torch.save({"net": ostrack}, ostrack_file)
    out = tmp_path / "run"
    args = [str(bag), "--boxes", str(box_file), "--rgb-topic", "/camera/color", "--aux-topic", "/thermal",
            "--modality", "thermal", "--ostrack", str(ostrack_file), "--out", str(out), "--samples-per-epoch", "2", *COMMON]
    assert cli.main(args) == 0
    source = CachedFrameSource(next((out / "frame_cache").iterdir()), "bag", "thermal")
    assert len(source) == len(stamps) and source.visible.all()
    np.testing.assert_allclose(source.boxes, np.asarray(boxes), atol=1e-4)
    batch = fixed_batch([source], 1)

    from seatrack_ros.model import load_ostrack_pretrained

    start = load_ostrack_pretrained(build_seatrack(), ostrack_file, seed=0)
    before = _loss_of(start, batch)
    after = _loss_of(read_state_dict(out / "SEATrack_ep0001.pth.tar"), batch)
    assert after < before, (before, after)
    _tracks_one_frame(out / "SEATrack_ep0001.pth.tar", "thermal")
