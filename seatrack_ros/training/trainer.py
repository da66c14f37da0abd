"""Parameter-efficient fine-tuning of SEATrack: what trains, the optimizer, the schedule, the loop,
checkpoints, resuming and progress.

The recipe (docs/training.md): only parameters whose name contains ``moe``, ``scaling`` or ``lora``
train (636,324 values in the released architecture); everything else is frozen and the centre head's
BatchNorms stay in eval mode. LoRA runs unmerged (base weight plus the update, rebuilt every forward),
so gradients reach ``lora_A`` and ``lora_B``. Loss ``2 GIoU + 5 L1 + focal``; one AdamW group (weight
decay 1e-4 on every trainable tensor); the total gradient norm is clipped to 0.1; StepLR (x0.1) after
``lr_drop_epoch`` epochs, stepped once per epoch.

Checkpoints are ``torch.save``d dicts whose ``'net'`` is the model's state dict with LoRA **unmerged**
(``qkv.weight`` is the frozen base weight; ``'lora_merged': False`` records it). The node and
`seatrack-run` load them with ``lora_merged=False`` (``--lora unmerged``). The other entries
(optimizer, scheduler, random state, loss history) let an interrupted run resume.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError, InputError
from ..model.lora import LoRAQKV
from .losses import LossTerms, LossWeights, tracking_loss
from .sampling import SamplingSettings, make_pair
from .stochastic import add_stochastic_layers

TRAINABLE_KEYWORDS = ("moe", "scaling", "lora")
CHECKPOINT_FORMAT = "seatrack_ros.training/1"
LORA_CONVENTION = (
    "LoRA unmerged: qkv.weight is the frozen base weight and lora_A/lora_B hold the update; load with "
    "lora_merged=False (seatrack-run --lora unmerged, node parameter lora_merged:=false)"
)
LATEST = "checkpoint_latest.pth.tar"

# The authors' per-task settings (experiments/seatrack/{rgbt,rgbd,rgbe}.yaml).
RECIPES = {
    "rgbt": {"lr": 4e-4, "epochs": 60, "lr_drop_epoch": 48},
    "rgbd": {"lr": 4e-4, "epochs": 25, "lr_drop_epoch": 48},
    "rgbe": {"lr": 6e-5, "epochs": 45, "lr_drop_epoch": 48},
    # Not the authors': the demo model, trained from scratch with every parameter (docs/demo-model.md).
    "demo": {"lr": 5e-4, "epochs": 10, "lr_drop_epoch": 8, "samples_per_epoch": 6400, "trainable": "all",
             "dropout": 0.0, "drop_path": 0.0},
}
TRAINABLE_SETS = ("peft", "all")  # peft: the authors' rule (TRAINABLE_KEYWORDS); all: every parameter


def is_trainable_name(name: str, keywords: tuple[str, ...] = TRAINABLE_KEYWORDS) -> bool:
    """The authors' PEFT rule: a parameter trains when its name contains one of ``keywords``."""
    return any(k in name for k in keywords)


def trainable_parameter_names(model: nn.Module, keywords: tuple[str, ...] = TRAINABLE_KEYWORDS) -> list[str]:
    """Names of the parameters the rule trains, in ``named_parameters()`` order (the optimizer's)."""
    return [n for n, _ in model.named_parameters() if is_trainable_name(n, keywords)]


def freeze_for_peft(model: nn.Module, keywords: tuple[str, ...] = TRAINABLE_KEYWORDS) -> list[nn.Parameter]:
    """Set ``requires_grad`` by the rule and return the trainable parameters (named_parameters order)."""
    trainable = []
    for name, param in model.named_parameters():
        wanted = is_trainable_name(name, keywords)
        param.requires_grad_(wanted)
        if wanted:
            trainable.append(param)
    return trainable


def freeze_for(model: nn.Module, trainable: str) -> list[nn.Parameter]:
    """``trainable`` "peft": `freeze_for_peft`; "all": every parameter trains (training from scratch)."""
    if trainable == "peft":
        return freeze_for_peft(model)
    if trainable != "all":
        raise ValueError(f"trainable must be one of {TRAINABLE_SETS}, got {trainable!r}")
    params = list(model.parameters())
    for param in params:
        param.requires_grad_(True)
    return params


