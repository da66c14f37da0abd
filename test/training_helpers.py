"""Tiny textured sequences for the fine-tuning tests: a checkered target moving over a tiled
background, written in every benchmark layout and as a rosbag2 recording with a box file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

H, W = 96, 128
TARGET_W, TARGET_H = 22, 18


def target_boxes(n: int) -> list[tuple[float, float, float, float]]:
    return [(30.0 + 5 * i, 30.0 + 2 * i, float(TARGET_W), float(TARGET_H)) for i in range(n)]


def render(i: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Frame ``i``: rgb (H, W, 3) RGB, thermal (H, W) uint8, depth (H, W) uint16 mm, event (H, W, 3) BGR."""
    rng = np.random.default_rng(seed)
    tiles = rng.integers(0, 160, size=(H // 8 + 1, W // 8 + 1, 3), dtype=np.uint8)
    rgb = np.kron(tiles, np.ones((8, 8, 1), np.uint8))[:H, :W].copy()
    thermal = np.full((H, W), 40, np.uint8)
    thermal[::16, :] = 60
    depth = np.full((H, W), 4000, np.uint16)
    event = np.full((H, W, 3), 255, np.uint8)
    x, y, w, h = (int(v) for v in target_boxes(i + 1)[i])
    checker = ((np.indices((h, w)).sum(axis=0) // 3) % 2).astype(bool)
    patch = np.where(checker[..., None], np.uint8([250, 220, 40]), np.uint8([200, 30, 30]))
    rgb[y:y + h, x:x + w] = patch
    thermal[y:y + h, x:x + w] = 230
    depth[y:y + h, x:x + w] = 1200
    event[y:y + h, x:x + 2] = (255, 0, 0)  # the target's leading/trailing edges fire events
    event[y:y + h, x + w - 2:x + w] = (0, 0, 255)
    return {"rgb": rgb, "thermal": thermal, "depth": depth, "event": event}


def _bgr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


def _lines(rows, sep=",") -> str:
    return "".join(sep.join(f"{v:g}" for v in r) + "\n" for r in rows)


def write_layout(root: Path, layout: str, n: int = 8, name: str = "seq01") -> Path:
    """One sequence of ``n`` frames in ``layout`` under ``root`` (returns the dataset root)."""
    seq = root / name
    boxes = target_boxes(n)
    for i in range(n):
        f = render(i)
        if layout in ("lasher", "rgbt234"):
            _write(seq / "visible" / f"v{i + 1:06d}.jpg", _bgr(f["rgb"]))
            _write(seq / "infrared" / f"i{i + 1:06d}.jpg", f["thermal"])
        elif layout == "gtot":
            _write(seq / "v" / f"{i + 1:05d}v.png", _bgr(f["rgb"]))
            _write(seq / "i" / f"{i + 1:05d}i.png", f["thermal"])
        elif layout == "visevent":
            _write(seq / "vis_imgs" / f"frame{i:04d}.bmp", _bgr(f["rgb"]))
            _write(seq / "event_imgs" / f"frame{i:04d}.bmp", f["event"])
        elif layout == "depthtrack":
            _write(seq / "color" / f"{i + 1:08d}.jpg", _bgr(f["rgb"]))
            _write(seq / "depth" / f"{i + 1:08d}.png", f["depth"])
        else:
            raise ValueError(layout)
    if layout == "lasher":
        (seq / "visible.txt").write_text(_lines(boxes))
        (seq / "infrared.txt").write_text(_lines(boxes))
    elif layout == "rgbt234":
        corners = [(x, y, x + w, y, x + w, y + h, x, y + h) for x, y, w, h in boxes]
        (seq / "visible.txt").write_text(_lines(corners))
        (seq / "infrared.txt").write_text(_lines(corners))
    elif layout == "gtot":
        ltrb = [(x, y, x + w, y + h) for x, y, w, h in boxes]
        (seq / "groundTruth_v.txt").write_text(_lines(ltrb, " "))
        (seq / "groundTruth_i.txt").write_text(_lines(ltrb, " "))
    elif layout == "visevent":
        (seq / "groundtruth.txt").write_text(_lines(boxes))
        (seq / "absent_label.txt").write_text("1\n" * n)
    else:
        (seq / "groundtruth.txt").write_text(_lines(boxes))
    return root


T0 = 1_700_000_000_000_000_000
PERIOD = 100_000_000


def write_bag(path: Path, n: int = 8) -> tuple[list[int], list[tuple]]:
    """An mcap recording with /camera/color (rgb8) and /thermal (mono8); returns the RGB stamps and boxes."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_KILTED)
    Image, Header, Time = (ts.types[t] for t in ("sensor_msgs/msg/Image", "std_msgs/msg/Header",
                                                 "builtin_interfaces/msg/Time"))

    def image(stamp, array, encoding):
        step = array.shape[1] * (array.shape[2] if array.ndim == 3 else 1)
        header = Header(stamp=Time(sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000), frame_id="cam")
        return Image(header=header, height=array.shape[0], width=array.shape[1], encoding=encoding,
                     is_bigendian=0, step=step, data=np.frombuffer(array.tobytes(), np.uint8))

    stamps = [T0 + k * PERIOD for k in range(n)]
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        c_rgb = writer.add_connection("/camera/color", "sensor_msgs/msg/Image", typestore=ts)
        c_aux = writer.add_connection("/thermal", "sensor_msgs/msg/Image", typestore=ts)
        for k, stamp in enumerate(stamps):
            f = render(k)
            writer.write(c_rgb, stamp, ts.serialize_cdr(image(stamp, f["rgb"], "rgb8"), "sensor_msgs/msg/Image"))
            aux_stamp = stamp + 2_000_000
            writer.write(c_aux, aux_stamp, ts.serialize_cdr(image(aux_stamp, f["thermal"], "mono8"),
                                                            "sensor_msgs/msg/Image"))
    return stamps, target_boxes(n)


def write_seatrack_run_csv(path: Path, stamps: list[int], boxes: list[tuple]) -> None:
    """A box file in the format `seatrack-run` writes for a bag."""
    rows = ["frame,rgb_stamp_ns,aux_stamp_ns,x,y,w,h,score"]
    for k, (stamp, (x, y, w, h)) in enumerate(zip(stamps, boxes)):
        rows.append(f"{k},{stamp},{stamp + 2_000_000},{x:.4f},{y:.4f},{w:.4f},{h:.4f},{'' if k == 0 else '0.5'}")
    path.write_text("\n".join(rows) + "\n")
