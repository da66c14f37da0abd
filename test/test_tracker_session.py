"""TrackingSession: the target's life (pending init, reset, track ids, LOST) without ROS."""

from __future__ import annotations

import numpy as np
import pytest

from offline_helpers import FakeTracker
from seatrack_ros.errors import InputError
from seatrack_ros.tracker import TrackingSession, TrackStatus

RGB = np.zeros((40, 60, 3), np.uint8)


class RefusingTracker(FakeTracker):
    """Refuses boxes whose x is negative, as SEATracker refuses a box outside the frame."""

    def __init__(self):
        super().__init__()
        self.resets = 0

    def initialize(self, rgb, aux, box):
        if box[0] < 0:
            raise InputError("box_outside", "outside")
        super().initialize(rgb, aux, box)

    def reset(self):
        self.resets += 1


def test_waiting_then_init_then_tracking_and_lost():
    session = TrackingSession(RefusingTracker(), lost_threshold=0.75)
    waiting = session.step(RGB, RGB)
    assert (waiting.status, waiting.track_id, waiting.box, waiting.confidence) == (
        TrackStatus.WAITING_FOR_INIT,
        0,
        (0.0, 0.0, 0.0, 0.0),
        0.0,
    )
    assert session.request_init((1, 2, 10, 12), "test") == 1
    first = session.step(RGB, RGB)
    assert first.initialized and first.box == (1.0, 2.0, 10.0, 12.0) and first.confidence == 1.0
    assert (first.status, first.track_id, first.source) == (TrackStatus.TRACKING, 1, "test")
    scores = [session.step(RGB, RGB) for _ in range(3)]  # FakeTracker: 0.9, 0.8, 0.7, box +2 px each
    assert [s.confidence for s in scores] == [0.9, 0.8, 0.7]
    assert [s.status for s in scores] == [TrackStatus.TRACKING, TrackStatus.TRACKING, TrackStatus.LOST]
    assert scores[-1].box == (7.0, 2.0, 10.0, 12.0)
    # the threshold of a frame may come from a run-time parameter
    assert session.step(RGB, RGB, lost_threshold=0.5).status == TrackStatus.TRACKING


def test_a_rejected_init_keeps_the_current_target_and_says_why():
    tracker = RefusingTracker()
    session = TrackingSession(tracker)
    session.request_init((1, 2, 10, 12))
    session.step(RGB, RGB)
    assert session.request_init((-5, 2, 10, 12), "service") == 2
    step = session.step(RGB, RGB)
    assert step.init_error is not None and step.init_error.kind == "box_outside"
    assert "from service rejected on the 60x40 frame" in str(step.init_error)
    assert session.last_init_error == str(step.init_error)
    assert step.track_id == 1 and step.status == TrackStatus.TRACKING and not step.initialized
    assert step.box == (3.0, 2.0, 10.0, 12.0)  # the old target was tracked on this frame


def test_reset_waits_for_a_new_box_and_ids_only_grow():
    tracker = RefusingTracker()
    session = TrackingSession(tracker)
    session.request_init((1, 2, 10, 12))
    session.step(RGB, RGB)
    session.request_init((3, 2, 10, 12))  # pending ...
    session.request_reset()  # ... and dropped by the reset
    step = session.step(RGB, RGB)
    assert tracker.resets == 1 and step.status == TrackStatus.WAITING_FOR_INIT and step.track_id == 1
    assert step.box == (0.0, 0.0, 0.0, 0.0) and step.confidence == 0.0
    assert session.request_init((1, 2, 10, 12)) == 3


def test_validate_box_uses_the_last_frame_size():
    session = TrackingSession(RefusingTracker())
    box, against_frame = session.validate_box((500, 500, 10, 10))  # no frame yet: only the box itself
    assert box == (500.0, 500.0, 10.0, 10.0) and not against_frame
    session.step(RGB, RGB)
    with pytest.raises(InputError) as err:
        session.validate_box((500, 500, 10, 10))
    assert err.value.kind == "box_outside"
    with pytest.raises(InputError):
        session.validate_box((1, 1, 0, 10))


def test_offer_init_answers_like_the_node():
    session = TrackingSession(RefusingTracker())
    first = session.offer_init((1, 2, 10, 12), "service")
    assert first == (True, 1, "accepted; checked against the next frame", False)
    assert session.offer_init((1, 2, 0, 12), "service")[:2] == (False, 0)
    session.step(RGB, RGB)
    again = session.offer_init((1, 2, 10, 12), "service")
    assert again == (True, 2, "accepted; tracking starts on the next frame with track id 2", True)
    refused = session.offer_init((500, 2, 10, 12), "service")
    assert not refused.accepted and refused.message.startswith("rejected: ") and "outside" in refused.message