def init_from_scratch(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights for training from scratch: ViT-style truncated normal (std 0.02) linear weights and
    position embeddings, zero biases, unit LayerNorms, He-uniform convolutions, then LoRA, HMoE
    and guidance initialised as for fine-tuning (`init_peft_parameters`)."""
    from ..model.checkpoint import init_peft_parameters

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, nn.Linear):
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen).clamp_(-2, 2) * 0.02)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()
            elif isinstance(module, nn.Conv2d):  # He uniform: the head's convolutions feed ReLUs
                bound = math.sqrt(6.0 / module.weight[0].numel())
                module.weight.copy_((torch.rand(module.weight.shape, generator=gen) * 2 - 1) * bound)
                if module.bias is not None:
                    module.bias.zero_()
        for name, param in model.named_parameters():
            if "pos_embed" in name:
                param.copy_(torch.randn(param.shape, generator=gen).clamp_(-2, 2) * 0.02)
    init_peft_parameters(model, seed)
    return model


def set_train_mode(model: nn.Module) -> nn.Module:
    """``train()`` with the head's BatchNorms back in eval mode (the authors' FIX_BN): running
    statistics are used and never updated. LoRA must be unmerged, or ``lora_A``/``lora_B`` would get
    no gradient and the update would be counted twice."""
    merged = [m for m in model.modules() if isinstance(m, LoRAQKV) and m.merged]
    if merged:
        raise ValueError("training needs LoRA unmerged: load the model with load_checkpoint(..., merge=False)")
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    return model


def make_optimizer(params: list[nn.Parameter], lr: float, weight_decay: float = 1e-4) -> torch.optim.Optimizer:
    """One AdamW group over every trainable tensor (PyTorch's default betas and eps)."""
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, lr_drop_epoch: int, gamma: float = 0.1):
    """StepLR stepped once per epoch: lr x ``gamma`` every ``lr_drop_epoch`` epochs."""
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=lr_drop_epoch, gamma=gamma)


# ----------------------------------------------------------------------------------------------------
# Precision.


def cpu_has_native_bf16() -> bool:
    """True when the CPU advertises bfloat16 arithmetic (AVX512-BF16 or AMX-BF16)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve_precision(precision: str, device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype for ``precision`` ("auto", "float32", "bfloat16", "float16"); None = float32.

    auto: CUDA -> bfloat16 where supported, else float16 (with a gradient scaler); CPU -> bfloat16 when
    the CPU has native bfloat16, else float32.
    """
    if precision == "float32":
        return None
    if precision == "bfloat16":
        return torch.bfloat16
    if precision == "float16":
        if device.type != "cuda":
            raise ValueError("float16 mixed precision needs a CUDA device")
        return torch.float16
    if precision != "auto":
        raise ValueError(f"precision must be auto, float32, bfloat16 or float16, got {precision!r}")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else None


def forward_network(model: nn.Module, template: torch.Tensor, search: torch.Tensor,
                    autocast_dtype: Optional[torch.dtype] = None) -> dict[str, torch.Tensor]:
    """The network's outputs; under mixed precision only the backbone runs in ``autocast_dtype``.

    The head runs in float32: its sigmoids are clamped to 1 - 1e-4, which rounds to 1 in bfloat16 /
    float16, and log(1 - 1) would make the focal loss infinite.
    """
    if autocast_dtype is None:
        return model(template, search)
    with torch.autocast(device_type=template.device.type, dtype=autocast_dtype):
        fused = model.backbone(template, search)
    with torch.autocast(device_type=template.device.type, enabled=False):
        return model.forward_head(fused.float())


# ----------------------------------------------------------------------------------------------------
# One iteration.


@dataclass
class StepResult:
    terms: LossTerms
    grad_norm: float  # total L2 norm of the raw gradients, before clipping
    outputs: dict  # the network's outputs, detached


