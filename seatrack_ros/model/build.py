"""The registry of SEATrack variants and the one way every tool builds and loads a network.

Each released model is an entry of `VARIANTS` (in the style of timm's pretrained configs): which
auxiliary modality it was trained on, the file name of the authors' release, the LoRA convention that
file was saved with (nothing in the file records it) and the architecture to build. The launch files,
the configs, the demo, ``seatrack-run``, ``seatrack-bench`` and the fidelity tool read these facts from
here instead of repeating them. ``tiny`` is a narrow 2-block network with seeded weights for smoke tests
of the tools: same shapes and code paths, a fraction of the cost, boxes that mean nothing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import ConfigError
from .backbone import BackboneConfig
from .seatrack import SEATrack

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class VariantSpec:
    """The facts of one SEATrack variant.

    name: registry key (``rgbt``, ``rgbd``, ``rgbe``, ``tiny``).
    modality: the auxiliary sensor the weights expect (``thermal``, ``depth`` or ``event``).
    release_file: file name of the authors' released checkpoint; None when there is none.
    lora_merged: that file's LoRA convention (True: its qkv weights already hold the LoRA update).
    config, head_channels: the architecture.
    benchmarks: where the authors report it (for help texts).
    tracker_options: `TrackerSettings` fields the weights are meant to be tracked with, beyond the
        config's crop sizes (`build_seatrack` hands them to the model as ``tracker_options``, where
        `SEATracker` finds them); empty: the authors' tracker.
    """

    name: str
    modality: str
    release_file: str | None
    lora_merged: bool | None
    config: BackboneConfig = field(default_factory=BackboneConfig)
    head_channels: int = 256
    benchmarks: str = ""
    tracker_options: dict = field(default_factory=dict)


_TINY_CONFIG = BackboneConfig(embed_dim=64, depth=2, num_heads=2, fusion_blocks=(1,), lora_rank=4)
# The demo model (docs/demo-model.md): the same family at ViT-Tiny width, half the depth and half the crop
# sizes (same context factors), so that it trains from scratch on this project's CPU in about an hour
# and runs above camera rate there. Fusion (AMG-LoRA + HMoE) in every other block, as released.
_DEMO_CONFIG = BackboneConfig(
    embed_dim=192, depth=6, num_heads=3, template_size=64, search_size=128, fusion_blocks=(1, 3, 5)
)
# Its tracker takes 30 % of each frame's predicted change in box size (the authors' takes all of it) and
# weights the score map by the target's colour likelihood (the authors' does not): both chosen on
# validation scenes 20000-20019, see docs/demo-model.md ("Tracker settings").
_DEMO_TRACKER_OPTIONS = {"size_update_rate": 0.3, "colour_prior": 1.0}
DEMO_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "seatrack_demo.pth"

VARIANTS: dict[str, VariantSpec] = {
    # The authors' rgbt / rgbd / rgbe configurations build the same network; only training data differ.
    "rgbt": VariantSpec("rgbt", "thermal", "SEATrack_ep0060.pth.tar", True, benchmarks="LasHeR, RGBT234"),
    "rgbd": VariantSpec("rgbd", "depth", "SEATrack_ep0025.pth.tar", True, benchmarks="DepthTrack, VOT-RGBD"),
    "rgbe": VariantSpec("rgbe", "event", "SEATrack_ep0045.pth.tar", False, benchmarks="VisEvent"),
    "tiny": VariantSpec(
        "tiny", "thermal", None, None, config=_TINY_CONFIG, head_channels=32, benchmarks="smoke tests only"
    ),
    # One demo model for the three modalities (trained on all of them); its file ships in the package.
    "demo": VariantSpec(
        "demo", "any", DEMO_WEIGHTS.name, False, config=_DEMO_CONFIG, head_channels=64,
        benchmarks="synthetic scenes only (seatrack_ros.streams.scenes)",
        tracker_options=_DEMO_TRACKER_OPTIONS,
    ),
}
RELEASED_VARIANTS = ("rgbt", "rgbd", "rgbe")
DEFAULT_VARIANT_OF_MODALITY = {VARIANTS[name].modality: name for name in RELEASED_VARIANTS}
DEVICES = ("auto", "cuda", "cpu")


def variant_spec(variant: str) -> VariantSpec:
    """The registry entry ``variant``; ConfigError (a ValueError) naming the known ones otherwise."""
    try:
        return VARIANTS[variant]
    except KeyError:
        raise ConfigError(
            f"unknown SEATrack variant {variant!r}; expected one of {tuple(VARIANTS)}"
        ) from None


def variant_for_modality(modality: str) -> VariantSpec:
    """The released variant trained on ``modality`` (thermal -> rgbt, depth -> rgbd, event -> rgbe)."""
    try:
        return VARIANTS[DEFAULT_VARIANT_OF_MODALITY[modality]]
    except KeyError:
        raise ConfigError(
            f"unknown modality {modality!r}; expected one of {tuple(DEFAULT_VARIANT_OF_MODALITY)}"
        ) from None


def build_seatrack(variant: str = "rgbt", config: BackboneConfig | None = None) -> SEATrack:
    """SEATrack with the architecture of ``variant`` (released: ViT-B/16, 128/256 px, AMG-LoRA rank 8,
    HMoE 4/8). ``config`` replaces the variant's backbone configuration.

    Parameters are placeholders until a checkpoint is loaded (`load_checkpoint`). Returns the model in
    eval mode, on the CPU, float32, carrying the variant's tracker options as ``tracker_options``
    (empty for the released variants and whenever ``config`` replaces the architecture).
    """
    spec = variant_spec(variant)
    model = SEATrack(config or spec.config, head_channels=spec.head_channels).eval()
    model.tracker_options = dict(spec.tracker_options) if config is None else {}
    return model


def build_tiny_model(seed: int = 0) -> SEATrack:
    """The ``tiny`` variant with seeded random weights (LoRA unmerged; boxes mean nothing)."""
    model = build_seatrack("tiny")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("_scaling", "D_temp", "C_temp")):
                param.fill_(0.8)
            elif param.dim() == 1 and "norm" in name and name.endswith("weight"):
                param.fill_(1.0)
            else:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.05)
    return model.eval()


def load_seatrack(
    variant: str = "rgbt",
    checkpoint: str | os.PathLike | dict | None = None,
    lora_merged: bool | None = None,
    *,
    merge: bool = True,
) -> SEATrack:
    """Build ``variant`` and load its weights: the one loader of the node and every tool.

    checkpoint: a checkpoint file (or a state dict in memory); None loads deterministic test weights
        (the golden recipe; ``tiny``: seeded weights), whose boxes mean nothing, except for ``demo``,
        whose trained weights ship in the package (`DEMO_WEIGHTS`).
    lora_merged: the file's LoRA convention. None takes the convention of the variant's released file
        (right for that file; a file of another name is loaded the same way, with a warning, because a
        wrong convention loads without error but moves the boxes).
    merge: fold LoRA into qkv after loading (see `load_checkpoint`).

    Raises ConfigError for an unknown variant or a missing file, CheckpointError for an unreadable or
    mismatched one.
    """
    from .checkpoint import load_checkpoint
    from .recipe import make_test_state_dict

    spec = variant_spec(variant)
    if checkpoint is None and spec.name == "demo":  # its weights ship in the package
        if not DEMO_WEIGHTS.is_file():
            raise ConfigError(f"the demo model's weights are missing from the installation: {DEMO_WEIGHTS}")
        checkpoint = DEMO_WEIGHTS
    if checkpoint is None:
        if spec.name == "tiny":
            model = build_tiny_model(seed=1)
            if merge:
                model.merge_lora()
            return model
        model = build_seatrack(variant)
        return load_checkpoint(model, make_test_state_dict(model), lora_merged=False, merge=merge)
    # Only a path that does not exist is refused here: a directory, FIFO or device goes on to the
    # loader, which reports it as what it is (and opens nothing that could block).
    if isinstance(checkpoint, (str, os.PathLike)) and not os.path.lexists(checkpoint):
        raise ConfigError(f"checkpoint file not found: {os.fspath(checkpoint)!r}")
    if lora_merged is None:
        if spec.lora_merged is None:
            raise ConfigError(
                f"variant {variant!r} has no released file: give lora_merged for {checkpoint!r}"
            )
        lora_merged = spec.lora_merged
        if isinstance(checkpoint, (str, os.PathLike)) and Path(checkpoint).name != spec.release_file:
            LOG.warning(
                "%s is not the released %s file %s; loading it with that file's LoRA convention "
                "(lora_merged=%s): pass lora_merged if it was saved otherwise",
                os.fspath(checkpoint),
                variant,
                spec.release_file,
                lora_merged,
            )
    return load_checkpoint(build_seatrack(variant), checkpoint, lora_merged=bool(lora_merged), merge=merge)


def select_device(requested: str | torch.device = "auto") -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cpu``, ``cuda``, ``cuda:N`` as given.

    Raises ConfigError for a CUDA device on a machine without one, or an unknown name.
    """
    if isinstance(requested, torch.device):
        requested = str(requested)
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, ValueError):
        raise ConfigError(f"unknown device {requested!r}; expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {requested} requested but no CUDA device is available (use auto or cpu)")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"unsupported device {requested!r}; expected auto, cpu, cuda or cuda:N")
    return device


def parse_bool(text: str | bool, what: str) -> bool:
    """``true``/``false`` (any case; also 1/0, yes/no) -> bool, for the one spelling of boolean flags."""
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ConfigError(f"{what} must be true or false, got {text!r}")
