"""seatrack-run on tiny rosbag2 recordings (mcap and sqlite3) written here with rosbags."""

import csv

import numpy as np
import pytest

from offline_helpers import FakeTracker, fake_factory
from seatrack_ros.errors import InputError
from seatrack_ros.offline import run

rosbags = pytest.importorskip("rosbags")
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

TS = get_typestore(Stores.ROS2_KILTED)
Image = TS.types["sensor_msgs/msg/Image"]
CompressedImage = TS.types["sensor_msgs/msg/CompressedImage"]
Header = TS.types["std_msgs/msg/Header"]
Time = TS.types["builtin_interfaces/msg/Time"]

H, W = 24, 32
T0 = 1_700_000_000_000_000_000  # ns
PERIOD = 100_000_000  # 10 Hz
RGB_STAMPS = [T0 + k * PERIOD for k in range(6)]
# Thermal: jittered by a few ms; the message for RGB frame 3 is missing; one far-off message.
AUX_STAMPS = [T0 + 3_000_000, T0 + PERIOD - 4_000_000, T0 + 2 * PERIOD + 1_000_000,
              T0 + 4 * PERIOD + 2_000_000, T0 + 5 * PERIOD - 50_000_000, T0 + 5 * PERIOD + 5_000_000]


def _header(stamp_ns, frame="cam"):
    return Header(stamp=Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000), frame_id=frame)


def _image(stamp_ns, array, encoding):
    step = array.shape[1] * (array.shape[2] if array.ndim == 3 else 1) * array.itemsize
    return Image(header=_header(stamp_ns), height=array.shape[0], width=array.shape[1], encoding=encoding,
                 is_bigendian=0, step=step, data=np.frombuffer(array.tobytes(), np.uint8))


def rgb_frame(k):
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = 10 * k  # red channel encodes the frame number
    img[..., 2] = 255
    return img


def write_bag(path, plugin, rgb_compressed=False):
    import cv2

    with Writer(path, version=9, storage_plugin=plugin) as writer:
        rgb_type = "sensor_msgs/msg/CompressedImage" if rgb_compressed else "sensor_msgs/msg/Image"
        c_rgb = writer.add_connection("/camera/color", rgb_type, typestore=TS)
        c_aux = writer.add_connection("/thermal", "sensor_msgs/msg/Image", typestore=TS)
        events = [(s, "rgb", k) for k, s in enumerate(RGB_STAMPS)] + [(s, "aux", k) for k, s in enumerate(AUX_STAMPS)]
        for stamp, kind, k in sorted(events):
            if kind == "rgb":
                if rgb_compressed:
                    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb_frame(k), cv2.COLOR_RGB2BGR))
                    msg = CompressedImage(header=_header(stamp), format="png",
                                          data=np.frombuffer(png.tobytes(), np.uint8))
                    writer.write(c_rgb, stamp + 1000, TS.serialize_cdr(msg, rgb_type))
                else:
                    writer.write(c_rgb, stamp + 1000, TS.serialize_cdr(_image(stamp, rgb_frame(k), "rgb8"), rgb_type))
            else:
                thermal = np.full((H, W), 40 + k, np.uint8)
                writer.write(c_aux, stamp + 1000,
                             TS.serialize_cdr(_image(stamp, thermal, "mono8"), "sensor_msgs/msg/Image"))
    return path


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("plugin, suffix", [(StoragePlugin.MCAP, ".mcap"), (StoragePlugin.SQLITE3, ".db3")])
def test_bag_run_pairs_by_stamp_and_writes_stamped_boxes(tmp_path, plugin, suffix):
    bag = write_bag(tmp_path / "rec", plugin)
    trackers = []
    out = tmp_path / "boxes.csv"
    summary = run.run_bag(bag, out, fake_factory(trackers), "/camera/color", "/thermal", "thermal",
                          (5, 6, 10, 8), slop=0.01, progress=False, log=lambda *_: None)
    rows = _read_csv(out)
    # RGB frames 0, 1, 2, 4, 5 have a thermal message within 10 ms; frame 3 has none.
    assert [int(r["rgb_stamp_ns"]) for r in rows] == [RGB_STAMPS[k] for k in (0, 1, 2, 4, 5)]
    assert [int(r["aux_stamp_ns"]) for r in rows] == [AUX_STAMPS[k] for k in (0, 1, 2, 3, 5)]
    assert [int(r["frame"]) for r in rows] == [0, 1, 2, 3, 4]
    assert rows[0]["score"] == "" and [float(r["score"]) for r in rows[1:]] == [0.9, 0.8, 0.7, 0.6]
    assert [float(r["x"]) for r in rows] == [5, 7, 9, 11, 13]
    assert (float(rows[2]["y"]), float(rows[2]["w"]), float(rows[2]["h"])) == (6, 10, 8)
    assert summary["frames"] == 5
    # The tracker saw RGB frames in order (red channel = 10 * frame) and thermal as 3-channel grey.
    calls = trackers[0].calls
    assert [int(c[1][0, 0, 0]) for c in calls] == [0, 10, 20, 40, 50]
    assert [tuple(c[2][0, 0]) for c in calls][:2] == [(40, 40, 40), (41, 41, 41)]
    # The bare storage file reads the same as the bag folder.
    [storage_file] = list((tmp_path / "rec").glob(f"*{suffix}"))
    out2 = tmp_path / "boxes2.csv"
    run.run_bag(storage_file, out2, fake_factory(), "/camera/color", "/thermal", "thermal", (5, 6, 10, 8),
                slop=0.01, progress=False, log=lambda *_: None)
    assert _read_csv(out2) == rows