def clip_gradients(params: list[nn.Parameter], max_norm: float) -> float:
    """Clip the total L2 norm of the gradients to ``max_norm``; returns the norm before clipping."""
    return float(torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], max_norm))


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, params: list[nn.Parameter],
               template: torch.Tensor, search: torch.Tensor, search_boxes: torch.Tensor,
               weights: LossWeights = LossWeights(), grad_clip: float = 0.1,
               autocast_dtype: Optional[torch.dtype] = None, scaler=None) -> StepResult:
    """Forward, loss, zero_grad, backward, clip the total norm, optimizer step (the authors' order)."""
    outputs = forward_network(model, template, search, autocast_dtype)
    terms = tracking_loss(outputs, search_boxes, weights)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(terms.total).backward()
        scaler.unscale_(optimizer)
        norm = clip_gradients(params, grad_clip)
        scaler.step(optimizer)
        scaler.update()
    else:
        terms.total.backward()
        norm = clip_gradients(params, grad_clip)
        optimizer.step()
    return StepResult(terms, norm, {k: v.detach() for k, v in outputs.items()})


# ----------------------------------------------------------------------------------------------------
# Data.


class PairDataset(torch.utils.data.Dataset):
    """``samples_per_epoch`` training pairs; pair ``i`` of epoch ``e`` is drawn with a generator seeded
    by (seed, e, i), so an epoch is the same whatever the number of workers and a resumed run draws
    the pairs the interrupted one would have drawn. The sequence is chosen uniformly; a sequence that
    yields no pair is left for another draw."""

    def __init__(self, sources: list, samples_per_epoch: int, seed: int, epoch: int,
                 settings: SamplingSettings = SamplingSettings(), augment: bool = True) -> None:
        if not sources:
            raise InputError("no_sequences", "no training sequences")
        self.sources = sources
        self.samples = samples_per_epoch
        self.seed, self.epoch = seed, epoch
        self.settings, self.augment = settings, augment

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        last: Optional[InputError] = None
        for _ in range(8 * len(self.sources) + 8):
            source = self.sources[int(rng.integers(len(self.sources)))]
            try:
                pair = make_pair(source, rng, self.settings, self.augment)
            except InputError as exc:
                last = exc
                continue
            return {
                "template": torch.from_numpy(pair.template),
                "search": torch.from_numpy(pair.search),
                "search_box": torch.from_numpy(pair.search_box),
            }
        raise InputError("no_pair", f"no training pair could be drawn: {last}")


def fixed_batch(sources: list, count: int, seed: int = 12345,
                settings: SamplingSettings = SamplingSettings()) -> dict[str, torch.Tensor]:
    """A reproducible un-augmented batch (no jitter, no flips, no brightness) for measuring the loss."""
    dataset = PairDataset(sources, count, seed, epoch=0, settings=settings, augment=False)
    return torch.utils.data.default_collate([dataset[i] for i in range(count)])


@torch.no_grad()
def evaluate_loss(model: nn.Module, batch: dict[str, torch.Tensor], weights: LossWeights = LossWeights(),
                  autocast_dtype: Optional[torch.dtype] = None) -> dict[str, float]:
    """The loss terms on ``batch`` in train-mode arithmetic (unmerged LoRA, head BN in eval)."""
    device = next(model.parameters()).device
    outputs = forward_network(model, batch["template"].to(device), batch["search"].to(device), autocast_dtype)
    return tracking_loss(outputs, batch["search_box"].to(device), weights).as_floats()


# ----------------------------------------------------------------------------------------------------
# The run.


