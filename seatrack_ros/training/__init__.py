"""Fine-tuning SEATrack (ROS-free): the authors' training recipe for the 0.64M trainable parameters.

- `targets`: the Gaussian centre-map target of the focal loss;
- `losses`: weighted focal + GIoU + L1;
- `sampling`: template/search pair sampling, frame gaps, centre/scale jitter, crops, augmentation;
- `data`: training sequences from benchmark folders and rosbag2 recordings with a box file;
- `trainer`: trainable-parameter rule, optimizer, schedule, the loop, checkpoints, resuming, progress;
- `cli`: the ``seatrack-train`` command.
"""

from .losses import LossTerms, LossWeights, tracking_loss
from .targets import centre_heatmap, gaussian_kernel, gaussian_radius
from .trainer import (
    TRAINABLE_KEYWORDS,
    TrainConfig,
    Trainer,
    freeze_for_peft,
    set_train_mode,
    train_step,
    trainable_parameter_names,
)

__all__ = [
    "TRAINABLE_KEYWORDS",
    "LossTerms",
    "LossWeights",
    "TrainConfig",
    "Trainer",
    "centre_heatmap",
    "freeze_for_peft",
    "gaussian_kernel",
    "gaussian_radius",
    "set_train_mode",
    "tracking_loss",
    "train_step",
    "trainable_parameter_names",
]
