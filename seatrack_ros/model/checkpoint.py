"""Reading SEATrack / OSTrack checkpoints without running code from them, and loading them strictly.

The released training checkpoints are pickles that, besides the weights under ``'net'``, hold the
authors' own ``settings`` and ``stats`` objects. Unpickling those normally imports the authors' packages
(and ``weights_only=False`` would run whatever the file names). We unpickle with a restricted
``Unpickler``: tensors, storages and plain containers are rebuilt as usual; every other global the file
names becomes an inert placeholder class whose instances only record their arguments. Nothing from the
file is imported or executed.
"""

from __future__ import annotations

import collections
import os
import pickle
import types
from collections.abc import Mapping

import torch
from torch import nn

from ..errors import CheckpointError
from .lora import LoRAQKV

# Globals a tensor checkpoint legitimately needs, rebuilt for real.
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
}


# torch's own dtype names, fixed at import: looking a file-supplied name up with getattr(torch, ...)
# could trigger torch's lazy submodule imports.
_TORCH_DTYPES = {name: getattr(torch, name) for name in dir(torch) if isinstance(getattr(torch, name, None), torch.dtype)}


class OpaqueObject:
    """Placeholder for an object of a class the checkpoint names but we refuse to import."""

    source: str = "?"

    def __init__(self, *args, **kwargs) -> None:
        self.args = args
        self.kwargs = kwargs

    def __setstate__(self, state) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<opaque {self.source}>"


def _opaque_reconstructor(cls, base, state=None):
    """Stand-in for ``copyreg._reconstructor`` that only builds placeholders."""
    if isinstance(cls, type) and issubclass(cls, OpaqueObject):
        return cls()
    raise CheckpointError(f"checkpoint asks to reconstruct {cls!r}, which is not allowed")


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds tensors and containers and replaces every other class by a placeholder."""

    def find_class(self, module: str, name: str):
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is not None:
            return allowed
        if module == "torch" and name in _TORCH_DTYPES:
            return _TORCH_DTYPES[name]
        if (module, name) == ("copyreg", "_reconstructor"):
            return _opaque_reconstructor
        return type(f"Opaque_{name}", (OpaqueObject,), {"source": f"{module}.{name}"})


def _make_pickle_module() -> types.ModuleType:
    module = types.ModuleType("seatrack_restricted_pickle")
    module.Unpickler = RestrictedUnpickler

    def load(file, **kwargs):
        return RestrictedUnpickler(file, **kwargs).load()

    module.load = load
    return module


_RESTRICTED_PICKLE = _make_pickle_module()


def read_checkpoint_file(path: str | os.PathLike) -> object:
    """Unpickle a torch checkpoint file safely (see module docstring). Returns the top-level object."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", pickle_module=_RESTRICTED_PICKLE, weights_only=False)
    except CheckpointError:
        raise
    except Exception as exc:  # corrupt file, not a torch pickle, truncated download ...
        raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from exc


def read_state_dict(source) -> dict[str, torch.Tensor]:
    """Return the weights from a checkpoint path, a training checkpoint dict (``'net'``) or a state dict."""
    obj = source if isinstance(source, Mapping) else read_checkpoint_file(source)
    where = "state dict" if isinstance(source, Mapping) else os.fspath(source)
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{where}: expected a dict, found {type(obj).__name__}")
    if "net" in obj and isinstance(obj["net"], Mapping):
        obj = obj["net"]
    state = dict(obj)
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{where}: not a state dict (non-tensor entries: {_names(bad)})")
    if state and all(k.startswith("module.") for k in state):  # saved from a DataParallel wrapper
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _names(keys, limit: int = 8) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:limit])
    return f"{shown} (+{len(keys) - limit} more)" if len(keys) > limit else shown


def _check_keys(model: nn.Module, state: Mapping[str, torch.Tensor], ignore_missing=lambda k: False) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not ignore_missing(k)]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_names(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_names(unexpected)}")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} keys with wrong shapes: {_names(wrong_shape)}")
    if problems:
        raise CheckpointError("checkpoint does not match the SEATrack architecture: " + "; ".join(problems))