@dataclass
class TrainConfig:
    """A fine-tuning run. Defaults are the authors' RGB-T recipe except batch size and run length."""

    variant: str = "rgbt"
    epochs: int = 60
    samples_per_epoch: int = 60000
    batch_size: int = 32
    lr: float = 4e-4
    weight_decay: float = 1e-4
    lr_drop_epoch: int = 48
    lr_gamma: float = 0.1
    grad_clip: float = 0.1
    loss_weights: LossWeights = field(default_factory=LossWeights)
    seed: int = 0
    device: str = "cpu"
    precision: str = "auto"
    workers: int = 0
    save_every: int = 0  # iterations between mid-epoch checkpoints (0: only at epoch ends)
    dropout: float = 0.1  # the authors' LoRA / HMoE dropouts (0 disables them)
    drop_path: float = 0.1  # stochastic depth of the last block (0 disables it)
    trainable: str = "peft"  # TRAINABLE_SETS: the authors' PEFT rule, or every parameter (from scratch)
    sampling: SamplingSettings = field(default_factory=SamplingSettings)

    @classmethod
    def for_variant(cls, variant: str, **overrides) -> "TrainConfig":
        if variant not in RECIPES:
            raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(RECIPES)}")
        values = dict(RECIPES[variant], variant=variant)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def iterations_per_epoch(self) -> int:
        return self.samples_per_epoch // self.batch_size  # the loader drops the last partial batch

    def as_plain(self) -> dict:
        """JSON-like dict (what the checkpoint records as its settings)."""
        return dataclasses.asdict(self)


