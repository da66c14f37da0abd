"""Frame-level tracking: crop, normalise, run the network, decode, map back (numpy/torch only)."""

from .crop import crop_window, sample_crop, window_is_regular
from .postprocess import clip_box, hann_window, map_box_back
from .tracker import SEATracker, TrackerSettings, TrackResult, check_box, check_frame_pair

__all__ = [
    "SEATracker",
    "TrackResult",
    "TrackerSettings",
    "check_box",
    "check_frame_pair",
    "clip_box",
    "crop_window",
    "hann_window",
    "map_box_back",
    "sample_crop",
    "window_is_regular",
]
