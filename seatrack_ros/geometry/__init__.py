"""Crop geometry and box arithmetic shared by the tracker's host path and the CUDA engine (numpy/torch
only): crop windows and host crops (`crop`), the Hann window, mapping a box back into the image and
clipping it (`boxes`). Neither ``tracker`` nor ``engine`` is imported here, so both can build on it.
"""

from .boxes import clip_box, finish_box, hann_window, map_box_back
from .crop import CropWindow, TrackerSettings, crop_window, sample_crop, window_is_regular

__all__ = [
    "CropWindow",
    "TrackerSettings",
    "clip_box",
    "crop_window",
    "finish_box",
    "hann_window",
    "map_box_back",
    "sample_crop",
    "window_is_regular",
]