class Trainer:
    """Runs a fine-tuning: ``Trainer(model, sources, config, out_dir).run()``.

    ``model`` comes loaded with its start weights and LoRA unmerged (`load_checkpoint(..., merge=False)`
    or `load_ostrack_pretrained`); `resume` replaces them by the newest checkpoint in ``out_dir``.
    Writes to ``out_dir``: ``checkpoint_latest.pth.tar`` (resumable, updated every epoch and every
    ``save_every`` iterations), ``SEATrack_epNNNN.pth.tar`` for the last finished epoch, ``history.csv``
    (one row per iteration) and ``loss_curve.png``.
    """

    def __init__(self, model: nn.Module, sources: list, config: TrainConfig, out_dir: Path,
                 log: Callable = print, progress: bool = True) -> None:
        self.config = config
        self.out_dir = Path(out_dir)
        self.log = log
        self.progress = progress
        self.device = torch.device(config.device)
        self.autocast_dtype = resolve_precision(config.precision, self.device)
        self.model = model.to(self.device)
        self.params = freeze_for(self.model, config.trainable)
        set_train_mode(self.model)
        torch.manual_seed(config.seed)  # the dropouts' draws; the pairs have their own seeds
        self.stochastic_hooks = add_stochastic_layers(self.model, config.dropout, config.drop_path)
        self.optimizer = make_optimizer(self.params, config.lr, config.weight_decay)
        self.scheduler = make_scheduler(self.optimizer, config.lr_drop_epoch, config.lr_gamma)
        self.scaler = torch.amp.GradScaler("cuda") if self.autocast_dtype == torch.float16 else None
        self.sources = sources
        self.epoch = 0  # finished epochs
        self.iteration = 0  # finished iterations of the current epoch
        self.history: list[dict] = []
        if config.iterations_per_epoch < 1:
            raise ValueError(f"samples_per_epoch {config.samples_per_epoch} < batch_size {config.batch_size}")

    # -- checkpoints ----------------------------------------------------------------------------------

    def checkpoint_dict(self) -> dict:
        net = {k: v.detach().to("cpu") for k, v in self.model.state_dict().items()}
        return {
            "net": net,
            "lora_merged": False,
            "convention": LORA_CONVENTION,
            "format": CHECKPOINT_FORMAT,
            "variant": self.config.variant,
            "epoch": self.epoch,
            "iteration": self.iteration,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "torch_rng": torch.get_rng_state(),
            "stats": self.history,
            "settings": self.config.as_plain(),
        }

    def save(self, epoch_file: bool = False) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        state = self.checkpoint_dict()
        latest = self.out_dir / LATEST
        _atomic_save(state, latest)
        if epoch_file:
            path = self.out_dir / f"SEATrack_ep{self.epoch:04d}.pth.tar"
            _link_or_copy(latest, path)  # same bytes; a later save of `latest` writes a new file
            for old in self.out_dir.glob("SEATrack_ep*.pth.tar"):  # keep the last epoch only
                if old != path:
                    old.unlink()
            return path
        return latest

    def resume(self, path: Optional[Path] = None) -> bool:
        """Continue from ``path`` or ``out_dir/checkpoint_latest.pth.tar``; False when there is none."""
        from ..model.checkpoint import load_checkpoint, read_checkpoint_file

        path = Path(path) if path is not None else self.out_dir / LATEST
        if not path.is_file():
            return False
        state = read_checkpoint_file(path)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path} is not a resumable seatrack-train checkpoint")
        if state.get("variant") != self.config.variant:
            raise CheckpointError(f"{path} trains variant {state.get('variant')!r}, this run {self.config.variant!r}")
        load_checkpoint(self.model, state["net"], lora_merged=bool(state["lora_merged"]), merge=False)
        self.model.to(self.device)
        set_train_mode(self.model)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self._apply_command_schedule()
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if isinstance(state.get("torch_rng"), torch.Tensor):
            torch.set_rng_state(state["torch_rng"])
        self.epoch, self.iteration = int(state["epoch"]), int(state["iteration"])
        self.history = list(state.get("stats") or [])
        self.log(f"resumed from {path}: epoch {self.epoch + 1}, iteration {self.iteration} "
                 f"of {self.config.iterations_per_epoch}")
        return True

    def _apply_command_schedule(self) -> None:
        """After loading a checkpoint's scheduler: keep the epochs done, but drop the lr as this run's
        ``lr_drop_epoch`` / ``lr_gamma`` say (a resumed run given another schedule, e.g. to extend it,
        would otherwise follow the old one silently). Logs when they differ."""
        sched, config = self.scheduler, self.config
        if (sched.step_size, sched.gamma) == (config.lr_drop_epoch, config.lr_gamma):
            return
        self.log(f"lr schedule: the checkpoint dropped x{sched.gamma:g} every {sched.step_size} epochs; "
                 f"this run drops x{config.lr_gamma:g} every {config.lr_drop_epoch} epochs from here on")
        sched.step_size, sched.gamma = config.lr_drop_epoch, config.lr_gamma
        drops = sched.last_epoch // sched.step_size
        for group, base in zip(self.optimizer.param_groups, sched.base_lrs):
            group["lr"] = base * sched.gamma ** drops
        sched._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    # -- loop -----------------------------------------------------------------------------------------

    def _loader(self):
        cfg = self.config
        dataset = PairDataset(self.sources, cfg.iterations_per_epoch * cfg.batch_size, cfg.seed, self.epoch,
                              cfg.sampling)
        first = self.iteration * cfg.batch_size
        subset = torch.utils.data.Subset(dataset, range(first, len(dataset)))
        return torch.utils.data.DataLoader(
            subset, batch_size=cfg.batch_size, shuffle=False, drop_last=True, num_workers=cfg.workers,
            pin_memory=self.device.type == "cuda", persistent_workers=False,
            # Its own generator: a loader draws a base seed from the global one, which would shift the
            # dropout draws of a resumed run.
            generator=torch.Generator().manual_seed(cfg.seed))

    def run(self) -> list[dict]:
        """Train until ``config.epochs`` are finished; returns the per-iteration history."""
        from tqdm import tqdm

        cfg = self.config
        precision = "float32" if self.autocast_dtype is None else str(self.autocast_dtype).replace("torch.", "")
        self.log(f"fine-tuning {sum(p.numel() for p in self.params):,} parameters "
                 f"({len(self.params)} tensors) on {len(self.sources)} sequences; {cfg.epochs} epochs x "
                 f"{cfg.iterations_per_epoch} iterations of batch {cfg.batch_size}; device {self.device}, "
                 f"{precision}")
        try:
            while self.epoch < cfg.epochs:
                lr = self.optimizer.param_groups[0]["lr"]
                bar = tqdm(total=cfg.iterations_per_epoch, initial=self.iteration, disable=not self.progress,
                           desc=f"epoch {self.epoch + 1}/{cfg.epochs}", unit="it", dynamic_ncols=True)
                for batch in self._loader():
                    t0 = time.perf_counter()
                    step = train_step(
                        self.model, self.optimizer, self.params,
                        batch["template"].to(self.device, non_blocking=True),
                        batch["search"].to(self.device, non_blocking=True),
                        batch["search_box"].to(self.device, non_blocking=True),
                        cfg.loss_weights, cfg.grad_clip, self.autocast_dtype, self.scaler)
                    values = step.terms.as_floats()
                    if not math.isfinite(values["total"]):
                        raise FloatingPointError(f"non-finite loss {values} at epoch {self.epoch + 1}")
                    self.iteration += 1
                    self.history.append({"epoch": self.epoch + 1, "iteration": self.iteration, "lr": lr,
                                         "grad_norm": step.grad_norm, "seconds": time.perf_counter() - t0,
                                         **values})
                    bar.update(1)
                    bar.set_postfix(loss=f"{values['total']:.4f}", giou=f"{values['giou']:.3f}",
                                    l1=f"{values['l1']:.4f}", loc=f"{values['location']:.3f}",
                                    iou=f"{values['iou']:.3f}")
                    if cfg.save_every and self.iteration % cfg.save_every == 0 \
                            and self.iteration < cfg.iterations_per_epoch:
                        self.save()
                bar.close()
                epoch_rows = [h for h in self.history if h["epoch"] == self.epoch + 1]
                self.epoch += 1
                self.iteration = 0
                self.scheduler.step()
                path = self.save(epoch_file=True)
                self.write_reports()
                mean = {k: float(np.mean([h[k] for h in epoch_rows])) for k in ("total", "giou", "l1", "location", "iou")}
                self.log(f"epoch {self.epoch}/{cfg.epochs}: loss {mean['total']:.4f} (giou {mean['giou']:.4f}, "
                         f"l1 {mean['l1']:.4f}, location {mean['location']:.4f}), IoU {mean['iou']:.3f}, lr {lr:g}; "
                         f"saved {path}")
        except KeyboardInterrupt:
            self.save()
            self.write_reports()
            self.log(f"interrupted: saved {self.out_dir / LATEST}; run the same command again to resume")
            raise
        return self.history

    def write_reports(self) -> None:
        write_history_csv(self.history, self.out_dir / "history.csv")
        if self.history:
            plot_loss_curve(self.history, self.out_dir / "loss_curve.png")


