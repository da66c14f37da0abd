"""Per-frame latency parts and their medians for the periodic summary (rclpy-free, thread-safe)."""

from __future__ import annotations

import collections
import threading

import numpy as np

PARTS = ("transport", "sync", "encoding", "model", "publish", "total")


class LatencyLog:
    """Counts processed frames and keeps the last ``keep`` frames' latency parts (seconds)."""

    def __init__(self, keep: int = 200) -> None:
        self._lock = threading.Lock()
        self._recent: collections.deque[dict[str, float]] = collections.deque(maxlen=keep)
        self.processed = 0

    def add(self, parts: dict[str, float]) -> None:
        """One published frame: ``parts`` holds every name of `PARTS` but ``total``, which is their sum."""
        entry = dict(parts, total=sum(parts.values()))
        with self._lock:
            self.processed += 1
            self._recent.append(entry)

    def samples(self) -> dict[str, list[float]]:
        """Each part's values (seconds) over the kept frames ({} before any)."""
        with self._lock:
            recent = list(self._recent)
        if not recent:
            return {}
        return {part: [r[part] for r in recent] for part in PARTS}

    def medians_ms(self) -> dict[str, float]:
        """Median of each part over the kept frames, milliseconds rounded to 0.01 ({} before any)."""
        with self._lock:
            recent = list(self._recent)
        if not recent:
            return {}
        return {part: round(float(np.median([r[part] for r in recent])) * 1e3, 2) for part in PARTS}


DROP_REASONS = ("superseded", "rgb_unmatched", "aux_unmatched", "too_old", "stamp_zero", "duplicate")


def summary_line(stats: dict, recent_problems: dict) -> str:
    """The periodic log line from the node's ``stats()`` dict and the problem counts since the last one."""
    sync = stats["sync"]
    dropped = {k: sync[k] for k in DROP_REASONS if sync[k]}
    return (
        f"processed {stats['processed']} pairs; median latency ms {stats['median_latency_ms']}; "
        f"dropped {dropped or 'none'}; problems since last summary {recent_problems or 'none'}"
    )
