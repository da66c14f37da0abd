"""The tracker's CUDA path: one stream per tracker, frame uploaded once, everything else on the GPU.

Per `track()` call:

1. host-to-device: the RGB and aux frames are copied into one pinned host buffer (2, H, W, 3) and sent
   with one asynchronous copy on the tracker's own stream, together with the crop geometry tables
   (a few KB, see `gpu_preprocess`);
2. crop + normalise on the GPU (integer OpenCV-equivalent bilinear, byte-identical to the host crops),
   written into a static (1, 6, 256, 256) input;
3. backbone + head on the cached template tokens (computed once at `initialize`);
4. decode: Hann window (times the colour prior's per-cell weights when `locate` gets them: its
   window buffer is rewritten in place, so the captured graphs read it), peak, box at the peak,
   packed into 6 floats;
5. device-to-host: those 6 floats (box, score, peak index) come back through pinned memory; `locate`
   hands them to `SEATracker`, whose one tail (`seatrack_ros.geometry.finish_box`) maps the box back
   into the image for both backends.

With ``cuda_graphs=True`` stages 2-5 are one CUDA graph per frame (crop -> network -> decode -> the 6
floats into pinned memory), captured at `initialize` rather than at the first `track`, so that the first
tracked frame costs what every other does; a second graph, captured when first needed, serves the rare
frames whose window the host crops. Both share one memory pool per tracker. With ``profile=True`` the
stages are captured one graph each instead, so that events can time them. Capture failures fall back
to eager execution with a warning. Optionally (``compile_network=True``) the network
is first compiled with ``torch.compile`` for its fixed shapes, which fuses the many small elementwise
kernels the graph would otherwise replay one by one; the first `initialize` then takes the compile
time, and a failed compile falls back to the plain network with a warning. Nothing here synchronises
the whole device or changes global backend settings: other GPU work in the process keeps running on
its own streams.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import torch
from torch import nn

from ..geometry.crop import crop_window, sample_crop
from ..geometry.boxes import finish_box, hann_window
from .gpu_preprocess import CropTables, crop_resize_planes, crop_tables, normalize_crop, rows_read, window_is_regular
from .collapsed import CollapsedViT, EngineNetwork
from .precision import prepare_model

LOG = logging.getLogger(__name__)

STAGES = ("host_to_device", "crop_normalize", "backbone_head", "decode", "device_to_host")


def compile_static(model: nn.Module, backend, *args, **kwargs) -> nn.Module:
    """``torch.compile`` for fixed input shapes (whole graph, no dynamic shapes), compiled now by one call
    on ``args``/``kwargs``. Raises whatever compiling raises."""
    compiled = torch.compile(model, backend=backend, fullgraph=True, dynamic=False)
    compiled(*args, **kwargs)
    return compiled


# torch.cuda.Stream maps a priority beyond the device's range to the nearest one it has (its docs):
# this asks for the highest the device offers, whatever that range is.
HIGHEST_STREAM_PRIORITY = -(1 << 16)


def _new_stream(device: torch.device, priority: int | None) -> torch.cuda.Stream:
    """The tracker's stream; priority None: the highest (-1, CUDA's usual high priority, where a torch
    refuses an out-of-range value instead of mapping it)."""
    if priority is not None:
        return torch.cuda.Stream(device, priority=priority)
    try:
        return torch.cuda.Stream(device, priority=HIGHEST_STREAM_PRIORITY)
    except (RuntimeError, ValueError):
        return torch.cuda.Stream(device, priority=-1)


def error_line(exc: BaseException, limit: int = 300) -> str:
    """``"Type: message"`` on one line, cut to ``limit`` characters (compiler errors span many lines)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:limit]}"


