"""Tests for seatrack_ros.streams.sync.StampSynchronizer (newest-pair approximate time sync)."""

import threading
import time

import numpy as np
import pytest

from seatrack_ros.errors import InputError
from seatrack_ros.streams.sync import MatchedPair, StampSynchronizer, SyncStats

MS = 1_000_000  # nanoseconds per millisecond
T0 = 1_700_000_000 * 1_000_000_000  # a realistic wall-clock stamp, ns


def conservation_holds(sync: StampSynchronizer) -> bool:
    s = sync.stats()
    accounted = (2 * s.matched + s.stamp_zero + s.too_old + s.duplicate
                 + s.rgb_unmatched + s.aux_unmatched + sum(sync.buffered()))
    return s.rgb_received + s.aux_received == accounted


def test_exact_stamps_pair_in_either_arrival_order():
    sync = StampSynchronizer(slop=0.01)
    assert sync.add_rgb(T0, "rgb0") is False
    assert sync.add_aux(T0, "aux0") is True
    pair = sync.take(timeout=0)
    assert isinstance(pair, MatchedPair)
    assert (pair.rgb_stamp_ns, pair.aux_stamp_ns, pair.rgb, pair.aux) == (T0, T0, "rgb0", "aux0")
    assert pair.skew_ns == 0

    assert sync.add_aux(T0 + 33 * MS, "aux1") is False
    assert sync.add_rgb(T0 + 33 * MS, "rgb1") is True
    pair = sync.take(timeout=0)
    assert (pair.rgb, pair.aux) == ("rgb1", "aux1")
    assert sync.take(timeout=0) is None  # each pair is handed out once
    assert sync.stats().matched == 2 and sync.stats().taken == 2
    assert sync.buffered() == (0, 0)


def test_skew_within_slop_matches_and_outside_does_not():
    sync = StampSynchronizer(slop=0.010)
    sync.add_rgb(T0, "rgb")
    assert sync.add_aux(T0 + 10 * MS, "aux") is True  # exactly slop: inclusive
    pair = sync.take(timeout=0)
    assert pair.skew_ns == -10 * MS

    sync = StampSynchronizer(slop=0.010)
    sync.add_rgb(T0, "rgb")
    assert sync.add_aux(T0 + 10 * MS + 1, "aux") is False  # 1 ns beyond slop
    assert sync.take(timeout=0) is None
    assert sync.buffered() == (1, 1)


def test_picks_closest_stamp_of_the_other_stream():
    sync = StampSynchronizer(slop=0.020)
    sync.add_aux(T0 - 15 * MS, "far")
    sync.add_aux(T0 + 3 * MS, "near")
    # The two aux messages do not match each other; the RGB frame picks the closer one.
    assert sync.add_rgb(T0, "rgb") is True
    pair = sync.take(timeout=0)
    assert pair.aux == "near" and pair.aux_stamp_ns == T0 + 3 * MS
    # The older aux message can only form an older pair now: discarded and counted.
    assert sync.stats().aux_unmatched == 1
    assert sync.buffered() == (0, 0)


def test_equal_distance_prefers_newer_message():
    sync = StampSynchronizer(slop=0.020)
    sync.add_aux(T0 - 5 * MS, "older")
    sync.add_aux(T0 + 5 * MS, "newer")
    sync.add_rgb(T0, "rgb")
    assert sync.take(timeout=0).aux == "newer"


def test_missing_aux_stream_never_pairs_and_buffer_is_bounded():
    sync = StampSynchronizer(slop=0.005, queue_size=4)
    for i in range(10):
        assert sync.add_rgb(T0 + i * 33 * MS, i) is False
    assert sync.take(timeout=0) is None
    assert sync.buffered() == (4, 0)
    s = sync.stats()
    assert s.rgb_received == 10 and s.rgb_unmatched == 6 and s.matched == 0
    # The newest four are the ones kept: an aux frame matching frame 9 pairs with it.
    assert sync.add_aux(T0 + 9 * 33 * MS + 1 * MS, "aux") is True
    assert sync.take(timeout=0).rgb == 9
    assert sync.stats().rgb_unmatched == 9  # frames 6, 7, 8 skipped by the pair
    assert conservation_holds(sync)


