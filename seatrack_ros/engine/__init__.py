"""Accelerated inference for the tracker: GPU crop/normalise, half precision, CUDA graphs.

`TrackEngine` is what `seatrack_ros.tracker.SEATracker` runs on CUDA devices; `prepare_model` readies
a loaded network (merged LoRA, fused attention, half policy) in place so several trackers share it;
`gpu_preprocess` reproduces the host crops with torch integer arithmetic on any device.
"""

from .cuda_tracker import STAGES, TrackEngine
from .gpu_preprocess import crop_resize, crop_tables, normalize_crop, window_is_regular
from .precision import HALF_DTYPES, apply_half_policy, float32_island_modules, inference_state, prepare_model

__all__ = [
    "HALF_DTYPES",
    "STAGES",
    "TrackEngine",
    "apply_half_policy",
    "crop_resize",
    "crop_tables",
    "float32_island_modules",
    "inference_state",
    "normalize_crop",
    "prepare_model",
    "window_is_regular",
]
