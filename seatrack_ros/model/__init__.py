"""The SEATrack network in plain PyTorch (no ROS, no timm).

Public API: `load_seatrack` (registry variant + checkpoint or test weights), `VARIANTS`,
`build_seatrack`, `load_checkpoint`, `load_ostrack_pretrained`, `make_test_state_dict`, `select_device`,
`count_parameters`, `SEATrack`.
"""

from .backbone import BackboneConfig
from .build import (
    VARIANTS,
    VariantSpec,
    build_seatrack,
    build_tiny_model,
    load_seatrack,
    select_device,
    variant_for_modality,
    variant_spec,
)
from .checkpoint import load_checkpoint, load_ostrack_pretrained, read_state_dict
from .params import ParameterReport, count_parameters
from .recipe import make_test_state_dict
from .seatrack import SEATrack

__all__ = [
    "VARIANTS",
    "BackboneConfig",
    "ParameterReport",
    "SEATrack",
    "VariantSpec",
    "build_seatrack",
    "build_tiny_model",
    "count_parameters",
    "load_checkpoint",
    "load_ostrack_pretrained",
    "load_seatrack",
    "make_test_state_dict",
    "read_state_dict",
    "select_device",
    "variant_for_modality",
    "variant_spec",
]