def test_out_of_order_arrival_still_pairs():
    sync = StampSynchronizer(slop=0.005)
    sync.add_rgb(T0 + 66 * MS, "rgb2")
    sync.add_rgb(T0 + 33 * MS, "rgb1")  # arrives after a newer frame
    assert sync.stats().out_of_order == 1
    assert sync.add_aux(T0 + 34 * MS, "aux1") is True
    pair = sync.take(timeout=0)
    assert (pair.rgb, pair.aux) == ("rgb1", "aux1")
    # The newer RGB frame is still waiting for its partner.
    assert sync.buffered() == (1, 0)
    assert sync.add_aux(T0 + 66 * MS, "aux2") is True
    assert sync.take(timeout=0).rgb == "rgb2"
    assert conservation_holds(sync)


def test_messages_older_than_the_last_pair_are_rejected_as_too_old():
    sync = StampSynchronizer(slop=0.005)
    sync.add_rgb(T0 + 100 * MS, "rgb_new")
    sync.add_aux(T0 + 100 * MS, "aux_new")
    assert sync.take(timeout=0) is not None
    # Late arrivals that would form a pair older than the one already produced.
    assert sync.add_rgb(T0 + 50 * MS, "rgb_late") is False
    assert sync.add_aux(T0 + 50 * MS, "aux_late") is False
    assert sync.add_aux(T0 + 100 * MS, "aux_same_stamp") is False
    s = sync.stats()
    assert s.too_old == 3 and s.matched == 1
    assert sync.take(timeout=0) is None
    assert conservation_holds(sync)


def test_zero_and_negative_stamps_are_rejected_and_counted():
    sync = StampSynchronizer(slop=0.005)
    assert sync.add_rgb(0, "rgb") is False
    assert sync.add_aux(0, "aux") is False
    assert sync.add_aux(-5, "aux") is False
    assert sync.stats().stamp_zero == 3
    assert sync.buffered() == (0, 0)
    assert sync.take(timeout=0) is None


def test_duplicate_stamp_in_one_stream_keeps_the_first():
    sync = StampSynchronizer(slop=0.005)
    sync.add_rgb(T0, "first")
    assert sync.add_rgb(T0, "second") is False
    assert sync.stats().duplicate == 1
    sync.add_aux(T0, "aux")
    assert sync.take(timeout=0).rgb == "first"


def test_stamp_must_be_integer_nanoseconds():
    sync = StampSynchronizer(slop=0.005)
    with pytest.raises(TypeError):
        sync.add_rgb(1.5, "rgb")  # seconds as float: a caller bug, not data
    assert sync.add_rgb(np.int64(T0), "rgb") is False  # numpy integers are fine
    assert sync.add_aux(np.int64(T0), "aux") is True


def test_slow_consumer_gets_newest_pair_and_drops_are_counted():
    # 30 Hz cameras, aux 2 ms behind RGB; the consumer takes one pair every 45 frames (1.5 s).
    sync = StampSynchronizer(slop=0.010)
    period = 33 * MS
    taken = []
    frame = 0
    for _round in range(3):
        for _ in range(45):
            stamp = T0 + frame * period
            sync.add_rgb(stamp, ("rgb", frame))
            sync.add_aux(stamp + 2 * MS, ("aux", frame))
            frame += 1
        taken.append(sync.take(timeout=0))
    assert [p.rgb[1] for p in taken] == [44, 89, 134]
    assert all(p.aux[1] == p.rgb[1] for p in taken)
    assert all(p.rgb_stamp_ns == T0 + p.rgb[1] * period for p in taken)
    s = sync.stats()
    assert s.matched == 135
    assert s.taken == 3
    assert s.superseded == 132  # 44 pairs per round replaced before the consumer came back
    assert s.rgb_unmatched == 0 and s.aux_unmatched == 0 and s.too_old == 0
    assert conservation_holds(sync)


def test_stats_snapshot_is_a_copy():
    sync = StampSynchronizer(slop=0.005)
    snap = sync.stats()
    sync.add_rgb(T0, "rgb")
    assert isinstance(snap, SyncStats)
    assert snap.rgb_received == 0 and sync.stats().rgb_received == 1
    assert sync.stats().as_dict()["rgb_received"] == 1


def test_take_times_out_without_a_pair():
    sync = StampSynchronizer(slop=0.005)
    start = time.monotonic()
    assert sync.take(timeout=0.15) is None
    elapsed = time.monotonic() - start
    assert 0.14 <= elapsed < 2.0
    assert not sync.closed


