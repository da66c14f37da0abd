"""``seatrack-train``: fine-tune SEATrack's LoRA / HMoE / guidance parameters on benchmark folders or
rosbag2 recordings.

Examples::

    # the released RGB-T model on one's own recording (boxes from an earlier seatrack-run, corrected)
    seatrack-train recording.mcap --boxes boxes.csv --rgb-topic /camera/color/image_raw \\
        --aux-topic /thermal/image_raw --modality thermal \\
        --checkpoint SEATrack_ep0060.pth.tar --lora-merged true --out runs/my_thermal \\
        --epochs 5 --samples-per-epoch 2000 --batch-size 8 --device cuda

    # the authors' RGB-T recipe from OSTrack weights on LasHeR
    seatrack-train /data/LasHeR/trainingset --benchmark lasher --ostrack OSTrack_ep0300.pth.tar \\
        --out runs/lasher --device cuda

See docs/training.md.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Optional

from ..cli import add_lora_merged_option, resolve_lora_merged
from ..errors import CheckpointError, InputError

MODALITIES = ("thermal", "depth", "event")


def _floats(text: str, count: int, what: str) -> tuple:
    try:
        values = tuple(float(v) for v in text.replace(" ", ",").split(",") if v)
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"{what} must be {count} comma-separated numbers, got {text!r}")
    return values


def _seed_range(text: str) -> list:
    from .scenes import _seed_range as parse

    return parse(text)


MAX_SCENE_DISTRACTORS = 8  # each one is drawn every frame; more would mostly cost rendering time


def _distractor_range(text: str) -> tuple[int, int]:
    """``LO-HI`` (or one number) -> (lo, hi) distractors per synthetic scene, 0 <= lo <= hi <= 8."""
    try:
        lo, _, hi = text.partition("-")
        bounds = (int(lo), int(hi or lo))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected distractors per scene like 0-3 or 2, got {text!r}") from None
    if not 0 <= bounds[0] <= bounds[1] <= MAX_SCENE_DISTRACTORS:
        raise argparse.ArgumentTypeError(
            f"expected 0 <= LO <= HI <= {MAX_SCENE_DISTRACTORS} distractors per scene, got {text!r}")
    return bounds


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seatrack-train",
        description="Fine-tune SEATrack (only the 0.64M LoRA, HMoE and guidance parameters; everything else "
                    "frozen) following the authors' recipe, on benchmark folders (LasHeR, RGBT234, GTOT, "
                    "VisEvent, DepthTrack layouts) and/or rosbag2 recordings with a box file.")
    p.add_argument("inputs", nargs="*", type=Path,
                   help="dataset roots, sequence folders, rosbag2 folders or .mcap/.db3 files (one modality)")
    p.add_argument("--scenes", type=_seed_range,
                   help="also train on synthetic scenes with these seeds (e.g. 0-999), each seen by every "
                        "modality of --scene-modalities (seatrack_ros.streams.scenes; the demo model's data)")
    p.add_argument("--scene-modalities", default="thermal,depth,event",
                   help="modalities the synthetic scenes are rendered for (thermal,depth,event)")
    p.add_argument("--scene-frames", type=_positive_int, default=120, help="frames per synthetic scene (120)")
    p.add_argument("--scene-distractors", type=_distractor_range, default=None, metavar="LO-HI",
                   help="distractors per synthetic scene, drawn uniformly from LO to HI (default 0-3, the "
                        "scenes' own; the demo model's last stage used 2-3: more crossings of look-alikes)")
    p.add_argument("--scene-crossings", type=_probability, default=0.0, metavar="SHARE",
                   help="share of the pairs (in [0, 1)) whose search frame is one where a distractor is near "
                        "the target, from sources that mark such frames (synthetic scenes); default 0, the "
                        "authors' sampling")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, history.csv, loss_curve.png")
    w = p.add_argument_group("start weights (one of them; a run folder with a checkpoint resumes instead)")
    w.add_argument("--checkpoint", help="a SEATrack checkpoint (the authors' release or a seatrack-train one)")
    add_lora_merged_option(w, " (required with --checkpoint, except for seatrack-train's own files, which "
                              "record it)")
    w.add_argument("--ostrack", help="OSTrack-pretrained weights (OSTrack_ep0300.pth.tar): the SEATrack parameters "
                                     "start from the authors' initialisation")
    w.add_argument("--test-weights", action="store_true",
                   help="start from the deterministic test weights (for checking the pipeline only)")
    w.add_argument("--from-scratch", action="store_true",
                   help="start from random weights (with --trainable all: how the demo model was trained)")
    w.add_argument("--no-resume", action="store_true",
                   help="refuse to continue an existing run in --out (default: resume it)")
    d = p.add_argument_group("benchmark folders")
    d.add_argument("--benchmark", default="auto",
                   choices=("auto", "lasher", "rgbt234", "gtot", "visevent", "depthtrack"))
    d.add_argument("--sequences", nargs="+", help="only these sequences (names under every dataset root)")
    b = p.add_argument_group("rosbag2 recordings")
    b.add_argument("--boxes", type=Path, action="append",
                   help="box file per bag, in the order of the bags: a seatrack-run CSV or stamp,x,y,w,h rows")
    b.add_argument("--rgb-topic", help="colour image topic")
    b.add_argument("--aux-topic", help="thermal / depth / event-frame image topic")
    b.add_argument("--modality", choices=MODALITIES, help="what --aux-topic carries")
    b.add_argument("--slop", type=float, default=0.02, help="largest RGB/X stamp difference in seconds (0.02)")
    b.add_argument("--stamp-source", choices=("header", "bag"), default="header")
    b.add_argument("--box-tolerance", type=float, default=0.005,
                   help="largest difference between a pair's RGB stamp and its box's stamp, seconds (0.005)")
    b.add_argument("--cache-dir", type=Path, help="where decoded bag frames are cached (default OUT/frame_cache)")
    p.add_argument("--mono16-range", type=lambda s: _floats(s, 2, "--mono16-range"),
                   help="lo,hi counts mapped to 0..255 for 16-bit thermal images (default per-frame min-max)")
    r = p.add_argument_group("recipe (defaults: the authors' values for the modality, see docs/training.md)")
    r.add_argument("--variant", choices=("rgbt", "rgbd", "rgbe", "demo"),
                   help="architecture and recipe (default from the modality; demo: the small demo model)")
    r.add_argument("--trainable", choices=("peft", "all"),
                   help="peft: the authors' 0.64M LoRA/HMoE/guidance parameters (default); all: every "
                        "parameter (the demo variant's default)")
    r.add_argument("--epochs", type=_positive_int)
    r.add_argument("--samples-per-epoch", type=_positive_int, help="training pairs per epoch (60000)")
    r.add_argument("--batch-size", type=_positive_int, default=32, help="pairs per iteration (32)")
    r.add_argument("--lr", type=_positive_float)
    r.add_argument("--lr-drop-epoch", type=_positive_int, help="StepLR step in epochs (48)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--max-gap", type=_positive_int, default=200, help="template-search frame gap bound (200)")
    r.add_argument("--min-frames", type=_positive_int, default=20, help="shortest usable sequence (20)")
    r.add_argument("--min-visible", type=_positive_int, default=5, help="fewest visible targets per sequence (5)")
    r.add_argument("--dropout", type=_probability,
                   help="LoRA / HMoE dropout probability (0.1; demo 0; 0 disables)")
    r.add_argument("--drop-path", type=_probability,
                   help="stochastic depth rate of the last block (0.1; demo 0; 0 disables)")
    h = p.add_argument_group("hardware")
    h.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ... (cpu)")
    h.add_argument("--precision", choices=("auto", "float32", "bfloat16", "float16"), default="auto",
                   help="auto: CUDA mixed precision; bfloat16 on a CPU that has it natively, else float32")
    h.add_argument("--workers", type=_non_negative_int, default=0, help="data loader processes (0)")
    h.add_argument("--threads", type=_positive_int, help="torch CPU threads")
    h.add_argument("--save-every", type=_non_negative_int, default=0,
                   help="also checkpoint every N iterations within an epoch (0: at epoch ends only)")
    h.add_argument("--no-progress", action="store_true")
    return p


def _collect_sources(args, parser, log) -> tuple[str, list]:
    from .data import BagSpec, extract_bag_frames, open_dataset_sources
    from ..offline.bag import is_bag_path

    if not args.inputs and not args.scenes:
        parser.error("nothing to train on: give dataset folders, bags or --scenes")
    bags = [p for p in args.inputs if is_bag_path(p)]
    folders = [p for p in args.inputs if not is_bag_path(p)]
    modalities, sources = set(), []
    if bags:
        missing = [o for o, v in (("--rgb-topic", args.rgb_topic), ("--aux-topic", args.aux_topic),
                                  ("--modality", args.modality), ("--boxes", args.boxes)) if v is None]
        if missing:
            parser.error(f"a rosbag2 input needs {', '.join(missing)}")
        if len(args.boxes) != len(bags):
            parser.error(f"{len(bags)} bag(s) but {len(args.boxes)} --boxes file(s): give one per bag, in order")
        cache_root = args.cache_dir or (args.out / "frame_cache")
        for i, (bag, boxes) in enumerate(zip(bags, args.boxes)):
            spec = BagSpec(bag, boxes, args.rgb_topic, args.aux_topic, args.modality, args.slop,
                           args.stamp_source, args.mono16_range, args.box_tolerance)
            sources.append(extract_bag_frames(spec, cache_root / f"{i:02d}_{Path(bag).stem}", log))
        modalities.add(args.modality)
    for folder in folders:
        modality, found = open_dataset_sources(folder, args.benchmark, args.sequences, args.mono16_range)
        log(f"{folder}: {len(found)} sequences ({modality})")
        modalities.add(modality)
        sources.extend(found)
    if args.scenes:
        from ..streams.scenes import SceneSettings
        from .scenes import scene_sources

        scene_modalities = tuple(m for m in args.scene_modalities.split(",") if m)
        unknown = [m for m in scene_modalities if m not in MODALITIES]
        if unknown or not scene_modalities:
            parser.error(f"--scene-modalities: expected some of {', '.join(MODALITIES)}, got {args.scene_modalities!r}")
        options = {"frames": args.scene_frames}
        if args.scene_distractors is not None:  # else the scenes' own default
            options["distractors"] = args.scene_distractors
        found = scene_sources(args.scenes, scene_modalities, SceneSettings(**options))
        log(f"synthetic scenes: {len(args.scenes)} seeds x {len(scene_modalities)} modalities = {len(found)} sequences")
        sources.extend(found)
        modalities.update(scene_modalities)
    if len(modalities) != 1 and not (args.variant == "demo"):
        parser.error(f"all inputs must carry one modality; found {', '.join(sorted(modalities))}")
    return ("any" if len(modalities) > 1 else modalities.pop()), sources


def main(argv: Optional[list] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    log = print
    starts = [o for o, v in (("--checkpoint", args.checkpoint), ("--ostrack", args.ostrack),
                             ("--test-weights", args.test_weights), ("--from-scratch", args.from_scratch)) if v]
    if len(starts) > 1:
        parser.error(f"give one start: {' or '.join(starts)}")
    resolve_lora_merged(args, "seatrack-train")
    try:
        import torch

        from ..model import build_seatrack, load_checkpoint, load_ostrack_pretrained, make_test_state_dict
        from ..model.build import variant_spec
        from ..model.checkpoint import read_checkpoint
        from .data import MODALITY_VARIANT, usable_sources
        from .sampling import SamplingSettings
        from .trainer import LATEST, TrainConfig, Trainer, init_from_scratch

        if args.threads:
            torch.set_num_threads(args.threads)
        resumable = (args.out / LATEST).is_file()
        if resumable and args.no_resume:
            print(f"seatrack-train: error: {args.out} already holds a run ({LATEST}); choose another --out",
                  file=sys.stderr)
            return 1
        if not starts and not resumable:
            parser.error("no start weights: give --checkpoint (with --lora-merged), --ostrack, --test-weights "
                         "or --from-scratch")
        if args.checkpoint and not resumable:  # read first: its LoRA convention may be recorded in it
            start_state, recorded = read_checkpoint(args.checkpoint)
            lora_merged = recorded if recorded is not None else args.lora_merged
            if lora_merged is None:
                parser.error("--lora-merged true|false is required with --checkpoint (nothing in the "
                             "authors' files records it)")
            if args.lora_merged is not None and recorded is not None and recorded != args.lora_merged:
                log(f"note: {args.checkpoint} records lora_merged={str(recorded).lower()}; used instead of "
                    f"--lora-merged {str(args.lora_merged).lower()}")
        modality, sources = _collect_sources(args, parser, log)
        sources = usable_sources(sources, args.min_frames, args.min_visible, log)
        variant = args.variant or MODALITY_VARIANT[modality]
        spec = variant_spec(variant)
        config = TrainConfig.for_variant(
            variant, epochs=args.epochs, samples_per_epoch=args.samples_per_epoch, batch_size=args.batch_size,
            lr=args.lr, lr_drop_epoch=args.lr_drop_epoch, seed=args.seed, device=args.device,
            precision=args.precision, workers=args.workers, save_every=args.save_every,
            dropout=args.dropout, drop_path=args.drop_path, trainable=args.trainable,
            sampling=SamplingSettings(max_gap=args.max_gap, template_size=spec.config.template_size,
                                      search_size=spec.config.search_size, crossing_share=args.scene_crossings))
        model = build_seatrack(variant)
        if not resumable:
            if args.checkpoint:
                load_checkpoint(model, start_state, lora_merged=lora_merged, merge=False)
                log(f"start: {args.checkpoint} (lora_merged={str(lora_merged).lower()})")
            elif args.ostrack:
                load_ostrack_pretrained(model, args.ostrack, seed=args.seed)
                log(f"start: OSTrack weights {args.ostrack}; LoRA/HMoE/guidance initialised as the authors do")
            elif args.from_scratch:
                init_from_scratch(model, seed=args.seed)
                log("start: random weights (from scratch)")
            else:
                load_checkpoint(model, make_test_state_dict(model), lora_merged=False, merge=False)
                log("start: deterministic TEST weights (for checking the pipeline; the result tracks nothing)")
        trainer = Trainer(model, sources, config, args.out, log=log, progress=not args.no_progress)
        if resumable:
            trainer.resume()
        trainer.run()
        log(f"done: {args.out / f'SEATrack_ep{trainer.epoch:04d}.pth.tar'} (it records lora_merged=false; "
            f"node and seatrack-run read that); loss curve {args.out / 'loss_curve.png'}")
    except KeyboardInterrupt:
        return 130
    except (InputError, CheckpointError, ValueError, FloatingPointError) as exc:
        print(f"seatrack-train: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
