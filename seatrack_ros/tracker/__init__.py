"""Frame-level tracking: crop, normalise, run the network, decode, map back (numpy/torch only)."""

from ..geometry import TrackerSettings, clip_box, crop_window, hann_window, map_box_back, sample_crop, window_is_regular
from .session import StepResult, TrackingSession, TrackStatus, load_tracker
from .tracker import SEATracker, TrackResult, check_box, check_frame_pair

__all__ = [
    "SEATracker",
    "StepResult",
    "TrackStatus",
    "TrackingSession",
    "TrackResult",
    "TrackerSettings",
    "check_box",
    "check_frame_pair",
    "clip_box",
    "crop_window",
    "hann_window",
    "load_tracker",
    "map_box_back",
    "sample_crop",
    "window_is_regular",
]
