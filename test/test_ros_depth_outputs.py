"""~/detections (vision_msgs/Detection2DArray) and ~/target_point (geometry_msgs/PointStamped) over real
DDS, on a synthetic RGB-D scene whose answer is known: registered 16UC1 depth that is 2.5 m in the box's
central part, camera_info with chosen intrinsics. Then the bad input of these parts: camera_info with
zero focal length, depth of another size than the RGB image, no valid depth in the box; each a clear
counted error (or point_valid false) while the node keeps running."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import rosutil
from seatrack_ros.streams.synthetic import make_sequence

DOMAIN = rosutil.domain_id(31)
HEIGHT, WIDTH = 128, 160
BOX = (40.0, 30.0, 32.0, 24.0)  # init box: the first Target echoes it exactly
FX, FY, CX, CY = 100.0, 120.0, 79.5, 63.5
TARGET_MM = 2500  # depth in the box's central half
BACKGROUND_MM = 6000

try:
    import vision_msgs.msg  # noqa: F401

    HAVE_VISION_MSGS = True
except ImportError:
    HAVE_VISION_MSGS = False


def depth_image(height: int = HEIGHT, width: int = WIDTH, target_mm: int = TARGET_MM) -> np.ndarray:
    depth = np.full((height, width), BACKGROUND_MM, np.uint16)
    x, y, w, h = (int(v) for v in BOX)
    depth[y + h // 4:y + 3 * h // 4, x + w // 4:x + 3 * w // 4] = target_mm
    depth[y + h // 2, x + w // 2] = 0  # a hole: "no return" must be ignored, not averaged
    return depth


def camera_info(fx: float = FX, fy: float = FY):
    from sensor_msgs.msg import CameraInfo

    msg = CameraInfo()
    msg.header.frame_id = "rgb_optical"
    msg.width, msg.height = WIDTH, HEIGHT
    msg.k = [fx, 0.0, CX, 0.0, fy, CY, 0.0, 0.0, 1.0]
    return msg


@pytest.fixture(scope="module")
def node():
    proc = rosutil.NodeProcess(DOMAIN, {
        "rgb_topic": "/cam/rgb", "aux_topic": "/cam/aux", "modality": "depth", "reliable_qos": True,
        "depth_camera_info_topic": "/cam/depth_info", "init_box": list(BOX), "stats_period": 0.0,
    })
    try:
        proc.wait_for_log(r"ready: modality=depth", timeout=180)
        yield proc
    finally:
        proc.stop()


class OutputsClient(rosutil.Client):
    """rosutil.Client plus the camera_info publisher and the ~/detections and ~/target_point subscribers."""

    def __init__(self, domain: int) -> None:
        super().__init__(domain)
        from geometry_msgs.msg import PointStamped
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo

        self.info_pub = self.node.create_publisher(
            CameraInfo, "/cam/depth_info", QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        self.points: list = []
        self.detections: list = []
        self._lock = threading.Lock()
        self.point_sub = self.node.create_subscription(PointStamped, "/seatrack/target_point",
                                                       lambda m: self._keep(self.points, m), 10)
        if HAVE_VISION_MSGS:
            from vision_msgs.msg import Detection2DArray

            self.node.create_subscription(Detection2DArray, "/seatrack/detections",
                                          lambda m: self._keep(self.detections, m), 10)

    def _keep(self, into: list, msg) -> None:
        with self._lock:
            into.append(msg)

    def received_for(self, into: list, stamp, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for msg in into:
                    if (msg.header.stamp.sec, msg.header.stamp.nanosec) == (stamp.sec, stamp.nanosec):
                        return msg
            time.sleep(0.05)
        return None


def send(client: OutputsClient, frame, depth: np.ndarray):
    stamp_ns = time.time_ns()
    rgb = rosutil.image_msg(frame.rgb, "rgb8", stamp_ns, "rgb_optical")
    aux = rosutil.image_msg(depth, "16UC1", stamp_ns, "rgb_optical")
    return client.send_and_wait(rgb, aux, timeout=90)


def expected_point(z: float) -> tuple[float, float, float]:
    x, y, w, h = BOX
    u, v = x + w / 2.0 - 0.5, y + h / 2.0 - 0.5  # pixel i's centre at u = i
    return (u - CX) * z / FX, (v - CY) * z / FY, z


def test_detections_and_target_point_exact_then_bad_input(node):
    from seatrack_ros.msg import Target

    frames = make_sequence(6, "depth", HEIGHT, WIDTH, seed=11)
    client = OutputsClient(DOMAIN)
    try:
        client.wait_for_subscribers()
        rosutil.wait_until(lambda: client.info_pub.get_subscription_count() > 0, 30, "the camera_info subscriber")
        rosutil.wait_until(lambda: client.point_sub.get_publisher_count() > 0, 30, "the target_point publisher")
        client.info_pub.publish(camera_info())
        time.sleep(0.5)

        # 1. the init frame: the box is the init box, so every value is known
        target = send(client, frames[0], depth_image())
        assert target.status == Target.STATUS_TRACKING and target.point_valid is True
        assert (target.x, target.y, target.width, target.height) == BOX
        point = client.received_for(client.points, target.header.stamp)
        assert point is not None, "no ~/target_point for a tracked frame with valid depth"
        assert point.header.frame_id == "rgb_optical"
        want = expected_point(TARGET_MM / 1000.0)
        assert (point.point.x, point.point.y, point.point.z) == pytest.approx(want, abs=1e-6)
        # negative control: the background depth (a median over the whole box) would be far off
        assert abs(point.point.z - BACKGROUND_MM / 1000.0) > 1.0
        if HAVE_VISION_MSGS:
            array = client.received_for(client.detections, target.header.stamp)
            assert array is not None, "no ~/detections for a tracked frame"
            assert array.header.frame_id == "rgb_optical" and len(array.detections) == 1
            detection = array.detections[0]
            x, y, w, h = BOX
            assert (detection.bbox.center.position.x, detection.bbox.center.position.y) == (x + w / 2, y + h / 2)
            assert (detection.bbox.size_x, detection.bbox.size_y) == (w, h)
            assert detection.id == str(target.track_id) == "1"
            assert len(detection.results) == 1
            assert detection.results[0].hypothesis.score == pytest.approx(target.confidence, abs=0)
            assert detection.results[0].hypothesis.class_id == "target"
        else:
            node.wait_for_log(r"vision_msgs does not import: ~/detections is not published", timeout=1)

        # 2. no valid depth in the box's centre (only the corner pixel has a return): no point
        holes = np.zeros((HEIGHT, WIDTH), np.uint16)
        holes[0, 0] = BACKGROUND_MM
        target = send(client, frames[1], holes)
        if target.x + target.width / 2 > 2 and target.y + target.height / 2 > 2:
            assert target.point_valid is False
            assert client.received_for(client.points, target.header.stamp, timeout=1.0) is None

        # 3. depth of another size than the RGB image: counted error, tracking goes on
        target = send(client, frames[2], depth_image(HEIGHT // 2, WIDTH // 2))
        assert target.point_valid is False
        if target.status == Target.STATUS_TRACKING:
            node.wait_for_log(r"\[size_mismatch\] no target point: depth image is 80x64 but the RGB image is 160x128",
                              timeout=10)

        # 4. camera_info with zero focal length: counted error, no more points until a valid one
        client.info_pub.publish(camera_info(fx=0.0, fy=0.0))
        node.wait_for_log(r"\[camera_info\] camera_info has focal lengths fx=0.0, fy=0.0", timeout=10)
        target = send(client, frames[3], depth_image())
        assert target.point_valid is False
        assert client.received_for(client.points, target.header.stamp, timeout=1.0) is None
        assert node.proc.poll() is None
    finally:
        client.close()
