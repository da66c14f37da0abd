"""EventWindowBuffer's bounded wait, drop counters and limits (issue 17 item 2, issue 12 items 4-5)."""

from __future__ import annotations

import threading
import time
import tracemalloc

import numpy as np
import pytest

from seatrack_ros.errors import InputError
from seatrack_ros.modalities.event import (
    DEFAULT_MAX_SENSOR_PIXELS,
    EventWindowBuffer,
    SequenceTracker,
    check_sensor_size,
    count_out_of_range,
    render_events,
)

INT64_MAX = np.iinfo(np.int64).max
SECOND = 1_000_000_000


def events_at(times, x=0):
    times = np.asarray(times, dtype=np.int64)
    n = times.shape[0]
    return np.full(n, x), np.zeros(n, np.int64), times, np.ones(n, np.uint8)


# ------------------------------------------------------------------- implausible times (issue 12.5)


def test_an_event_near_int64_max_does_not_blind_the_stream():
    buffer = EventWindowBuffer(max_age_ns=2 * SECOND)
    stamp = 1_700_000_000 * SECOND
    buffer.add(*events_at([stamp - 1000, INT64_MAX - 5]), stamp_ns=stamp)
    assert buffer.dropped_far_from_stamp == 1 and buffer.newest_t_ns == stamp - 1000
    later = stamp + SECOND // 30
    buffer.add(*events_at([later - 500, later - 100]), stamp_ns=later)
    assert buffer.dropped_stale == 0
    assert buffer.take(stamp, later)[2].tolist() == [later - 500, later - 100]
    assert buffer.counters()["dropped_far_from_stamp"] == 1


def test_negative_control_without_the_time_check_the_stream_is_blinded():
    """The same input with the check made useless (a skew as large as the clock) loses every later
    event as stale: what the check above prevents."""
    buffer = EventWindowBuffer(max_age_ns=2 * SECOND, max_time_skew_ns=INT64_MAX)
    stamp = 1_700_000_000 * SECOND
    buffer.add(*events_at([stamp - 1000, INT64_MAX - 5]), stamp_ns=stamp)
    later = stamp + SECOND // 30
    buffer.add(*events_at([later - 500, later - 100]), stamp_ns=later)
    assert buffer.take(stamp, later)[2].size == 0 and buffer.dropped_stale >= 2


def test_without_a_stamp_the_packet_median_is_the_reference():
    buffer = EventWindowBuffer(max_age_ns=SECOND)
    base = 5 * SECOND
    buffer.add(*events_at([base, base + 10, base + 20, INT64_MAX]))
    assert buffer.dropped_far_from_stamp == 1 and buffer.newest_t_ns == base + 20
    buffer.add(*events_at([base + 30]))
    assert buffer.take(base, base + 100)[2].tolist() == [base, base + 10, base + 20, base + 30]


def test_events_far_before_the_stamp_are_dropped_too():
    buffer = EventWindowBuffer(max_time_skew_ns=1000)
    buffer.add(*events_at([0, 5000, 9999, 10_000, 11_000, 11_001]), stamp_ns=10_000)
    assert buffer.take(0, 20_000)[2].tolist() == [9999, 10_000, 11_000]
    assert buffer.dropped_far_from_stamp == 3


# --------------------------------------------------------------------------- late events, windows


def test_late_events_are_counted_and_useless_ones_dropped():
    buffer = EventWindowBuffer()
    buffer.add(*events_at([100, 150]))
    assert buffer.take(100, 200)[2].tolist() == [100, 150]
    # 120 belongs to the window already taken: late but kept (windows may overlap); 50 is before it: dropped
    buffer.add(*events_at([50, 120, 250]), stamp_ns=250)
    assert buffer.late_events == 2 and buffer.dropped_late == 1
    assert buffer.take(110, 300)[2].tolist() == [150, 120, 250]


def test_window_complete_follows_coverage_not_arrival():
    buffer = EventWindowBuffer()
    assert not buffer.window_complete(100)
    buffer.add(*events_at([10, 90]))
    assert buffer.covered_until_ns == 90 and not buffer.window_complete(100)
    buffer.add(*events_at([]), covers_until_ns=120)  # an empty packet still says "nothing before 120 is missing"
    assert buffer.window_complete(100) and buffer.window_complete(120) and not buffer.window_complete(121)
    buffer.add(*events_at([110]))  # an older packet does not move the coverage back
    assert buffer.covered_until_ns == 120


def test_wait_for_window_returns_at_once_when_complete():
    buffer = EventWindowBuffer()
    buffer.add(*events_at([10, 200]))
    assert buffer.wait_for_window(150, deadline=time.monotonic() - 1)  # a past deadline does not matter
    assert buffer.counters()["windows_ready"] == 1


def test_wait_for_window_gives_up_at_the_deadline_and_counts_it():
    buffer = EventWindowBuffer()
    buffer.add(*events_at([10]))
    fake_now = [100.0]
    assert not buffer.wait_for_window(150, deadline=100.0, clock=lambda: fake_now[0])
    assert buffer.windows_incomplete == 1 and buffer.windows_ready == 0
    started = time.monotonic()
    assert not buffer.wait_for_window(150, deadline=started + 0.05)
    assert buffer.windows_incomplete == 2