def test_bag_init_stamp_compressed_rgb_and_cli(tmp_path):
    bag = write_bag(tmp_path / "rec", StoragePlugin.MCAP, rgb_compressed=True)
    out = tmp_path / "b.csv"
    rc = run.main([str(bag), "--out", str(out), "--rgb-topic", "/camera/color", "--aux-topic", "/thermal",
                   "--modality", "thermal", "--init-box", "1,2,10,12", "--slop", "0.01",
                   "--init-stamp", str(RGB_STAMPS[2]), "--no-progress"], make_tracker=FakeTracker)
    assert rc == 0
    rows = _read_csv(out)
    assert [int(r["rgb_stamp_ns"]) for r in rows] == [RGB_STAMPS[k] for k in (2, 4, 5)]
    assert [float(r["x"]) for r in rows] == [1, 3, 5]


def test_bag_errors(tmp_path, capsys):
    bag = write_bag(tmp_path / "rec", StoragePlugin.MCAP)
    with pytest.raises(InputError) as err:
        run.run_bag(bag, tmp_path / "x.csv", fake_factory(), "/camera/color", "/nope", "thermal", (1, 1, 5, 5),
                    progress=False, log=lambda *_: None)
    assert err.value.kind == "missing_topic" and "/thermal" in str(err.value)
    # Depth encoder refuses an 8-bit thermal stream on the initialisation frame: the run stops.
    with pytest.raises(InputError):
        run.run_bag(bag, tmp_path / "x.csv", fake_factory(), "/camera/color", "/thermal", "depth", (1, 1, 5, 5),
                    slop=0.01, progress=False, log=lambda *_: None)
    assert not (tmp_path / "x.csv").exists()
    with pytest.raises(SystemExit):
        run.main([str(bag), "--out", str(tmp_path / "x.csv"), "--rgb-topic", "/camera/color"],
                 make_tracker=FakeTracker)
    assert "--aux-topic" in capsys.readouterr().err


def write_bag_with_aux(path, aux_for_frame):
    """RGB frames as in write_bag, and per RGB frame k an aux mono8 image ``aux_for_frame(k)`` with the
    same stamp (any size)."""
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        c_rgb = writer.add_connection("/camera/color", "sensor_msgs/msg/Image", typestore=TS)
        c_aux = writer.add_connection("/thermal", "sensor_msgs/msg/Image", typestore=TS)
        for k, stamp in enumerate(RGB_STAMPS):
            writer.write(c_aux, stamp + 500, TS.serialize_cdr(_image(stamp, aux_for_frame(k), "mono8"),
                                                              "sensor_msgs/msg/Image"))
            writer.write(c_rgb, stamp + 1000, TS.serialize_cdr(_image(stamp, rgb_frame(k), "rgb8"),
                                                               "sensor_msgs/msg/Image"))
    return path


