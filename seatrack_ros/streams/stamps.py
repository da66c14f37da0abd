"""ROS ``builtin_interfaces/Time`` <-> integer nanoseconds (duck-typed: rclpy, rosbags, test objects)."""

from __future__ import annotations

from typing import Any

NS_PER_S = 1_000_000_000


def stamp_to_ns(stamp: Any) -> int:
    """``stamp.sec * 1e9 + stamp.nanosec`` as an exact integer (0 for a driver that left it unset)."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def header_stamp_ns(msg: Any) -> int:
    """The stamp of ``msg.header`` in nanoseconds."""
    return stamp_to_ns(msg.header.stamp)


def set_stamp(stamp: Any, stamp_ns: int) -> Any:
    """Write ``stamp_ns`` (>= 0) into ``stamp.sec`` / ``stamp.nanosec``; returns ``stamp``."""
    stamp.sec, stamp.nanosec = divmod(int(stamp_ns), NS_PER_S)
    return stamp


def checked_header_stamp_ns(msg: Any, stream: str = "message") -> int:
    """`header_stamp_ns`, refusing a stamp whose ``nanosec`` is not below one second.

    builtin_interfaces/Time requires 0 <= nanosec < 1e9; a driver that puts whole nanoseconds there
    would otherwise be read (and echoed in every Target) as a time seconds away from the real one.
    Raises InputError kind ``<stream>_bad_stamp``.
    """
    from seatrack_ros.errors import InputError

    nanosec = int(msg.header.stamp.nanosec)
    if not 0 <= nanosec < NS_PER_S:
        raise InputError(
            f"{stream}_bad_stamp",
            f"{stream} message with header.stamp.nanosec = {nanosec} (must be below 1e9) dropped",
        )
    return header_stamp_ns(msg)
