"""Camera streams without ROS: stamps, image decoding, pairing, aux preparation, problem counting.

Nothing in this package imports rclpy: its functions are duck-typed on message fields, so they serve
the node (rclpy messages), the rosbag2 runner (rosbags messages) and the tests (plain objects) alike.
``seatrack_ros.ros`` is the only package that talks to rclpy.
"""
