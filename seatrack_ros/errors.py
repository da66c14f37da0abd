"""Exceptions shared by every layer of seatrack_ros.

`InputError` marks bad input that a caller (the ROS node, the offline runner) should report once and
skip, as opposed to a bug. It is a `ValueError`, so library users who only catch `ValueError` still
see it. `kind` is a short, stable key (e.g. ``"encoding"``, ``"size_mismatch"``) used to count and
log each kind of problem once instead of per frame.
"""


class InputError(ValueError):
    """Bad input data: wrong encoding, size mismatch, NaN-only depth, degenerate box, ..."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: unreadable file, missing or unexpected keys, wrong shapes."""


class ConfigError(ValueError):
    """A setting the node or a tool cannot start with: unknown variant or device, missing file, bad
    parameter value. Raised before any frame is processed; the message names the setting."""