def test_wait_for_window_wakes_when_the_covering_packet_arrives():
    buffer = EventWindowBuffer()
    buffer.add(*events_at([10]))

    def late_driver():
        time.sleep(0.05)
        buffer.add(*events_at([120, 160]))

    thread = threading.Thread(target=late_driver)
    thread.start()
    try:
        assert buffer.wait_for_window(150, deadline=time.monotonic() + 30)
    finally:
        thread.join()
    assert buffer.windows_waited == 1 and buffer.take(0, 150)[2].tolist() == [10, 120]


def test_clear_resets_coverage_and_sequence():
    buffer = EventWindowBuffer()
    buffer.add(*events_at([10, 200]), seq=4)
    buffer.clear()
    assert buffer.covered_until_ns is None and not buffer.window_complete(100)
    buffer.add(*events_at([5]), seq=0)  # a restarted driver: not a gap, not a restart (history forgotten)
    assert buffer.counters()["sequence_restarts"] == 0 and buffer.counters()["sequence_gaps"] == 0


# --------------------------------------------------------------------------------------- sequence


def test_sequence_gaps_and_restarts():
    tracker = SequenceTracker()
    assert [tracker.note(s) for s in (7, 8, 11, 12, 12, 3, 4)] == [0, 0, 2, 0, 0, 0, 0]
    assert (tracker.gaps, tracker.missing, tracker.restarts) == (1, 2, 2)


def test_note_sequence_counts_packets_that_were_never_added():
    buffer = EventWindowBuffer()
    buffer.add(*events_at([1]), seq=10)
    buffer.note_sequence(11)  # e.g. a packet the decoder refused
    buffer.add(*events_at([2]), seq=13)
    assert (buffer.counters()["sequence_gaps"], buffer.counters()["missing_packets"]) == (1, 1)


def test_buffer_counts_sequence_gaps_even_for_rejected_packets():
    buffer = EventWindowBuffer()
    buffer.add(*events_at([1]), seq=1)
    with pytest.raises(InputError):
        buffer.add([0, 1], [0], np.array([2, 3]), [1, 1], seq=2)
    buffer.add(*events_at([4]), seq=5)
    counters = buffer.counters()
    assert (counters["sequence_gaps"], counters["missing_packets"]) == (1, 2)


# ----------------------------------------------------------------------- declared sizes (issue 12.4)


def test_oversized_packet_is_rejected_before_anything_is_stored():
    buffer = EventWindowBuffer(max_packet_events=3)
    with pytest.raises(InputError) as info:
        buffer.add(*events_at([1, 2, 3, 4]))
    assert info.value.kind == "event_packet_too_large" and len(buffer) == 0
    assert buffer.counters()["rejected_too_large"] == 1
    buffer.add(*events_at([1, 2, 3]))
    assert len(buffer) == 3


def test_a_huge_declared_sensor_is_refused_before_allocating():
    """10 events declaring a 20000 x 20000 sensor used to cost 2.35 GB; now a clear error, and the
    refusal allocates (almost) nothing."""
    x = np.arange(10)
    y = np.arange(10)
    t = np.arange(10, dtype=np.int64)
    p = np.ones(10, np.uint8)
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as info:
            render_events(x, y, t, p, 20000, 20000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.kind == "event_sensor_size" and "20000x20000" in str(info.value)
    assert peak < 1_000_000
    with pytest.raises(InputError) as info:
        count_out_of_range(x, y, 20000, 20000)
    assert info.value.kind == "event_sensor_size"


def test_sensor_size_limit_is_a_parameter():
    assert check_sensor_size(720, 1280) == (720, 1280)
    assert check_sensor_size(2048, 2048) == (2048, 2048) and 2048 * 2048 == DEFAULT_MAX_SENSOR_PIXELS
    with pytest.raises(InputError) as info:
        check_sensor_size(2049, 2048)
    assert info.value.kind == "event_sensor_size"
    assert check_sensor_size(4000, 4000, max_pixels=16_000_000) == (4000, 4000)
    for bad in ((0, 10), (10, -1), (2.5, 10)):
        with pytest.raises(InputError) as info:
            check_sensor_size(*bad)
        assert info.value.kind == "shape"
    frame = render_events([0], [0], None, [1], 3000, 3000, max_pixels=9_000_000)
    assert frame.shape == (3000, 3000, 3)


@pytest.mark.parametrize("kwargs", [{"max_packet_events": 0}, {"max_time_skew_ns": 0}, {"max_time_skew_ns": 1.5},
                                    {"max_packet_events": True}])
def test_new_buffer_options_are_validated(kwargs):
    with pytest.raises(InputError) as info:
        EventWindowBuffer(**kwargs)
    assert info.value.kind == "event_buffer_config"


def test_counters_hold_every_reason():
    counters = EventWindowBuffer().counters()
    assert set(counters) == {
        "buffered", "dropped_overflow", "dropped_stale", "discarded_before_window", "dropped_far_from_stamp",
        "dropped_late", "late_events", "rejected_too_large", "windows_ready", "windows_waited",
        "windows_incomplete", "sequence_gaps", "missing_packets", "sequence_restarts"}
    assert all(value == 0 for value in counters.values())