class TrackEngine:
    """Per-target state for `SEATracker` on a CUDA device (see module docstring).

    The same code runs on the CPU (no stream, no pinned memory, no graphs, float32), which is how the
    test suite checks it on machines without a GPU.

    model: a loaded SEATrack; prepared in place by `prepare_model` (merged LoRA, fused attention, half
        policy), so engines built on the same model share its weights.
    half: float16 weights/activations with float32 islands; falls back to float32 when the device
        cannot run float16.
    cuda_graphs: one CUDA graph per frame, captured at `initialize`; falls back to eager on capture failure.
    profile: record CUDA events between stages (read them with `stage_times`).
    stream_priority: priority of the tracker's stream (lower is higher priority, CUDA's convention);
        None (the default): the highest the device offers (`HIGHEST_STREAM_PRIORITY`).
    dtype: explicit compute dtype (float32, float16 or bfloat16) on any device, overriding ``half``;
        e.g. to measure the half policy's fidelity on a CPU (slow there, but the same arithmetic plan).
    residual_float32: keep the residual stream float32 under half precision (see `precision`); None
        keeps what the model was prepared with (off for a fresh model).
    compile_network: compile backbone + head with ``torch.compile`` (static shapes, whole graph) at the
        first `initialize`; ``compiled`` says whether it is in effect.
    """

    compile_backend = "inductor"  # torch.compile backend; tests use "eager" to check the plumbing fast

    def __init__(
        self,
        model: nn.Module,
        device: torch.device,
        settings,
        half: bool = False,
        cuda_graphs: bool = False,
        profile: bool = False,
        stream_priority: int | None = None,
        dtype: torch.dtype | None = None,
        residual_float32: bool | None = None,
        compile_network: bool = False,
    ) -> None:
        device = torch.device(device)
        is_cuda = device.type == "cuda"
        if is_cuda and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        self.device = device
        self.settings = settings
        if dtype is None:
            use_half = bool(half) and is_cuda and self._float16_supported(device)
            if half and not use_half:
                LOG.warning("float16 inference needs a CUDA device with float16 support; %s runs float32", device)
            dtype = torch.float16 if use_half else torch.float32
        self.dtype = dtype
        self.half = dtype != torch.float32
        self.model = prepare_model(model, device, self.dtype, residual_float32, attention="fused", merge_lora=True)
        self.cuda_graphs = bool(cuda_graphs) and is_cuda
        if cuda_graphs and not self.cuda_graphs:
            LOG.warning("CUDA graphs need a CUDA device; %s runs eagerly", device)
        self.profile = bool(profile) and is_cuda
        self.stream = _new_stream(device, stream_priority) if is_cuda else None
        feat = settings.search_size // self.model.config.patch_size
        pin = is_cuda
        with torch.cuda.device(device) if is_cuda else contextlib.nullcontext():
            self.window = hann_window(feat).reshape(1, 1, feat, feat).to(device)
            self.hann = self.window.clone()  # `window` is the Hann window times the last weights
            self.window_host = torch.zeros((1, 1, feat, feat), dtype=torch.float32, pin_memory=pin)
            self.response = torch.zeros((1, 1, feat, feat), dtype=torch.float32, device=device)
            self.flat_cells = torch.arange(feat * feat, dtype=torch.float32, device=device)  # the peak index, as float32
            self.mean, self.std = self.model.pixel_stats(device)  # the model's statistics, made before capture
            self.search_input = torch.zeros((1, 6, settings.search_size, settings.search_size), dtype=self.dtype, device=device)
            self.result = torch.zeros(6, dtype=torch.float32, device=device)
            self.result_host = torch.zeros(6, dtype=torch.float32, pin_memory=pin)
            self.search_tables = CropTables.allocate(settings.search_size, device)
            self.template_tables = CropTables.allocate(settings.template_size, device)
            self.crop_host = torch.zeros((settings.search_size, settings.search_size, 6), dtype=torch.uint8, pin_memory=pin)
            self.crop_device = torch.zeros_like(self.crop_host, device=device)
        self.template_tokens: torch.Tensor | None = None
        self.frame_host: torch.Tensor | None = None
        self.frame_device: torch.Tensor | None = None
        self.search_cropped = False  # crop_device holds the last search crop
        self.template_crop_device: torch.Tensor | None = None
        self._outputs: dict[str, torch.Tensor] | None = None
        self._graphs: dict[str, torch.cuda.CUDAGraph] = {}
        self._pool = torch.cuda.graph_pool_handle() if self.cuda_graphs else None  # one pool for this tracker's graphs
        # A collapsed backbone embeds raw crops (the normalisation folded into its patch embedding)
        backbone = self.model.backbone
        self.pixel_input = isinstance(backbone, CollapsedViT) and backbone.pixel_input
        # Maps only (the engine decodes its own windowed box); the compiled one once `_compile_network` succeeded
        self._network: nn.Module = EngineNetwork(self.model, pixels=self.pixel_input)
        self._compile_pending = bool(compile_network)
        self.compiled = False
        self._events = [torch.cuda.Event(enable_timing=True) for _ in range(len(STAGES) + 1)] if self.profile else []
        self.host_crops = 0  # frames whose window needed the host crop (see window_is_regular)
        self._hann_host = hann_window(feat).numpy()
        self._window_weighted = False
        if is_cuda:
            # The weights and buffers above were written on the current stream; order ours after it.
            self.stream.wait_stream(torch.cuda.current_stream(device))

    def _on_stream(self):
        return torch.cuda.stream(self.stream) if self.stream is not None else contextlib.nullcontext()

    def _synchronize(self) -> None:
        if self.stream is not None:
            self.stream.synchronize()

    def _record(self, index: int) -> None:
        if self._events:
            self._events[index].record(self.stream)

    @staticmethod
    def _float16_supported(device: torch.device) -> bool:
        try:
            a = torch.ones((8, 8), dtype=torch.float16, device=device)
            return bool(torch.isfinite(a @ a).all())
        except RuntimeError:
            return False

    # ----------------------------------------------------------------------------------------- buffers
    def _ensure_frame_buffers(self, image_hw: tuple[int, int]) -> None:
        shape = (2, image_hw[0], image_hw[1], 3)
        if self.frame_host is not None and tuple(self.frame_host.shape) == shape:
            return
        self.frame_host = torch.zeros(shape, dtype=torch.uint8, pin_memory=self.stream is not None)
        on_cpu = self.stream is None
        self.frame_device = self.frame_host if on_cpu else torch.zeros(shape, dtype=torch.uint8, device=self.device)
        for name in ("crop_normalize", "frame"):
            self._graphs.pop(name, None)  # captured against the old frame buffer

    def _upload_frame(self, rgb: np.ndarray, aux: np.ndarray, rows: tuple[int, int] | None = None) -> None:
        """Both planes into the frame buffer (and to the device): all rows, or only [top, bottom), the
        rows the next crop reads (`rows_read`); the others keep an earlier frame's pixels, unread."""
        top, bottom = rows if rows is not None else (0, rgb.shape[0])
        host = self.frame_host.numpy()
        np.copyto(host[0, top:bottom], rgb[top:bottom])
        np.copyto(host[1, top:bottom], aux[top:bottom])
        if self.frame_device.data_ptr() != self.frame_host.data_ptr():
            for plane in range(2):  # each plane's row block is contiguous: two plain copies
                self.frame_device[plane, top:bottom].copy_(self.frame_host[plane, top:bottom], non_blocking=True)

    # ------------------------------------------------------------------------------------------ stages
    # A stage captured as a graph runs its Python once, at capture; replays only rerun its kernels. So a
    # stage hands its results on only by writing into buffers allocated before (search_input, crop_device,
    # result) or into tensors it created at capture (``_outputs``), never by rebinding an attribute.
    def _stage_crop(self) -> None:
        crop = crop_resize_planes(self.frame_device, self.search_tables.device)  # (2, S, S, 3) int32
        if self.pixel_input:  # raw values straight into the network input: one copy
            self._write_raw_input(crop)
        else:
            self.crop_device.view(*crop.shape[1:3], 2, 3).copy_(crop.permute(1, 2, 0, 3))
            self._stage_normalize()

    def _stage_normalize(self) -> None:
        """The network input from ``crop_device`` (the host-crop frames; the float32 path always)."""
        if self.pixel_input:
            size = self.crop_device.shape[0]
            self._write_raw_input(self.crop_device.view(size, size, 2, 3).permute(2, 0, 1, 3))
        else:
            self.search_input.copy_(normalize_crop(self.crop_device, self.mean, self.std, self.dtype))

    def _write_raw_input(self, planes: torch.Tensor) -> None:
        """(2, S, S, 3) crop values (any integer dtype or view) -> ``search_input`` (1, 6, S, S), one copy."""
        self.search_input.view(2, 3, *planes.shape[1:3]).copy_(planes.permute(0, 3, 1, 2))

    def _stage_network(self) -> None:
        self._outputs = self._network(None, self.search_input, template_tokens=self.template_tokens)

    def _compile_network(self) -> None:
        """Compile the network for this engine's fixed input shapes and run it once (which compiles).

        Any failure (no compiler toolchain, an unsupported op, a graph break) keeps the plain network.
        """
        self._compile_pending = False
        try:
            compiled = compile_static(
                EngineNetwork(self.model, pixels=self.pixel_input), self.compile_backend, None, self.search_input,
                template_tokens=self.template_tokens,
            )
        except Exception as exc:
            LOG.warning("compiling the network failed (%s); running it uncompiled", error_line(exc))
            return
        self._network = compiled  # first initialize: no stage has been captured yet
        self.compiled = True

    def _stage_decode(self) -> None:
        """The windowed peak and what `decode_box` reads at its cell, in float32 (the maps are float32
        islands), written as [peak, flat index, size w, size h, offset x, offset y] into ``result``
        in 5 kernels; `_decode_result` finishes the box on the host."""
        out = self._outputs
        response = torch.mul(self.window, out["score_map"], out=self.response)  # (1, 1, F, F)
        peak, index = response.view(-1).max(dim=0, keepdim=True)
        maps = out.get("maps")
        if maps is not None:  # (1, 6, F, F) channels-last: one gather reads [score, -, w, h, ox, oy]
            at_peak = maps.permute(0, 2, 3, 1).reshape(-1, maps.shape[1]).index_select(0, index).view(-1)[2:]
        else:  # the uncollapsed head (float32 CPU engine): three separate maps
            maps = torch.cat([out["size_map"].reshape(2, -1), out["offset_map"].reshape(2, -1)])
            at_peak = maps.index_select(1, index).view(-1)
        torch.cat([peak, self.flat_cells.index_select(0, index), at_peak], out=self.result)

    def _decode_result(self, values: np.ndarray) -> tuple[torch.Tensor, float, int]:
        """``result`` on the host -> (float32 (4,) normalised (cx, cy, w, h), peak, peak index).

        The centre is `decode_box`'s ``(ix + offset) / F`` in float32, on the host: the same IEEE
        operations as on the device, without two kernels per frame."""
        feat = self.window.shape[-1]
        index = int(values[1])
        cell = np.array([index % feat, index // feat], dtype=np.float32)
        centre = (cell + values[4:6].astype(np.float32)) / np.float32(feat)
        box = np.concatenate([centre, values[2:4]]).astype(np.float32)
        return torch.from_numpy(box), float(values[0]), index

    def _frame_regular(self) -> None:
        """One frame whose window the device crops: stages 2-5 (the frame graph)."""
        self._stage_crop()
        self._finish_frame()

    def _frame_host_crop(self) -> None:
        """One frame cropped on the host (``crop_device`` already written): stages 2-5."""
        self._stage_normalize()
        self._finish_frame()

    def _finish_frame(self) -> None:
        """Network, decode and the 6 result floats into pinned memory, after either crop."""
        self._stage_network()
        self._stage_decode()
        self.result_host.copy_(self.result, non_blocking=True)

    def _capture_frame_graph(self, box) -> None:
        """Capture the frame graph now (at `initialize`), on a search window around ``box`` whose tables
        are uploaded for the capture only; each `track` uploads its own before the replay."""
        s = self.settings
        image_hw = tuple(self.frame_host.shape[1:3])
        window = crop_window(box, s.search_factor, image_hw)
        if not window_is_regular(window, image_hw):  # any regular window will do for the capture
            height, width = image_hw
            window = crop_window((width / 4, height / 4, width / 2, height / 2), s.search_factor, image_hw)
        self.search_tables.upload(crop_tables(window, image_hw, s.search_size), self.stream)
        self._capture("frame", self._frame_regular)  # warm-up runs and the capture; None: graphs off

    def _run_stage(self, name: str, fn) -> None:
        if not self.cuda_graphs:
            fn()
            return
        graph = self._graphs.get(name)
        if graph is None:
            graph = self._capture(name, fn)
            if graph is None:
                fn()
                return
        graph.replay()

    def _capture(self, name: str, fn) -> torch.cuda.CUDAGraph | None:
        """Warm up and capture ``fn`` on the tracker's stream; None (and graphs off) if that fails."""
        try:
            if self.stream is None:
                # torch.cuda.graph on a CUDA machine would "capture" host work as an empty graph
                raise RuntimeError("CUDA graphs need the engine on a CUDA device")
            fn()  # warm-up: kernel selection, workspace allocation outside the capture
            fn()
            self._synchronize()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self._pool, stream=self.stream, capture_error_mode="thread_local"):
                fn()
        except Exception as exc:  # capture unsupported here: keep tracking, eagerly
            LOG.warning("CUDA graph capture of %s failed (%s: %s); running eagerly", name, type(exc).__name__, exc)
            self.cuda_graphs = False
            self._graphs.clear()
            return None
        self._graphs[name] = graph
        return graph

    # ------------------------------------------------------------------------------------- public API
    @torch.no_grad()
    def initialize(self, rgb: np.ndarray, aux: np.ndarray, box: tuple[float, float, float, float]) -> None:
        """Crop the template around ``box`` on the GPU and cache its tokens (validated inputs)."""
        s = self.settings
        image_hw = rgb.shape[:2]
        window = crop_window(box, s.template_factor, image_hw)
        with self._on_stream():
            self._ensure_frame_buffers(image_hw)  # allocated on (and ordered by) our stream
            self._upload_frame(rgb, aux)
            if window_is_regular(window, image_hw):
                self.template_tables.upload(crop_tables(window, image_hw, s.template_size), self.stream)
                planes = crop_resize_planes(self.frame_device, self.template_tables.device)  # (2, S, S, 3)
                crop = planes.permute(1, 2, 0, 3).reshape(*planes.shape[1:3], 6).to(torch.uint8)
            else:
                host_crop, _ = sample_crop((rgb, aux), box, s.template_factor, s.template_size)
                crop = torch.from_numpy(host_crop).to(self.device, non_blocking=False)
            self.template_crop_device = crop
            if self.pixel_input:
                tokens = self.model.backbone.embed_template(crop.permute(2, 0, 1)[None].to(self.dtype), pixels=True)
            else:
                tokens = self.model.backbone.embed_template(normalize_crop(crop, self.mean, self.std, self.dtype))
            if self.template_tokens is None or self.template_tokens.shape != tokens.shape:
                self.template_tokens = torch.empty_like(tokens)
                self._graphs.clear()  # every graph reads the template tokens
            self.template_tokens.copy_(tokens)  # same storage: captured graphs read the new template
            if self._compile_pending:
                self._compile_network()
            if self.cuda_graphs and not self.profile and "frame" not in self._graphs:
                self._capture_frame_graph(box)
        self._synchronize()

    @torch.no_grad()
    def locate(self, rgb: np.ndarray, aux: np.ndarray, state: list[float],
               weights: np.ndarray | None = None) -> tuple[torch.Tensor, float, int, float]:
        """One frame (validated inputs) around the previous box ``state``: the tracker backend's step.

        ``weights`` (F, F) float32 (the colour prior), when given, multiply the Hann window for this
        frame. Returns (float32 (4,) normalised (cx, cy, w, h) at the windowed peak in the search crop,
        the windowed peak score, the peak index, the crop's resize factor).
        """
        s = self.settings
        image_hw = rgb.shape[:2]
        window = crop_window(state, s.search_factor, image_hw)
        resize_factor = s.search_size / window.crop_size
        regular = window_is_regular(window, image_hw)
        with self._on_stream():
            self._record(0)
            if weights is not None:  # the previous frame's copy ended at its synchronisation
                np.multiply(self._hann_host, weights, out=self.window_host.numpy()[0, 0])
                self.window.copy_(self.window_host, non_blocking=True)
                self._window_weighted = True
            elif self._window_weighted:
                self.window.copy_(self.hann)
                self._window_weighted = False
            if regular:
                self._upload_frame(rgb, aux, rows_read(window, image_hw))  # only the rows the crop reads
                self.search_tables.upload(crop_tables(window, image_hw, s.search_size), self.stream)
            else:
                self.host_crops += 1
                host_crop, _ = sample_crop((rgb, aux), state, s.search_factor, s.search_size)
                self.crop_host.numpy()[...] = host_crop
                self.crop_device.copy_(self.crop_host, non_blocking=True)
            self._record(1)
            if self.cuda_graphs and not self.profile:  # one graph for the whole frame
                if regular:
                    self._run_stage("frame", self._frame_regular)
                else:
                    self._run_stage("host_frame", self._frame_host_crop)
            else:  # stage by stage (profiled: events between the stages)
                if regular:
                    self._run_stage("crop_normalize", self._stage_crop)
                else:
                    self._stage_normalize()
                self._record(2)
                self._run_stage("backbone_head", self._stage_network)
                self._record(3)
                self._run_stage("decode", self._stage_decode)
                self._record(4)
                self.result_host.copy_(self.result, non_blocking=True)
                self._record(5)
            self.search_cropped = True
        self._synchronize()
        box, peak, index = self._decode_result(self.result_host.numpy().copy())
        return box, peak, index, resize_factor

    def track(self, rgb: np.ndarray, aux: np.ndarray, state: list[float]) -> tuple[list[float], list[float], float, int]:
        """`locate` plus the shared tail: (clipped box, unclipped box, windowed peak score, peak index),
        boxes as (x, y, w, h) px (for tools that drive the engine without a `SEATracker`)."""
        raw_box, score, peak_index, resize_factor = self.locate(rgb, aux, state)
        clipped, unclipped = finish_box(raw_box, state, rgb.shape[:2], self.settings, resize_factor)
        return clipped, unclipped, score, peak_index

    def stage_times(self) -> dict[str, float]:
        """Milliseconds per stage of the last `track()` (needs ``profile=True``), keyed by `STAGES`."""
        if not self._events:
            return {}
        ev = self._events
        return {name: ev[i].elapsed_time(ev[i + 1]) for i, name in enumerate(STAGES)}

    def search_crop(self) -> np.ndarray | None:
        """The last search crop (256, 256, 6) uint8 copied to the host (for checks; costs a copy)."""
        if not self.search_cropped:
            return None
        self._synchronize()
        if self.pixel_input:  # raw values in the network input, exact in any float dtype
            size = self.search_input.shape[-1]
            crop = self.search_input[0].view(2, 3, size, size).permute(2, 3, 0, 1).reshape(size, size, 6)
            return crop.to(torch.uint8).cpu().numpy()
        return self.crop_device.cpu().numpy().copy()

    def template_crop(self) -> np.ndarray | None:
        """The template crop (128, 128, 6) uint8 copied to the host (for checks; costs a copy)."""
        if self.template_crop_device is None:
            return None
        self._synchronize()
        return self.template_crop_device.cpu().numpy().copy()

    def network_forward_eager(self) -> dict[str, torch.Tensor]:
        """Run the backbone + head once without graphs on the current input (e.g. under a profiler).

        Returns fresh output tensors; the captured graphs and their outputs are left as they are.
        """
        with torch.no_grad(), self._on_stream():
            outputs = self._network(None, self.search_input, template_tokens=self.template_tokens)
        self._synchronize()
        return outputs

    def network_forward(self) -> dict[str, torch.Tensor]:
        """Run (or replay) only the backbone + head stage on the current input; for benchmarks."""
        with torch.no_grad(), self._on_stream():
            self._run_stage("backbone_head", self._stage_network)
        self._synchronize()
        return self._outputs