def test_take_wakes_when_a_pair_is_matched_on_another_thread():
    sync = StampSynchronizer(slop=0.005)
    result = {}

    def worker():
        t = time.monotonic()
        result["pair"] = sync.take(timeout=5.0)
        result["waited"] = time.monotonic() - t
        result["taken_ns"] = time.monotonic_ns()

    thread = threading.Thread(target=worker)
    thread.start()
    time.sleep(0.1)
    before_match = time.monotonic_ns()
    sync.add_rgb(T0, "rgb")
    sync.add_aux(T0, "aux")
    thread.join(timeout=5.0)
    assert not thread.is_alive()
    pair = result["pair"]
    assert pair is not None and pair.rgb == "rgb"
    assert result["waited"] < 4.0  # woken by the match, not by the timeout
    assert before_match <= pair.matched_monotonic_ns <= result["taken_ns"]


def test_close_wakes_a_blocked_take_and_ignores_later_input():
    sync = StampSynchronizer(slop=0.005)
    result = {}

    def worker():
        result["pair"] = sync.take()  # no timeout: only close() can end this
        result["done"] = True

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    time.sleep(0.1)
    assert "done" not in result
    sync.close()
    thread.join(timeout=5.0)
    assert not thread.is_alive()
    assert result["pair"] is None
    assert sync.closed
    assert sync.add_rgb(T0, "rgb") is False
    assert sync.add_aux(T0, "aux") is False
    assert sync.take(timeout=0) is None
    assert sync.take() is None  # returns at once when closed


def test_reset_forgets_buffers_and_watermark():
    sync = StampSynchronizer(slop=0.005)
    sync.add_rgb(T0 + 100 * MS, "rgb")
    sync.add_aux(T0 + 100 * MS, "aux")  # parked pair
    sync.add_rgb(T0 + 133 * MS, "waiting")  # buffered
    sync.reset()
    s = sync.stats()
    assert s.cleared == 1 and s.rgb_unmatched == 1
    assert sync.take(timeout=0) is None
    assert sync.buffered() == (0, 0)
    # After a backwards time jump (looping bag), older stamps pair again.
    sync.add_rgb(T0, "rgb_again")
    assert sync.add_aux(T0, "aux_again") is True
    assert sync.take(timeout=0).rgb == "rgb_again"
    assert conservation_holds(sync)
    sync.reset(clear_stats=True)
    assert sync.stats() == SyncStats()


@pytest.mark.parametrize("slop", [0, -0.1, float("nan"), float("inf"), "abc", None])
def test_invalid_slop_is_rejected(slop):
    with pytest.raises(InputError) as info:
        StampSynchronizer(slop=slop)
    assert info.value.kind == "parameter"


@pytest.mark.parametrize("queue_size", [0, -1, 2.5, True])
def test_invalid_queue_size_is_rejected(queue_size):
    with pytest.raises(InputError) as info:
        StampSynchronizer(slop=0.01, queue_size=queue_size)
    assert info.value.kind == "parameter"


def test_negative_timeout_is_rejected():
    sync = StampSynchronizer(slop=0.01)
    with pytest.raises(InputError):
        sync.take(timeout=-1.0)


def test_concurrent_producers_and_consumer_keep_counts_consistent():
    sync = StampSynchronizer(slop=0.004, queue_size=5)
    n = 2000
    got = []
    stop = threading.Event()

    def produce(add, offset_ns):
        for i in range(n):
            add(T0 + i * 10 * MS + offset_ns, i)

    def consume():
        while not stop.is_set():
            pair = sync.take(timeout=0.01)
            if pair is not None:
                got.append(pair)

    consumer = threading.Thread(target=consume)
    consumer.start()
    producers = [threading.Thread(target=produce, args=(sync.add_rgb, 0)),
                 threading.Thread(target=produce, args=(sync.add_aux, 1 * MS))]
    for t in producers:
        t.start()
    for t in producers:
        t.join()
    stop.set()
    consumer.join()
    leftover = sync.take(timeout=0)
    if leftover is not None:
        got.append(leftover)
    s = sync.stats()
    assert s.rgb_received == n and s.aux_received == n
    assert conservation_holds(sync)
    assert s.taken == len(got) > 0
    assert s.matched == s.taken + s.superseded
    # Output stamps strictly increase and every pair is within slop.
    stamps = [p.rgb_stamp_ns for p in got]
    assert stamps == sorted(set(stamps))
    assert all(abs(p.skew_ns) <= 4 * MS for p in got)
    assert all(p.rgb == p.aux for p in got)
