"""Time one fine-tuning iteration (forward, loss, backward, clip, AdamW) per precision.

``python -m seatrack_ros.training.bench [--batch 2] [--steps 3] [--device cpu]`` prints seconds per
iteration for float32 and the mixed-precision mode ``--precision auto`` would pick, and their ratio,
measured in the same run on the real architecture with the deterministic test weights.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch


def machine_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_steps(batch: int, steps: int, device: torch.device, autocast_dtype) -> list[float]:
    from ..model import build_seatrack, load_checkpoint, make_test_state_dict
    from .trainer import freeze_for_peft, make_optimizer, set_train_mode, train_step

    model = build_seatrack()
    load_checkpoint(model, make_test_state_dict(model), lora_merged=False, merge=False)
    model.to(device)
    params = freeze_for_peft(model)
    set_train_mode(model)
    optimizer = make_optimizer(params, 4e-4)
    gen = torch.Generator().manual_seed(0)
    template = torch.randn(batch, 6, 128, 128, generator=gen).to(device)
    search = torch.randn(batch, 6, 256, 256, generator=gen).to(device)
    boxes = torch.tensor([[0.4, 0.4, 0.2, 0.2]] * batch, device=device)
    scaler = torch.amp.GradScaler("cuda") if autocast_dtype == torch.float16 else None
    seconds = []
    for i in range(steps + 1):  # the first iteration warms up kernels and allocations
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        train_step(model, optimizer, params, template, search, boxes, autocast_dtype=autocast_dtype, scaler=scaler)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            seconds.append(time.perf_counter() - t0)
    return seconds


def main(argv=None) -> int:
    from .trainer import resolve_precision

    p = argparse.ArgumentParser(prog="python -m seatrack_ros.training.bench", description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else machine_name()
    print(f"machine: {name}; torch {torch.__version__}, {torch.get_num_threads()} threads; batch {args.batch}")
    mixed = resolve_precision("auto", device)
    modes = [("float32", None)] + ([(str(mixed).replace("torch.", ""), mixed)] if mixed is not None else [])
    if mixed is None and device.type == "cpu":
        modes.append(("bfloat16 (no native support)", torch.bfloat16))
    results = {}
    for label, dtype in modes:
        seconds = time_steps(args.batch, args.steps, device, dtype)
        results[label] = float(np.median(seconds))
        print(f"{label:>10}: {results[label]:.3f} s per iteration (median of {len(seconds)}: "
              + ", ".join(f"{s:.3f}" for s in seconds) + ")")
    base = results["float32"]
    for label, value in results.items():
        if label != "float32":
            print(f"{label} / float32 time ratio: {value / base:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
