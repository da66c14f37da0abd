"""The requests that start, replace or drop the target: ``~/init``, ``~/set_init_box`` and ``~/reset``.

They only hand the request to the session, which applies it on the worker at the next frame, so a
request never waits for a frame in the model. Accepted requests are counted in ``requests`` (info,
logged once per kind), rejected ones in ``problems`` (warnings).

A mixin of :class:`seatrack_ros.ros.node.SeaTrackNode` (uses ``session``, ``problems``, ``requests``).
"""

from __future__ import annotations

from std_srvs.srv import Trigger

from seatrack_ros.msg import InitBox
from seatrack_ros.srv import SetInitBox


class TargetRequests:
    """Topic and services of the target requests (see the module docstring)."""

    def _create_target_requests(self) -> None:
        """``~/init``, ``~/set_init_box`` and ``~/reset``; kept in ``_configured`` for _release."""
        made = self._configured
        made.append(self.create_subscription(InitBox, "~/init", self._on_init_topic, 10))
        made.append(self.create_service(SetInitBox, "~/set_init_box", self._on_set_init_box))
        made.append(self.create_service(Trigger, "~/reset", self._on_reset))

    def _on_init_topic(self, msg: InitBox) -> None:
        box = (msg.x, msg.y, msg.width, msg.height)
        offer = self.session.offer_init(box, "init topic")
        if not offer.accepted:
            self.problems.report(
                "init_topic_rejected", f"init box on {self.resolve_topic_name('~/init')} {offer.message}"
            )
        else:
            checked = "" if offer.checked_against_frame else "; checked against the next frame"
            self.requests.report(
                "init_topic", f"init box {box} accepted (track id {offer.track_id}){checked}"
            )

    def _on_set_init_box(self, request, response):
        box = (request.x, request.y, request.width, request.height)
        offer = self.session.offer_init(box, "set_init_box service")
        response.success, response.track_id, response.message = offer.accepted, offer.track_id, offer.message
        if offer.accepted:
            self.requests.report("set_init_box", f"set_init_box {box} {response.message}")
        else:
            self.problems.report("set_init_box_rejected", f"set_init_box {box} {response.message}")
        return response

    def _on_reset(self, request, response):
        # The synchronizer is left alone: resetting it would drop the next parked pair and its
        # watermarks, letting output stamps go backwards. The session keeps the last track id.
        self.session.request_reset()
        response.success, response.message = True, "reset: waiting for a new init box"
        self.requests.report("reset", response.message)
        return response
