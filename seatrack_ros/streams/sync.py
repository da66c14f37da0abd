"""Pair RGB and auxiliary (thermal / depth / event) frames by header stamp, newest pair first.

Why this exists: ``message_filters`` is not installable from PyPI, so its
``ApproximateTimeSynchronizer`` is replaced by this small class. The matching rule is modelled on
that synchronizer's Python implementation: when a message arrives it is paired with the buffered
message of the other stream whose stamp is closest to its own, provided the two stamps lie within
``slop`` seconds; each message is used in at most one pair, and each stream keeps at most
``queue_size`` unmatched messages (the oldest stamp is evicted first). It differs in that the slop
bound is inclusive (``|difference| <= slop``), that older buffered messages of both streams are
discarded once a pair forms, and in the delivery policy below.

The delivery policy is built for a consumer (model inference, about 1.5 s per frame on CPU) that
is much slower than the cameras (about 30 Hz):

* There is no callback and no output queue. A matched pair is parked in a single slot; the worker
  thread fetches it with :meth:`StampSynchronizer.take`. If a newer pair is matched before the worker
  takes the parked one, the parked pair is dropped (counted as ``superseded``). The worker therefore
  always gets the newest pair and never works through a backlog of stale frames.
* Output stamps never go backwards. Once a pair is matched, every buffered message older than the
  pair's stamp in its stream is discarded (counted as ``rgb_unmatched`` / ``aux_unmatched``), and a
  message arriving later with a stamp at or before the last matched stamp of its stream is rejected
  (counted as ``too_old``): it could only form a pair older than one already produced.
* A message with stamp 0 (or negative), i.e. a driver that does not fill ``header.stamp``, cannot be
  matched meaningfully and is rejected (``stamp_zero``). A message repeating a stamp already buffered
  in its own stream is rejected (``duplicate``); the first one is kept.

Because stamps must not go backwards, a replayed bag that loops or a simulation clock that is reset
makes every later message ``too_old``; the owner should call :meth:`StampSynchronizer.reset` when it
sees such a time jump.

Thread model: ``add_rgb`` / ``add_aux`` are called from the ROS executor thread(s) and do a few list
operations on buffers of at most ``queue_size`` entries under a lock; ``take`` is called from one
worker thread and blocks on a condition variable.
"""

from __future__ import annotations

import bisect
import dataclasses
import operator
import threading
import time
from dataclasses import dataclass
from typing import Any, Generic, Optional, TypeVar

from seatrack_ros.errors import InputError

RgbT = TypeVar("RgbT")
AuxT = TypeVar("AuxT")

# Largest RGB/aux stamp difference for a pair, in seconds, unless configured otherwise: the node's
# sync_slop default and seatrack-run's --slop default (thermal cameras are often not hardware-synchronised).
DEFAULT_SYNC_SLOP = 0.025

_RGB = 0
_AUX = 1


@dataclass(frozen=True)
class MatchedPair(Generic[RgbT, AuxT]):
    """One RGB message and one auxiliary message whose stamps lie within ``slop`` of each other.

    ``rgb_stamp_ns`` / ``aux_stamp_ns``: header stamps in integer nanoseconds (ROS time).
    ``rgb`` / ``aux``: the items passed to ``add_rgb`` / ``add_aux``, untouched.
    ``matched_monotonic_ns``: ``time.monotonic_ns()`` when the pair was formed, so the consumer can
    report how long the pair waited (``time.monotonic_ns() - matched_monotonic_ns`` at take time).
    """

    rgb_stamp_ns: int
    aux_stamp_ns: int
    rgb: RgbT
    aux: AuxT
    matched_monotonic_ns: int

    @property
    def skew_ns(self) -> int:
        """RGB stamp minus auxiliary stamp, nanoseconds (positive: the RGB frame is later)."""
        return self.rgb_stamp_ns - self.aux_stamp_ns


