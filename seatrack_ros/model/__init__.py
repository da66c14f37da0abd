"""The SEATrack network in plain PyTorch (no ROS, no timm).

Public API: `build_seatrack`, `load_checkpoint`, `load_ostrack_pretrained`, `make_test_state_dict`,
`count_parameters`, `SEATrack`.
"""

from .backbone import BackboneConfig
from .build import build_seatrack
from .checkpoint import load_checkpoint, load_ostrack_pretrained, read_state_dict
from .params import ParameterReport, count_parameters
from .recipe import make_test_state_dict
from .seatrack import SEATrack

__all__ = [
    "BackboneConfig",
    "ParameterReport",
    "SEATrack",
    "build_seatrack",
    "count_parameters",
    "load_checkpoint",
    "load_ostrack_pretrained",
    "make_test_state_dict",
    "read_state_dict",
]
