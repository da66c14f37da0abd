"""QoS of the node's topics and the one-line warnings for peers whose QoS does not match."""

from __future__ import annotations

from rclpy.qos import (
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_policy_name_from_kind,
    qos_profile_sensor_data,
)

# Outputs are RELIABLE: a reliable publisher serves best-effort and reliable subscribers.
TARGET_QOS = 10
DEBUG_IMAGE_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)


def input_qos(reliable: bool) -> QoSProfile:
    """Sensor-data QoS (best effort, keep last 5) unless ``reliable``."""
    if reliable:
        return QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
    return qos_profile_sensor_data


def incompatible_publisher_text(resolved_topic: str, info, reliable: bool) -> str:
    """What to say when a publisher on one of our inputs cannot reach the subscription."""
    offered = "RELIABLE" if reliable else "BEST_EFFORT"
    return (
        f"{resolved_topic}: a publisher's QoS is incompatible with this subscription "
        f"(policy {qos_policy_name_from_kind(info.last_policy_kind)}, {info.total_count} time(s)); its "
        f"messages will not arrive. This node subscribes {offered} (parameter reliable_qos); publish "
        "RELIABLE or set reliable_qos:=false."
    )


def incompatible_subscriber_text(info) -> str:
    """What to say when a subscriber asks for QoS our outputs do not offer."""
    return (
        f"a subscriber requests QoS this node's outputs do not offer (policy "
        f"{qos_policy_name_from_kind(info.last_policy_kind)}); it will receive nothing. Outputs are "
        "RELIABLE, VOLATILE."
    )