def _cast_like(model: nn.Module, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    expected = model.state_dict()
    return {k: v.to(expected[k].dtype) if k in expected else v for k, v in state.items()}


def load_checkpoint(model: nn.Module, source, lora_merged: bool, merge: bool = True) -> nn.Module:
    """Load official SEATrack weights strictly into ``model`` (from `build_seatrack`) and return it.

    source: path to a checkpoint (training checkpoint with ``'net'`` or a bare state dict file), or a
        state dict / checkpoint dict already in memory.
    lora_merged: the file's LoRA convention, which nothing in the file records. True when the stored
        ``qkv.weight`` already includes the LoRA update (the authors' RGB-T and RGB-D releases), False
        when it is the frozen base weight (the RGB-E release).
    merge: fold LoRA into qkv after loading (default, what the reference's eval() does), so inference
        runs one matmul; False keeps the LoRA update as a separate term, rebuilt every call (the
        reference's training-mode arithmetic; slower).

    Raises `CheckpointError` naming missing, unexpected or wrongly shaped keys, or why the file is
    unreadable. The model is left in eval mode.
    """
    if not isinstance(lora_merged, bool):
        raise TypeError(f"lora_merged must be True or False, got {lora_merged!r}")
    state = read_state_dict(source)
    _check_keys(model, state)
    layers = [m for m in model.modules() if isinstance(m, LoRAQKV)]
    model.load_state_dict(_cast_like(model, state), strict=True)
    for layer in layers:
        layer.merged = lora_merged
        if merge:
            layer.merge()
        elif lora_merged:
            layer.unmerge()
    return model.eval()


def is_peft_key(key: str) -> bool:
    """Parameters SEATrack adds to OSTrack and trains (LoRA, HMoE, guidance scalars)."""
    return "lora" in key or "moe" in key or "scaling" in key


def load_ostrack_pretrained(model: nn.Module, source, seed: int = 0) -> nn.Module:
    """Load an OSTrack checkpoint (e.g. ``OSTrack_ep0300.pth.tar``) into the frozen backbone and head.

    The file has every SEATrack key except LoRA, HMoE and the guidance scalars; those are initialised
    as for training (see `init_peft_parameters`). Any other missing or unexpected key is an error.
    """
    state = read_state_dict(source)
    peft_in_file = [k for k in state if is_peft_key(k)]
    if peft_in_file:
        raise CheckpointError(
            f"not an OSTrack checkpoint: it already has SEATrack keys ({_names(peft_in_file)}); "
            "use load_checkpoint"
        )
    _check_keys(model, state, ignore_missing=is_peft_key)
    model.load_state_dict(_cast_like(model, state), strict=False)
    init_peft_parameters(model, seed)
    return model.eval()


@torch.no_grad()
def init_peft_parameters(model: nn.Module, seed: int = 0) -> None:
    """Initialise LoRA / HMoE / guidance parameters with the distributions used to start training.

    LoRA A: Xavier normal (gain sqrt 2), LoRA B: zero (so the update starts at zero); HMoE projections
    and experts: Xavier normal (gain sqrt 2); HMoE projection biases: uniform(+-1/sqrt(fan)); gate:
    normal(0, 1/sqrt(slot_dim)); temperatures and guidance scalars: 1.
    """
    gen = torch.Generator().manual_seed(seed)
    gain = 2**0.5

    def xavier(t: torch.Tensor) -> None:
        fan_in, fan_out = t.shape[-2], t.shape[-1]
        if t.dim() == 3:  # batched experts: PyTorch's fan convention for 3-D tensors
            fan_in, fan_out = t.shape[1] * t.shape[2], t.shape[0] * t.shape[2]
        std = gain * (2.0 / (fan_in + fan_out)) ** 0.5
        t.copy_(torch.randn(t.shape, generator=gen) * std)

    params = dict(model.named_parameters())
    for name, param in params.items():
        if not is_peft_key(name):
            continue
        leaf = name.rsplit(".", 1)[-1]
        if leaf.endswith("_scaling") or leaf in ("D_temp", "C_temp"):
            param.fill_(1.0)
        elif leaf == "lora_B":
            param.zero_()
        elif leaf == "gate_thi":
            param.copy_(torch.randn(param.shape, generator=gen) * param.shape[0] ** -0.5)
        elif ".norm." in name:
            param.fill_(1.0 if leaf == "weight" else 0.0)
        elif leaf in ("lora_A", "lora_a", "lora_b"):
            xavier(param)
        elif leaf in ("bias_a", "bias_b"):
            if ".experts." in name:
                xavier(param)
            else:  # the training code bounds both projection biases by 1/sqrt(in_dim)
                in_dim = params[name.rsplit(".", 1)[0] + ".lora_a"].shape[0]
                param.copy_((torch.rand(param.shape, generator=gen) * 2 - 1) * in_dim**-0.5)
        else:
            raise AssertionError(f"no initialiser for {name}")
