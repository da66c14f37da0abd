"""How the node reports on itself: the stats dict on ``~/stats``, the summary log line, /diagnostics.

The numbers come from ROS-free parts (the synchronizer's counters, `streams.latency.LatencyLog`,
`streams.health.HealthMonitor`, the problem counters); this file only gathers and publishes them.

A mixin of :class:`seatrack_ros.ros.node.SeaTrackNode` (reads ``config``, ``session``, ``_tracker``,
``_sync``, ``_events``, ``_latency``, ``health``, ``problems``, ``requests``; keeps ``_last_activity``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import String

from seatrack_ros.ros.params import NodeConfig, model_description
from seatrack_ros.ros.standard_outputs import diagnostic_array
from seatrack_ros.streams.health import ERROR, OK, Counters, HealthReport
from seatrack_ros.streams.latency import summary_line


class NodeHealth:
    """Stats, summary and /diagnostics of the node (see the module docstring)."""

    def _start_diagnostics(self) -> None:
        # /diagnostics runs in every state, so a lifecycle manager also sees why configure failed.
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(float(self.get_parameter("diagnostics_period").value), self._publish_diagnostics)

    def _create_stats_output(self, cfg: NodeConfig) -> None:
        """``~/stats`` and, with a stats_period, its timer; kept in ``_configured`` for _release."""
        self._last_activity = (0, 0, 0)
        self.stats_pub = self.create_publisher(String, "~/stats", 10)
        self._configured.append(self.stats_pub)
        if cfg.stats_period > 0:
            self._configured.append(self.create_timer(cfg.stats_period, self._log_summary))

    def stats(self) -> dict[str, Any]:
        return {
            "processed": self._latency.processed,
            "status": int(self.session.status),
            "track_id": self.session.track_id,
            "test_weights": self.test_weights,
            "model": self.model_name,
            "last_init_error": self.session.last_init_error,
            "median_latency_ms": self._latency.medians_ms(),
            "sync": self._sync.stats().as_dict(),
            "problems": self.problems.totals(),
            "requests": self.requests.totals(),
            **({"events": self._events.counters()} if self._events is not None else {}),
        }

    def _log_summary(self) -> None:
        stats = self.stats()
        recent = self.problems.take_summary()
        self.stats_pub.publish(String(data=json.dumps(stats)))
        activity = (stats["processed"], stats["sync"]["rgb_received"], stats["sync"]["aux_received"])
        if activity != self._last_activity or recent:  # else nothing new to say
            self._last_activity = activity
            self.get_logger().info(summary_line(stats, recent))

    def health_report(self) -> HealthReport:
        """The /diagnostics report for the current lifecycle state."""
        state = self._state_machine.current_state[1]
        info = {"lifecycle state": state}
        if self.config is None:
            error = self.health.model_error
            if error:
                return HealthReport(ERROR, f"model failed: {error}", tuple(info.items()))
            return HealthReport(OK, f"{state}: not configured", tuple(info.items()))
        cfg, tracker = self.config, self._tracker
        info.update({
            "modality": cfg.modality,
            "model": model_description(self.model_name, cfg.checkpoint, self.test_weights),
            "device": str(tracker.device),
            "precision": tracker.precision,
        })
        sync = self._sync.stats()
        counters = Counters(
            processed=self._latency.processed,
            matched=sync.matched,
            received={"rgb": sync.rgb_received, "aux": sync.aux_received},
            dropped=sync.as_dict(),
            internal_errors=self._internal_errors,
        )
        report = self.health.report(time.monotonic(), counters, self._latency.samples(), info)
        if state != "active" and report.level != ERROR:
            return HealthReport(OK, f"{state}: not taking frames", report.values)
        return report

    def _publish_diagnostics(self) -> None:
        report = self.health_report()
        name = f"seatrack: {self.get_fully_qualified_name()}"
        stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(diagnostic_array(stamp, name, self.get_fully_qualified_name(), report))
