"""The annotated debug picture: RGB with the box beside the aux image as the model saw it (rclpy-free)."""

from __future__ import annotations

import cv2
import numpy as np

# status value (seatrack_ros/Target STATUS_*) -> (colour, label)
_STATUS_STYLE = {1: ((0, 220, 0), "TRACKING"), 2: ((255, 140, 0), "LOST")}
_WAITING_STYLE = ((160, 160, 160), "WAITING FOR INIT")


def draw_debug_view(rgb: np.ndarray, aux: np.ndarray, modality: str, target) -> np.ndarray:
    """(H, 2W, 3) uint8 RGB: the frame with the box, then the encoded aux image with the same box.

    target: what was published (anything with ``x, y, width, height, confidence, status, track_id,
    test_weights``, e.g. seatrack_ros/Target). The depth encoding is BGR (what the network was trained
    on); it is shown in RGB here.
    """
    box, confidence, status = (
        (target.x, target.y, target.width, target.height),
        target.confidence,
        target.status,
    )
    track_id, test_weights = target.track_id, target.test_weights
    if modality == "depth":
        aux = cv2.cvtColor(aux, cv2.COLOR_BGR2RGB)
    canvas = np.concatenate([rgb, aux], axis=1)
    width = rgb.shape[1]
    colour, label = _STATUS_STYLE.get(int(status), _WAITING_STYLE)
    if int(status) != 0:
        x, y, w, h = box
        for offset in (0, width):
            cv2.rectangle(
                canvas,
                (int(round(x)) + offset, int(round(y))),
                (int(round(x + w)) + offset, int(round(y + h))),
                colour,
                2,
            )
    label = f"{label}  score {confidence:.2f}  id {track_id}"
    if test_weights:
        label += "  TEST WEIGHTS (box meaningless)"
    elif getattr(target, "model", "") == "demo":
        label += "  demo model (synthetic scenes only)"
    cv2.putText(canvas, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(canvas, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 1, cv2.LINE_AA)
    cv2.putText(
        canvas,
        f"aux: {modality} (as encoded for the model)",
        (width + 8, 24),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.6,
        (255, 255, 255),
        2,
        cv2.LINE_AA,
    )
    return canvas
