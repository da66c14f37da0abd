"""From a decoded auxiliary frame to the image the tracker takes: encode, then fit to the RGB frame.

One code path for the node, ``seatrack-run`` on benchmark folders and ``seatrack-run`` on rosbag2
recordings, so that a camera pair the node handles (an aux camera of another resolution, or one that
needs a homography to line up with the RGB camera) is handled offline the same way.
"""

from __future__ import annotations

from typing import Callable, Optional

import cv2
import numpy as np

from seatrack_ros.modalities import encode_aux


def fit_to_rgb(
    aux: np.ndarray, rgb_hw: tuple[int, int], homography: Optional[np.ndarray] = None
) -> np.ndarray:
    """The encoded aux image in RGB pixel coordinates, (H, W, 3) uint8 of the RGB frame's size.

    homography: 3x3 mapping aux pixel -> RGB pixel (warped with bilinear interpolation, outside = 0);
    None: resized (bilinear) when the sizes differ, returned as is when they agree.
    """
    height, width = rgb_hw
    if homography is not None:
        aux = cv2.warpPerspective(aux, homography, (width, height), flags=cv2.INTER_LINEAR)
    elif aux.shape[:2] != (height, width):
        aux = cv2.resize(aux, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(aux)


def prepare_aux(
    modality: str,
    data,
    encoding: Optional[str],
    rgb_hw: tuple[int, int],
    *,
    homography: Optional[np.ndarray] = None,
    mono16_range: Optional[tuple] = None,
    sensor_hw: Optional[tuple[int, int]] = None,
) -> np.ndarray:
    """Encode one auxiliary frame for ``modality`` and fit it to the RGB frame (see `fit_to_rgb`).

    data: a decoded image with its ROS ``encoding``, or for raw events a tuple ``(x, y, t, polarity)``
    with ``encoding=None`` and the event sensor's ``sensor_hw`` (events outside it are dropped).
    mono16_range: fixed (low, high) counts for mono16 thermal (None: per-frame min-max).
    Raises InputError for data the encoder refuses.
    """
    return fit_to_rgb(encode_only(modality, data, encoding, mono16_range, sensor_hw), rgb_hw, homography)


def encode_only(
    modality: str,
    data,
    encoding: Optional[str],
    mono16_range: Optional[tuple] = None,
    sensor_hw: Optional[tuple[int, int]] = None,
) -> np.ndarray:
    """The first half of `prepare_aux`: the encoded aux image at the aux camera's own size."""
    options: dict = {}
    if modality == "thermal" and mono16_range is not None:
        options["mono16_range"] = tuple(mono16_range)
    if modality == "event" and encoding is None:
        height, width = sensor_hw
        options.update(height=height, width=width, drop_out_of_range=True)
    return encode_aux(modality, data, encoding, **options)


class AuxPreparer:
    """`prepare_aux` with one camera pair's settings bound; says once when it starts resizing.

    info: called with one line the first time an aux frame of another size is resized (the node's
    logger, the runner's ``log``); nothing is said when a homography is set, which fixes the size.
    """

    def __init__(
        self,
        modality: str,
        homography: Optional[np.ndarray] = None,
        mono16_range: Optional[tuple] = None,
        info: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.modality = modality
        self.homography = (
            None if homography is None else np.asarray(homography, dtype=np.float64).reshape(3, 3)
        )
        self.mono16_range = mono16_range
        self._info = info
        self._resize_reported = False

    def __call__(
        self,
        data,
        encoding: Optional[str],
        rgb_hw: tuple[int, int],
        sensor_hw: Optional[tuple[int, int]] = None,
    ) -> np.ndarray:
        aux = encode_only(self.modality, data, encoding, self.mono16_range, sensor_hw)
        if self.homography is None and not self._resize_reported and aux.shape[:2] != tuple(rgb_hw):
            self._resize_reported = True
            self._info(
                f"aux {aux.shape[1]}x{aux.shape[0]} is resized to the RGB size {rgb_hw[1]}x{rgb_hw[0]} "
                "(set aux_to_rgb_homography if the cameras are not pixel-aligned)"
            )
        return fit_to_rgb(aux, rgb_hw, self.homography)