HISTORY_COLUMNS = ("epoch", "iteration", "lr", "total", "giou", "l1", "location", "iou", "grad_norm", "seconds")


def write_history_csv(history: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HISTORY_COLUMNS)
        for row in history:
            writer.writerow([row.get(c, "") for c in HISTORY_COLUMNS])
    os.replace(tmp, path)


def plot_loss_curve(history: list[dict], path: Path) -> None:
    """PNG of the total loss and its three parts per iteration (with a running mean)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = np.arange(1, len(history) + 1)
    fig = Figure(figsize=(9, 6), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, sharex=True)
    for ax, key, label in zip(axes.flat, ("total", "giou", "l1", "location"),
                              ("total = 2 GIoU + 5 L1 + focal", "GIoU loss", "L1 loss", "focal (location) loss")):
        values = np.asarray([h[key] for h in history], dtype=np.float64)
        ax.plot(steps, values, lw=0.8, alpha=0.5, label="per iteration")
        window = max(1, min(50, len(values) // 10))
        if window > 1:
            smooth = np.convolve(values, np.ones(window) / window, mode="valid")
            ax.plot(steps[window - 1:], smooth, lw=1.5, label=f"mean of {window}")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("iteration")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.png")
    fig.savefig(tmp)
    os.replace(tmp, path)


def _link_or_copy(source: Path, target: Path) -> None:
    tmp = target.with_name(target.name + ".partial")
    if tmp.exists():
        tmp.unlink()
    try:
        os.link(source, tmp)
    except OSError:  # file systems without hard links
        import shutil

        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def _atomic_save(state: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".partial")
    torch.save(state, tmp)
    os.replace(tmp, path)
