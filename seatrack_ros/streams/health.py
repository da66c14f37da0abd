"""The node's health as a level and a list of values, for /diagnostics (ROS-free).

`HealthMonitor` is told when messages arrive and, about once a second, turns the tracking counters
into a `HealthReport`:

- ERROR: the model failed (it could not be loaded, or a frame raised an internal error since the last
  report);
- WARN: an input stream is silent (nothing for ``silent_after`` seconds, or nothing yet), or both
  streams deliver but no pair matched since the last report (their stamps lie further apart than the
  sync window: unsynchronised clocks, a wrong ``sync_slop``), or pairs were dropped faster than they
  were processed since the last report;
- OK otherwise.

Each report also carries the input rate per stream, pairs processed and dropped by reason, latency
median and 95th percentile per stage, and the model, device and precision.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

OK, WARN, ERROR = 0, 1, 2
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR"}
# Sync counters that are pairs or messages dropped (key -> the reason as reported).
DROP_REASONS = ("superseded", "rgb_unmatched", "aux_unmatched", "too_old", "stamp_zero", "duplicate")
# Messages per stream since the last report without a single matched pair before stamps are called apart.
APART_AFTER = 5


@dataclass(frozen=True)
class HealthReport:
    level: int
    message: str
    values: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]


@dataclass(frozen=True)
class Counters:
    """What the tracking pipeline counted so far (monotonic totals)."""

    processed: int = 0
    matched: int = 0
    received: Mapping[str, int] = field(default_factory=dict)  # stream -> messages
    dropped: Mapping[str, int] = field(default_factory=dict)  # reason -> pairs or messages
    internal_errors: int = 0


class HealthMonitor:
    """Thread-safe: `note_message` from the executor's callbacks, `report` from a timer."""

    def __init__(self, streams: Sequence[str] = ("rgb", "aux"), silent_after: float = 2.0,
                 rate_window: float = 5.0) -> None:
        if silent_after <= 0 or rate_window <= 0:
            raise ValueError("silent_after and rate_window must be > 0")
        self._streams = tuple(streams)
        self._silent_after = float(silent_after)
        self._rate_window = float(rate_window)
        self._arrivals = {s: collections.deque(maxlen=10_000) for s in self._streams}
        self._lock = threading.Lock()
        self._previous: Optional[Counters] = None
        self._model_error: Optional[str] = None

    def note_message(self, stream: str, now: float) -> None:
        """A message of ``stream`` arrived at ``now`` (seconds, any monotonic clock)."""
        with self._lock:
            self._arrivals[stream].append(now)

    def set_model_error(self, error: Optional[str]) -> None:
        """The model could not be used (None clears it, e.g. after a successful reload)."""
        with self._lock:
            self._model_error = error

    @property
    def model_error(self) -> Optional[str]:
        with self._lock:
            return self._model_error

    def rates(self, now: float) -> dict[str, float]:
        """Messages per second per stream over the last ``rate_window`` seconds."""
        with self._lock:
            out = {}
            for stream, times in self._arrivals.items():
                while times and times[0] < now - self._rate_window:
                    times.popleft()
                out[stream] = len(times) / self._rate_window
            return out

    def _silent(self, now: float) -> list[str]:
        with self._lock:
            return [s for s, times in self._arrivals.items() if not times or now - times[-1] > self._silent_after]

    def report(self, now: float, counters: Counters, latencies: Mapping[str, Iterable[float]],
               info: Mapping[str, str]) -> HealthReport:
        """The report for ``now`` from the totals in ``counters`` (compared with the previous call's),
        per-stage latencies in seconds and descriptive ``info`` (model, device, precision, ...)."""
        previous, self._previous = self._previous, counters
        rates = self.rates(now)
        silent = self._silent(now)
        with self._lock:
            model_error = self._model_error

        def delta(now_value: int, before: Optional[int]) -> int:
            return now_value - (before or 0)

        processed = delta(counters.processed, previous.processed if previous else 0)
        matched = delta(counters.matched, previous.matched if previous else 0)
        dropped = sum(delta(counters.dropped.get(r, 0), previous.dropped.get(r, 0) if previous else 0)
                      for r in DROP_REASONS)
        received = {s: delta(counters.received.get(s, 0), previous.received.get(s, 0) if previous else 0)
                    for s in self._streams}
        errors = delta(counters.internal_errors, previous.internal_errors if previous else 0)

        problems: list[tuple[int, str]] = []
        if model_error:
            problems.append((ERROR, f"model failed: {model_error}"))
        if errors:
            problems.append((ERROR, f"{errors} frame(s) failed with an internal error"))
        for stream in silent:
            problems.append((WARN, f"no {stream} messages for over {self._silent_after:g} s"))
        if not silent and matched == 0 and all(n >= APART_AFTER for n in received.values()):
            problems.append((WARN, "stamps of the streams do not pair within the sync window"))
        if dropped > processed:
            problems.append((WARN, f"dropping pairs faster than processing them ({dropped} dropped, "
                                   f"{processed} processed)"))
        level = max((lvl for lvl, _ in problems), default=OK)
        message = "; ".join(text for lvl, text in problems if lvl == level) if problems else "tracking pipeline OK"

        values: list[tuple[str, str]] = [(k, str(v)) for k, v in info.items()]
        values += [(f"{s} rate (Hz)", f"{rates[s]:.2f}") for s in self._streams]
        values.append(("pairs processed", str(counters.processed)))
        values += [(f"dropped: {r}", str(counters.dropped.get(r, 0))) for r in DROP_REASONS]
        values.append(("internal errors", str(counters.internal_errors)))
        for stage, seconds in latencies.items():
            samples = np.asarray(list(seconds), dtype=np.float64)
            if samples.size:
                values.append((f"latency {stage} median (ms)", f"{np.median(samples) * 1e3:.2f}"))
                values.append((f"latency {stage} p95 (ms)", f"{np.percentile(samples, 95) * 1e3:.2f}"))
        return HealthReport(level, message, tuple(values))
