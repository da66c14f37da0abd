"""Export a seatrack-train checkpoint as a small weights-only file (how the demo model was shipped).

    python -m seatrack_ros.training.export runs/demo/SEATrack_ep0010.pth.tar seatrack_ros/weights/seatrack_demo.pth

The file holds ``net`` (the state dict, float16 by default: half the size, and the scores in
docs/demo-model.md are measured with exactly these rounded weights), ``lora_merged`` (False: LoRA
stays unmerged, as trained), the variant and the run's settings. No optimizer state: it cannot resume.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional

import torch

from ..model.checkpoint import read_checkpoint_file

EXPORT_FORMAT = "seatrack_ros.weights/1"


def export_weights(checkpoint: Path, out: Path, dtype: torch.dtype = torch.float16) -> dict:
    """Write ``checkpoint``'s weights to ``out`` (see the module docstring); returns what was written."""
    state = read_checkpoint_file(checkpoint)
    if not isinstance(state, dict) or not isinstance(state.get("net"), dict):
        raise ValueError(f"{checkpoint} is not a seatrack-train checkpoint (no 'net' entry)")
    net = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in state["net"].items()}
    exported = {
        "net": net,
        "lora_merged": bool(state.get("lora_merged", False)),
        "format": EXPORT_FORMAT,
        "variant": state.get("variant"),
        "epoch": state.get("epoch"),
        "settings": state.get("settings"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    torch.save(exported, tmp)
    os.replace(tmp, out)
    return exported


def main(argv: Optional[list] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m seatrack_ros.training.export", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path, help="a seatrack-train checkpoint (SEATrack_epNNNN.pth.tar)")
    p.add_argument("out", type=Path, help="weights file to write")
    p.add_argument("--dtype", choices=("float16", "float32"), default="float16")
    args = p.parse_args(argv)
    exported = export_weights(args.checkpoint, args.out, getattr(torch, args.dtype))
    size = args.out.stat().st_size
    print(f"wrote {args.out}: {len(exported['net'])} tensors, {args.dtype}, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