def test_bag_aux_of_another_size_is_resized_to_the_rgb_frame_like_the_node(tmp_path):
    """A thermal camera at half the RGB resolution: the real tracker refuses the pair as recorded
    (negative control) and tracks it after the runner resized the aux image, as the node does."""
    from seatrack_ros.testing import tiny_model
    from seatrack_ros.tracker import SEATracker

    def half_size(k):
        return np.full((H // 2, W // 2), 40 + k, np.uint8)

    bag = write_bag_with_aux(tmp_path / "rec", half_size)
    model = tiny_model()
    with pytest.raises(InputError) as err:
        SEATracker(model, "cpu").initialize(rgb_frame(0), np.repeat(half_size(0)[..., None], 3, axis=2),
                                            (5, 6, 10, 8))
    assert err.value.kind == "size_mismatch"
    messages = []
    summary = run.run_bag(bag, tmp_path / "b.csv", lambda: SEATracker(model, "cpu"), "/camera/color", "/thermal",
                          "thermal", (5, 6, 10, 8), slop=0.01, progress=False, log=messages.append)
    assert summary["frames"] == len(RGB_STAMPS) and summary["problems"] == {}
    assert any(f"aux {W // 2}x{H // 2} is resized to the RGB size {W}x{H}" in m for m in messages)
    # what the tracker is given: the RGB frame's size, the encoded grey value of each aux frame
    trackers = []
    run.run_bag(bag, tmp_path / "f.csv", fake_factory(trackers), "/camera/color", "/thermal", "thermal",
                (5, 6, 10, 8), slop=0.01, progress=False, log=lambda *_: None)
    for k, call in enumerate(trackers[0].calls):
        assert call[2].shape == (H, W, 3)
        assert (call[2] == 40 + k).all()


def test_bag_aux_homography_warps_like_the_node(tmp_path):
    """aux pixel (x, y) lies at RGB pixel (x + 4, y): the warped aux column x holds aux column x - 4,
    columns left of 4 are empty (0)."""
    def gradient(k):
        return np.tile((5 * np.arange(W)).astype(np.uint8), (H, 1))

    bag = write_bag_with_aux(tmp_path / "rec", gradient)
    shift = np.array([[1.0, 0.0, 4.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    expected = np.zeros((H, W), np.uint8)
    expected[:, 4:] = 5 * np.arange(W - 4)
    trackers = []
    run.run_bag(bag, tmp_path / "b.csv", fake_factory(trackers), "/camera/color", "/thermal", "thermal",
                (5, 6, 10, 8), slop=0.01, progress=False, log=lambda *_: None, homography=shift)
    aux = trackers[0].calls[0][2]
    assert aux.shape == (H, W, 3)
    np.testing.assert_array_equal(aux[..., 0], expected)
    # negative control: without the homography the gradient arrives unshifted
    plain = []
    run.run_bag(bag, tmp_path / "p.csv", fake_factory(plain), "/camera/color", "/thermal", "thermal",
                (5, 6, 10, 8), slop=0.01, progress=False, log=lambda *_: None)
    assert not np.array_equal(plain[0].calls[0][2][..., 0], expected)
    # the command line takes the same matrix
    rc = run.main([str(bag), "--out", str(tmp_path / "c.csv"), "--rgb-topic", "/camera/color", "--aux-topic",
                   "/thermal", "--modality", "thermal", "--init-box", "5,6,10,8", "--slop", "0.01",
                   "--aux-to-rgb-homography", "1,0,4,0,1,0,0,0,1", "--no-progress"], make_tracker=FakeTracker)
    assert rc == 0
    assert run.main([str(bag), "--out", str(tmp_path / "d.csv"), "--rgb-topic", "/camera/color", "--aux-topic",
                     "/thermal", "--modality", "thermal", "--init-box", "5,6,10,8",
                     "--aux-to-rgb-homography", "1,0,0,0,0,0,0,0,1", "--no-progress"], make_tracker=FakeTracker) == 1
