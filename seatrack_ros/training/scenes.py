"""Synthetic scenes (`seatrack_ros.streams.scenes`) as training sequences and as benchmark folders.

`SceneSource` is a training sequence (the `FrameSource` of `sampling`) that renders its frames on
demand through the node's own encoders, so the demo model sees in training what the node feeds it.
`write_scene_dataset` writes held-out scenes in the folder layouts `seatrack-run` and `seatrack-eval`
read (thermal: LasHeR, depth: DepthTrack, event: VisEvent), which is how the demo model's scores are
measured (docs/demo-model.md). ``seatrack-scenes`` is its command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..modalities import encode_aux, render_events
from ..streams.scenes import HELD_OUT_SEED_START, Scene, SceneSettings

CROSSING_REACH = 1.5  # target sides, see SceneSource.crossing_frames
LAYOUT_OF_MODALITY = {"thermal": "lasher", "depth": "depthtrack", "event": "visevent"}


def encode_scene_frame(scene: Scene, index: int, modality: str) -> tuple[np.ndarray, np.ndarray]:
    """(RGB, encoded auxiliary image), both (H, W, 3) uint8, of frame ``index``, as the node encodes them."""
    rgb = scene.rgb(index)
    s = scene.settings
    if modality == "thermal":
        aux = encode_aux("thermal", scene.thermal(index), "mono8")
    elif modality == "depth":
        aux = encode_aux("depth", scene.depth(index), "16UC1")
    elif modality == "event":
        stamp_ns = (index + 1) * scene.period_ns
        x, y, t, p = scene.events(index, stamp_ns, now_rgb=rgb)
        aux = render_events(x, y, t, p, s.height, s.width, stamp_ns - scene.period_ns, stamp_ns)
    else:
        raise ValueError(f"unknown modality {modality!r}")
    return rgb, aux


class SceneSource:
    """Scene ``seed`` seen by ``modality``: a training sequence (boxes, visibility, 6-channel frames)."""

    def __init__(self, seed: int, modality: str, settings: SceneSettings = SceneSettings(),
                 scene: Optional[Scene] = None) -> None:
        self.scene = scene if scene is not None else Scene(seed, settings)
        self.modality = modality
        self.name = f"scene{seed:05d}_{modality}"
        self.boxes = self.scene.boxes
        self.visible = np.ones(len(self.boxes), dtype=bool)
        # Frames where a distractor's centre is within CROSSING_REACH target sides of the target's: well
        # inside the search crop (half a side of 2 target sides at factor 4). `SamplingSettings.crossing_share`
        # of the pairs take their search frame here.
        self.crossing_frames = np.array([self.scene.distractor_distance(i) < CROSSING_REACH
                                         for i in range(len(self.boxes))], dtype=bool)

    def __len__(self) -> int:
        return len(self.boxes)

    def frame(self, index: int) -> np.ndarray:
        rgb, aux = encode_scene_frame(self.scene, index, self.modality)
        frame = np.empty(rgb.shape[:2] + (6,), np.uint8)
        frame[..., :3] = rgb
        frame[..., 3:] = aux
        return frame


def scene_sources(seeds, modalities=("thermal", "depth", "event"),
                  settings: SceneSettings = SceneSettings()) -> list[SceneSource]:
    """One source per (seed, modality): every scene is seen by every sensor."""
    sources = []
    for seed in seeds:
        scene = Scene(seed, settings)  # one scene object (and background memory) for all its sensors
        sources.extend(SceneSource(seed, modality, settings, scene) for modality in modalities)
    return sources


def _lines(rows, sep: str = ",") -> str:
    return "".join(sep.join(f"{v:.2f}" for v in row) + "\n" for row in rows)


def write_scene_dataset(root: Path, modality: str, seeds, settings: SceneSettings = SceneSettings()) -> Path:
    """Scenes ``seeds`` seen by ``modality`` as a benchmark folder under ``root`` (layout
    `LAYOUT_OF_MODALITY`; lossless PNG/BMP frames where the layout allows, JPEG quality 98 for LasHeR);
    returns ``root``. Sequence names are ``scene<seed>``."""
    root = Path(root)
    if modality not in LAYOUT_OF_MODALITY:
        raise ValueError(f"unknown modality {modality!r}; expected one of {tuple(LAYOUT_OF_MODALITY)}")
    for seed in seeds:
        scene = Scene(seed, settings)
        seq = root / f"scene{seed:05d}"
        for i in range(settings.frames):
            rgb = scene.rgb(i)
            bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            if modality == "thermal":
                _write(seq / "visible" / f"v{i + 1:06d}.jpg", bgr)
                _write(seq / "infrared" / f"i{i + 1:06d}.jpg", scene.thermal(i))
            elif modality == "depth":
                _write(seq / "color" / f"{i + 1:08d}.jpg", bgr)
                _write(seq / "depth" / f"{i + 1:08d}.png", scene.depth(i))
            else:
                _, events = encode_scene_frame(scene, i, "event")
                _write(seq / "vis_imgs" / f"frame{i:04d}.bmp", bgr)
                _write(seq / "event_imgs" / f"frame{i:04d}.bmp", cv2.cvtColor(events, cv2.COLOR_RGB2BGR))
        boxes = scene.boxes
        if modality == "thermal":
            (seq / "visible.txt").write_text(_lines(boxes))
            (seq / "infrared.txt").write_text(_lines(boxes))
        elif modality == "depth":
            (seq / "groundtruth.txt").write_text(_lines(boxes))
        else:
            (seq / "groundtruth.txt").write_text(_lines(boxes))
            (seq / "absent_label.txt").write_text("1\n" * len(boxes))
    return root


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 98] if path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), image, params):
        raise OSError(f"could not write {path}")


def _seed_range(text: str) -> list[int]:
    try:
        if "-" in text:
            first, last = (int(v) for v in text.split("-", 1))
            return list(range(first, last + 1))
        return [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 10000-10009 or 10000,10005, got {text!r}") from None


def main(argv: Optional[list] = None) -> int:
    p = argparse.ArgumentParser(
        prog="seatrack-scenes",
        description="Write synthetic scenes (the demo model's data) as a benchmark folder seatrack-run and "
                    "seatrack-eval read: thermal as LasHeR, depth as DepthTrack, event as VisEvent.")
    p.add_argument("out", type=Path, help="dataset root to write")
    p.add_argument("--modality", required=True, choices=tuple(LAYOUT_OF_MODALITY))
    p.add_argument("--seeds", type=_seed_range, default=_seed_range(f"{HELD_OUT_SEED_START}-{HELD_OUT_SEED_START + 9}"),
                   help=f"scene seeds, e.g. {HELD_OUT_SEED_START}-{HELD_OUT_SEED_START + 9} (the default: held out)")
    p.add_argument("--frames", type=int, default=SceneSettings.frames, help="frames per scene (120)")
    args = p.parse_args(argv)
    if args.frames < 2:
        p.error("--frames must be at least 2")
    write_scene_dataset(args.out, args.modality, args.seeds, SceneSettings(frames=args.frames))
    print(f"wrote {len(args.seeds)} {args.modality} scenes ({LAYOUT_OF_MODALITY[args.modality]} layout) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
