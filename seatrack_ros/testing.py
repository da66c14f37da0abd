"""Helpers shared by the test suite and the tools that check the project (like ``numpy.testing``).

- `find_golden`: the reference fixtures of the authors' code (``shared/golden``);
- `tiny_model`: the registry's ``tiny`` variant with seeded weights (fast, boxes mean nothing);
- `synthetic_pairs`: (rgb, encoded aux) frames of the synthetic moving target, the one sequence
  builder behind the demo (`seatrack_ros.streams.synthetic`), the benchmark and the tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def find_golden(explicit: str | os.PathLike | None = None) -> Path:
    """The reference fixtures: ``explicit``, else $SEATRACK_GOLDEN_DIR, else shared/golden in or beside
    the checkout. Raises FileNotFoundError when none holds model_io.npz."""
    here = Path(__file__).resolve().parents[1]
    candidates = [
        explicit,
        os.environ.get("SEATRACK_GOLDEN_DIR"),
        here / "shared" / "golden",
        here.parent / "shared" / "golden",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "model_io.npz").is_file():
            return Path(candidate)
    raise FileNotFoundError(
        "golden fixtures not found (looked at --golden, $SEATRACK_GOLDEN_DIR, ./shared/golden, ../shared/golden)"
    )


def tiny_model(seed: int = 0):
    """The ``tiny`` registry variant (2 narrow blocks) with seeded random weights, LoRA unmerged."""
    from seatrack_ros.model import build_tiny_model

    return build_tiny_model(seed)


def synthetic_pairs(
    count: int, height: int = 512, width: int = 640, modality: str = "thermal", seed: int = 0
) -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple[float, float, float, float]]:
    """``count`` (rgb, aux) HxWx3 uint8 pairs, aux encoded for ``modality`` as the tracker takes it,
    and the first frame's ground-truth (x, y, w, h) box."""
    from seatrack_ros.streams.aux import prepare_aux
    from seatrack_ros.streams.synthetic import make_sequence

    frames = make_sequence(count, modality, height, width, start_ns=1_000_000_000, seed=seed)
    pairs = []
    for frame in frames:
        data = frame.events if modality == "event" else frame.aux
        encoding = None if modality == "event" else frame.aux_encoding
        pairs.append(
            (frame.rgb, prepare_aux(modality, data, encoding, (height, width), sensor_hw=(height, width)))
        )
    return pairs, frames[0].box
