"""Counting the aten operators one engine frame dispatches, per stage and per module (scripts/count_ops.py).

Counted on the CPU with a `TorchDispatchMode`, which sees every operator below autograd exactly as a
CUDA run would dispatch it (the same Python, the same shapes; only the kernels behind them differ).
Each operator is put in one kind:

- ``view``: returns an alias of an input (view, permute, expand, slice, ...): no kernel, no memory;
- ``allocation``: empty / empty_strided / empty_like: memory from the caching allocator, no kernel;
- ``kernel``: everything else, i.e. what a GPU launches (matmuls, convolutions, element-wise, copies).

The target of issue 14 (<= 250 per frame) is about kernels; totals are reported too.

``attention_as_one``: a CPU has no fused kernel for attention whose value head dim differs from the
query's (the guided attention's q/k have 2d, v has d), so it dispatches the math fallback (about 14
operators); CUDA's memory-efficient kernel takes it as one. With this option every
``scaled_dot_product_attention`` call counts as one kernel, as on CUDA, and returns its output in the
memory layout CUDA's fused kernels give it ((B, N, H, d) storage seen as (B, H, N, d)), so that what
follows (merging the heads: a view on CUDA, a copy of the CPU's (B, H, N, d) result) counts as on CUDA.
"""

from __future__ import annotations

import collections
import contextlib
import re
from contextlib import contextmanager

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

KINDS = ("kernel", "view", "allocation")
_ALLOCATIONS = {"empty", "empty_strided", "empty_like", "new_empty", "new_empty_strided"}
# Views whose schemas carry no alias annotation (reshape's no-copy result, tensor literals' wrapper).
_UNANNOTATED_VIEWS = {"_unsafe_view", "_reshape_alias", "alias", "lift_fresh", "detach"}


def op_kind(func) -> str:
    """``view``, ``allocation`` or ``kernel`` for an aten OpOverload (see module docstring)."""
    name = func.overloadpacket.__name__
    if name in _ALLOCATIONS:
        return "allocation"
    if name in _UNANNOTATED_VIEWS:
        return "view"
    returns = func._schema.returns
    if returns and all(r.alias_info is not None and not r.alias_info.is_write for r in returns):
        return "view"
    return "kernel"


class OpCounter(TorchDispatchMode):
    """Records (operator name, kind, innermost module path) for every dispatched aten operator."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, str, str]] = []
        self._path: list[str] = []
        self.suspended = 0  # > 0 inside an operator counted as one (see _AttentionAsOne)

    def record(self, name: str, kind: str) -> None:
        self.records.append((name, kind, self._path[-1] if self._path else ""))

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not self.suspended:
            self.record(func.overloadpacket.__name__, op_kind(func))
        return func(*args, **(kwargs or {}))

    @contextmanager
    def attributing(self, root: nn.Module, prefix: str = ""):
        """Attribute operators to ``root``'s submodules while inside (hooks removed on exit).

        Registered first among pre-hooks and last among forward hooks, so the casts that the half
        policy's hooks do at a float32 island's border count for the island.
        """
        handles = []
        seen = set()
        for name, module in root.named_modules():
            if id(module) in seen:
                continue
            seen.add(id(module))
            path = prefix + name

            def enter(mod, args, path=path):
                self._path.append(path)

            def leave(mod, args, output):
                self._path.pop()

            handles.append(module.register_forward_pre_hook(enter, prepend=True))
            handles.append(module.register_forward_hook(leave))
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def kinds(self) -> dict[str, int]:
        counts = collections.Counter(kind for _, kind, _ in self.records)
        return {kind: counts.get(kind, 0) for kind in KINDS}

    def by_module(self, kind: str = "kernel") -> dict[str, int]:
        """Counts of ``kind`` per module path, block indices folded into ``*`` (e.g. blocks.*.attn)."""
        counts = collections.Counter(
            re.sub(r"\.\d+(?=\.|$)", ".*", path) or "(no module)" for _, k, path in self.records if k == kind
        )
        return dict(counts.most_common())

    def by_operator(self, kind: str = "kernel") -> dict[str, int]:
        return dict(collections.Counter(name for name, k, _ in self.records if k == kind).most_common())


class _AttentionAsOne(TorchFunctionMode):
    """Counts each scaled_dot_product_attention call as one kernel, whatever it dispatches inside."""

    def __init__(self, counter: OpCounter) -> None:
        super().__init__()
        self.counter = counter

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is not torch.nn.functional.scaled_dot_product_attention:
            return func(*args, **(kwargs or {}))
        self.counter.record("scaled_dot_product_attention", "kernel")
        self.counter.suspended += 1
        try:
            out = func(*args, **(kwargs or {}))
            # CUDA's fused kernels write (B, N, H, d) and return it as a (B, H, N, d) view, so the
            # caller's merge of the heads is a view there; hand back the same layout (uncounted).
            return out.transpose(1, 2).contiguous().transpose(1, 2) if out.dim() == 4 else out
        finally:
            self.counter.suspended -= 1


def count(fn, root: nn.Module | None = None, prefix: str = "", attention_as_one: bool = False) -> OpCounter:
    """Run ``fn()`` under a fresh `OpCounter` (no autograd), attributing to ``root``'s modules."""
    counter = OpCounter()
    with torch.no_grad(), counter, _AttentionAsOne(counter) if attention_as_one else contextlib.nullcontext():
        if root is None:
            fn()
        else:
            with counter.attributing(root, prefix):
                fn()
    return counter


def count_engine_frame(
    model: nn.Module,
    collapse: bool,
    maps_only: bool,
    dtype: torch.dtype = torch.float16,
    frame_hw=(512, 640),
    attention_as_one: bool = False,
) -> dict:
    """Operators of one steady-state engine frame (crop + normalise, network, decode) on the CPU.

    model: a fresh loaded SEATrack, prepared here by a CPU `TrackEngine` in ``dtype`` (float16: the
    CUDA engine's arithmetic plan). collapse: let `prepare_model` apply `collapse_for_inference`
    (False reproduces the engine before the rewrites). maps_only: run the network stage as
    `EngineNetwork` (maps only, no ``pred_boxes`` decode) instead of ``SEATrack.forward``.
    Returns {stage: OpCounter} for "crop_normalize", "network", "decode".
    """
    from unittest import mock

    from ..geometry.crop import TrackerSettings
    from ..testing import synthetic_pairs
    from . import precision
    from .collapsed import EngineNetwork
    from .cuda_tracker import TrackEngine

    keep = precision.collapse_for_inference if collapse else (lambda m: m)
    with mock.patch.object(precision, "collapse_for_inference", keep):
        engine = TrackEngine(model, torch.device("cpu"), TrackerSettings(), dtype=dtype)
    # The engine runs EngineNetwork; without maps_only count SEATrack.forward as before the rewrites.
    engine._network = EngineNetwork(engine.model, pixels=engine.pixel_input) if maps_only else engine.model
    frames, box = synthetic_pairs(2, frame_hw[0], frame_hw[1], "thermal")
    engine.initialize(*frames[0], box)
    engine.track(*frames[1], list(box))  # tables uploaded, outputs allocated: a steady-state frame
    network_root = engine._network
    return {
        "crop_normalize": count(engine._stage_crop),
        "network": count(engine._stage_network, network_root, "" if maps_only else "model.", attention_as_one),
        "decode": count(engine._stage_decode),
    }