@dataclass
class SyncStats:
    """Counters since construction (or the last ``reset(clear_stats=True)``); all are message or
    pair counts.

    Every received message ends up in exactly one place, so until ``close()``::

        rgb_received + aux_received == 2 * matched + stamp_zero + too_old + duplicate
                                       + rgb_unmatched + aux_unmatched + sum(buffered())

    and every matched pair is either taken, superseded, cleared, or still parked.
    ``out_of_order`` is informational: it counts messages whose stamp was older than the newest
    message already buffered for their stream; they are still used.
    """

    rgb_received: int = 0
    aux_received: int = 0
    matched: int = 0
    taken: int = 0
    superseded: int = 0  # matched pairs replaced by a newer pair before the consumer took them
    cleared: int = 0  # matched pairs discarded by reset() before the consumer took them
    rgb_unmatched: int = 0  # RGB messages evicted or skipped without ever being paired
    aux_unmatched: int = 0  # auxiliary messages evicted or skipped without ever being paired
    stamp_zero: int = 0  # messages rejected because their stamp was 0 or negative (not set)
    too_old: int = 0  # messages rejected because their stamp was at or before the last pair's
    duplicate: int = 0  # messages rejected because their stream already buffered that stamp
    out_of_order: int = 0  # informational, see the class docstring

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class StampSynchronizer(Generic[RgbT, AuxT]):
    """Approximate-time synchronizer for an RGB and an auxiliary stream that hands the newest
    matched pair to one slow consumer (see the module docstring for the policy).

    Args:
        slop: largest allowed ``|rgb_stamp - aux_stamp|`` in seconds, > 0 (inclusive bound).
        queue_size: unmatched messages kept per stream, >= 1.
    """

    def __init__(self, slop: float, queue_size: int = 10) -> None:
        try:
            slop_f = float(slop)
        except (TypeError, ValueError):
            raise InputError("parameter", f"slop must be a number of seconds, got {slop!r}") from None
        if not slop_f > 0.0 or slop_f == float("inf"):
            raise InputError("parameter", f"slop must be a finite number of seconds > 0, got {slop!r}")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise InputError("parameter", f"queue_size must be an integer >= 1, got {queue_size!r}")
        self._slop_ns = int(round(slop_f * 1e9))
        if self._slop_ns < 1:
            raise InputError("parameter", f"slop {slop!r} s is below one nanosecond")
        self._queue_size = queue_size
        self._cond = threading.Condition(threading.Lock())
        # Per stream: stamps sorted ascending and the items in the same order.
        self._stamps: tuple[list[int], list[int]] = ([], [])
        self._items: tuple[list[Any], list[Any]] = ([], [])
        # Stamp of the last matched message per stream; later messages must be newer.
        self._watermark_ns = [0, 0]
        self._pending: Optional[MatchedPair[RgbT, AuxT]] = None
        self._closed = False
        self._stats = SyncStats()

    @property
    def slop(self) -> float:
        """Matching tolerance in seconds."""
        return self._slop_ns / 1e9

    @property
    def queue_size(self) -> int:
        return self._queue_size

    @property
    def closed(self) -> bool:
        return self._closed

    def add_rgb(self, stamp_ns: int, item: RgbT) -> bool:
        """Offer an RGB message stamped ``stamp_ns`` (integer nanoseconds). Returns True if it
        completed a pair. Never blocks for long; ignored (returns False) after ``close()``."""
        return self._add(_RGB, stamp_ns, item)

    def add_aux(self, stamp_ns: int, item: AuxT) -> bool:
        """Offer an auxiliary message stamped ``stamp_ns`` (integer nanoseconds). Returns True if it
        completed a pair. Never blocks for long; ignored (returns False) after ``close()``."""
        return self._add(_AUX, stamp_ns, item)

    def take(self, timeout: Optional[float] = None) -> Optional[MatchedPair[RgbT, AuxT]]:
        """Wait for a pair not yet taken and return it (the newest), or None.

        ``timeout`` in seconds: None waits until a pair arrives or ``close()`` is called; 0 polls.
        Returns None on timeout and once the synchronizer is closed (check :attr:`closed` to tell
        the two apart). A pair is returned at most once.
        """
        if timeout is not None:
            timeout = float(timeout)
            if not timeout >= 0.0:
                raise InputError("parameter", f"timeout must be None or >= 0 s, got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending is None and not self._closed:
                if deadline is None:
                    self._cond.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0.0:
                        return None
                    self._cond.wait(remaining)
            if self._closed:
                return None
            pair, self._pending = self._pending, None
            self._stats.taken += 1
            return pair

    def stats(self) -> SyncStats:
        """A consistent snapshot copy of the counters."""
        with self._cond:
            return dataclasses.replace(self._stats)

    def buffered(self) -> tuple[int, int]:
        """Number of unmatched (RGB, auxiliary) messages currently buffered."""
        with self._cond:
            return len(self._stamps[_RGB]), len(self._stamps[_AUX])

    def reset(self, clear_stats: bool = False) -> None:
        """Forget buffered messages, the parked pair and the stamp watermarks (call after a time
        jump, e.g. a looping bag). Discarded messages and the parked pair are counted
        (``*_unmatched``, ``cleared``) unless ``clear_stats`` zeroes all counters. Does not reopen a
        closed synchronizer."""
        with self._cond:
            self._stats.rgb_unmatched += len(self._stamps[_RGB])
            self._stats.aux_unmatched += len(self._stamps[_AUX])
            if self._pending is not None:
                self._stats.cleared += 1
            for stream in (_RGB, _AUX):
                self._stamps[stream].clear()
                self._items[stream].clear()
            self._watermark_ns = [0, 0]
            self._pending = None
            if clear_stats:
                self._stats = SyncStats()

    def close(self) -> None:
        """Wake every ``take()`` (they return None), drop buffered data, ignore later messages."""
        with self._cond:
            self._closed = True
            self._pending = None
            for stream in (_RGB, _AUX):
                self._stamps[stream].clear()
                self._items[stream].clear()
            self._cond.notify_all()

    def _add(self, stream: int, stamp_ns: int, item: Any) -> bool:
        # operator.index accepts int and numpy integers but rejects floats (seconds passed by
        # mistake would silently match nothing).
        stamp_ns = operator.index(stamp_ns)
        other = 1 - stream
        with self._cond:
            if self._closed:
                return False
            stats = self._stats  # read under the lock: reset(clear_stats=True) replaces it
            if stream == _RGB:
                stats.rgb_received += 1
            else:
                stats.aux_received += 1
            if stamp_ns <= 0:
                stats.stamp_zero += 1
                return False
            if stamp_ns <= self._watermark_ns[stream]:
                stats.too_old += 1
                return False
            own_stamps = self._stamps[stream]
            if own_stamps and stamp_ns < own_stamps[-1]:
                stats.out_of_order += 1
            pos = bisect.bisect_left(own_stamps, stamp_ns)
            if pos < len(own_stamps) and own_stamps[pos] == stamp_ns:
                stats.duplicate += 1
                return False

            match = self._closest(other, stamp_ns)
            if match is None:
                own_stamps.insert(pos, stamp_ns)
                self._items[stream].insert(pos, item)
                if len(own_stamps) > self._queue_size:
                    del own_stamps[0]
                    del self._items[stream][0]
                    self._count_unmatched(stream, 1)
                return False

            other_stamp = self._stamps[other][match]
            other_item = self._items[other][match]
            # Everything older than the pair in either stream can only form older pairs: discard.
            del self._stamps[other][: match + 1]
            del self._items[other][: match + 1]
            self._count_unmatched(other, match)
            del own_stamps[:pos]
            del self._items[stream][:pos]
            self._count_unmatched(stream, pos)
            self._watermark_ns[stream] = stamp_ns
            self._watermark_ns[other] = other_stamp

            if stream == _RGB:
                pair = MatchedPair(stamp_ns, other_stamp, item, other_item, time.monotonic_ns())
            else:
                pair = MatchedPair(other_stamp, stamp_ns, other_item, item, time.monotonic_ns())
            if self._pending is not None:
                stats.superseded += 1
            self._pending = pair
            stats.matched += 1
            self._cond.notify_all()
            return True

    def _closest(self, stream: int, stamp_ns: int) -> Optional[int]:
        """Index of the buffered stamp of ``stream`` closest to ``stamp_ns`` within slop, or None.
        On a tie the newer stamp wins (the consumer prefers fresh frames)."""
        stamps = self._stamps[stream]
        pos = bisect.bisect_left(stamps, stamp_ns)
        best = None
        best_delta = self._slop_ns + 1
        for idx in (pos, pos - 1):  # pos first so the newer one wins a tie
            if 0 <= idx < len(stamps):
                delta = abs(stamps[idx] - stamp_ns)
                if delta < best_delta:
                    best, best_delta = idx, delta
        return best

    def _count_unmatched(self, stream: int, count: int) -> None:
        if stream == _RGB:
            self._stats.rgb_unmatched += count
        else:
            self._stats.aux_unmatched += count
