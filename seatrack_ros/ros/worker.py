"""The worker thread: newest matched pair -> decoded images -> one session step -> the outputs.

It runs apart from the executor so inference (about 1.5 s on a CPU) never blocks the callbacks, and
takes only the newest pair, so stale pairs are dropped (and counted) instead of queued. Activate
starts it, deactivate stops it after its frame in flight (ros/node.py).

A mixin of :class:`seatrack_ros.ros.node.SeaTrackNode` (uses ``config``, ``session``, ``_sync``,
``_events``, ``_prepare_aux``, ``_stop``, ``problems``, ``requests``; counts ``_internal_errors``;
publishes through ros/outputs.py).
"""

from __future__ import annotations

import time

import numpy as np

from seatrack_ros.errors import InputError
from seatrack_ros.ros.inputs import Received
from seatrack_ros.streams.image_conversions import decode_image, to_rgb8
from seatrack_ros.streams.sync import MatchedPair


class PairWorker:
    """The worker thread's loop and its processing of one pair (see the module docstring)."""

    def _work(self) -> None:
        while not self._stop.is_set():
            pair = self._sync.take(timeout=0.2)
            if pair is None:
                continue
            try:
                self._process(pair)
            except InputError as exc:
                self.problems.report(exc.kind, f"frame pair skipped: {exc}")
            except Exception as exc:  # keep the node alive; a bug is still reported loudly once per kind
                self._internal_errors += 1
                self.problems.report(
                    f"internal_{type(exc).__name__}", f"frame pair skipped after an unexpected error: {exc!r}"
                )

    def _aux_image(self, pair: MatchedPair, rgb_hw: tuple[int, int]) -> np.ndarray:
        if self._events is None:
            return self._prepare_aux(*decode_image(pair.aux.msg, self.config.max_image_pixels), rgb_hw)
        cfg = self.config
        window = self._events.window(pair.rgb.stamp_ns, pair.rgb.previous_stamp_ns, cfg.event_wait_timeout)
        # no packet decoded yet: an empty (white) frame at the RGB size
        return self._prepare_aux(window.events, None, rgb_hw, sensor_hw=window.sensor_hw or rgb_hw)

    def _process(self, pair: MatchedPair) -> None:
        t_taken = time.perf_counter()
        rgb_item: Received = pair.rgb
        transport = max(0.0, (rgb_item.received_ns - rgb_item.stamp_ns) / 1e9)
        sync_wait = max(0.0, (self.get_clock().now().nanoseconds - rgb_item.received_ns) / 1e9)
        rgb = to_rgb8(*decode_image(rgb_item.msg, self.config.max_image_pixels))
        aux = self._aux_image(pair, rgb.shape[:2])
        t_encoded = time.perf_counter()
        if self._events is not None:  # the wait for the event window is synchronisation, not encoding
            sync_wait += self._events.last_window.waited_s
            t_taken += self._events.last_window.waited_s
        step = self.session.step(rgb, aux, lost_threshold=self.get_parameter("lost_threshold").value)
        if step.init_error is not None:
            self.problems.report("init_rejected", str(step.init_error))
        if step.problem is not None:  # each resolution change is a change of state: logged each time
            # the string of tracker.session.RESOLUTION_CHANGE: importing it here would import torch
            changed = step.problem.kind == "resolution_change"
            self.problems.report(step.problem.kind, str(step.problem), every_time=changed)
        if step.initialized:
            self.requests.report(
                "track_started", f"tracking {step.box} as track {step.track_id} ({step.source})"
            )
        t_model = time.perf_counter()

        parts = dict(
            transport=transport, sync=sync_wait, encoding=t_encoded - t_taken, model=t_model - t_encoded
        )
        self._publish_outputs(pair, rgb, aux, step, parts, t_model)
