"""Report each kind of bad input once, then count it (rclpy-free).

A camera that publishes a wrong encoding does so 30 times a second; logging every frame would bury
everything else. :class:`ProblemCounter` logs the first occurrence of each ``kind`` with its message,
counts the rest, and hands the counts since the last summary to a periodic log line.
"""

from __future__ import annotations

import threading
from typing import Callable


class ProblemCounter:
    """Thread-safe per-kind counter that logs the first occurrence of each kind.

    Args:
        warn: called with one line of text for the first occurrence of each kind (e.g. a ROS logger's
            ``warning``).
    """

    def __init__(self, warn: Callable[[str], None]) -> None:
        self._warn = warn
        self._lock = threading.Lock()
        self._totals: dict[str, int] = {}
        self._since_summary: dict[str, int] = {}

    def report(self, kind: str, message: str, every_time: bool = False) -> int:
        """Count one occurrence of ``kind``; log ``message`` if it is the first. Returns the total.

        every_time: log this occurrence too, for changes of state that happen rarely but each of
        which the operator must see (e.g. a camera switching resolution), as opposed to per-frame noise.
        """
        with self._lock:
            total = self._totals.get(kind, 0) + 1
            self._totals[kind] = total
            self._since_summary[kind] = self._since_summary.get(kind, 0) + 1
        if every_time:
            self._warn(f"[{kind}] {message} (occurrence {total})")
        elif total == 1:
            self._warn(f"[{kind}] {message} (logged once; later occurrences are counted in the "
                       f"periodic summary)")
        return total

    def totals(self) -> dict[str, int]:
        """Counts per kind since start."""
        with self._lock:
            return dict(self._totals)

    def take_summary(self) -> dict[str, int]:
        """Counts per kind since the previous call (empty if nothing happened)."""
        with self._lock:
            summary, self._since_summary = self._since_summary, {}
        return summary
