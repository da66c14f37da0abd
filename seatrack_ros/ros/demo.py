"""Demo without a camera or checkpoint: a synthetic RGB + X scene goes through real ROS 2 topics.

Three processes besides this one: a replay publisher (the "cameras"), the tracker node and a
subscriber that prints every target with its latency and writes an annotated image strip (PNG),
video (MP4) of the node's debug image and a CSV of the targets with their IoU against the scene's
ground truth. By default the replay sends the next frame when the previous target arrived (every
frame is tracked; the latency is the pipeline's own); with --realtime it publishes at the camera rate
and the node drops what it cannot keep up with.

The scene is a held-out one of `seatrack_ros.streams.scenes` (seed 10000 and up; the demo model never
saw it in training). Without --checkpoint the node runs the demo model (docs/demo-model.md), which
tracks in these scenes and nowhere else.

    seatrack-demo                                  # thermal, 640x512, the demo model
    seatrack-demo --modality event --frames 40
    seatrack-demo --checkpoint SEATrack_ep0060.pth.tar --lora-merged true
    seatrack-demo --realtime --fps 30 --frames 90  # camera rate: stale frames are dropped

Every process gets ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST (and ROS_LOCALHOST_ONLY=1 on Humble) and
the chosen ROS_DOMAIN_ID.
"""

from __future__ import annotations

import argparse
import array
import csv
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np

from seatrack_ros.streams.stamps import header_stamp_ns

NODE_NAMESPACE = "/seatrack"
RGB_TOPIC = "/demo/rgb/image_raw"
AUX_TOPIC = "/demo/aux"
READY_FILE = ".subscriber_ready"  # in --out: the subscriber has matched the node's target publisher


def _parse(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="seatrack-demo", description=__doc__.split("\n\n")[0])
    from seatrack_ros.model.build import DEVICES
    from seatrack_ros.modalities import MODALITIES

    parser.add_argument("--modality", choices=MODALITIES, default="thermal")
    parser.add_argument("--frames", type=int, default=60, help="frames to replay (default 60)")
    parser.add_argument("--seed", type=int, default=10000,
                        help="synthetic scene seed (default 10000; from 10000 up: not used in training)")
    parser.add_argument("--fps", type=float, default=30.0,
                        help="camera rate of the replay with --realtime (default 30)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--checkpoint", default="", help="SEATrack checkpoint; default: the demo model")
    parser.add_argument("--lora-merged", choices=("true", "false"), default=None,
                        help="checkpoint LoRA convention (default: the convention of the modality's released "
                             "file, from the model registry)")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--realtime", action="store_true",
                        help="replay at --fps like a camera: frames arriving while the model is busy are "
                             "dropped (default: send the next frame when the previous target arrived)")
    parser.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    # ROS treats an empty ROS_DOMAIN_ID as unset
    parser.add_argument("--domain-id", type=int, default=int(os.environ.get("ROS_DOMAIN_ID") or "42"))
    parser.add_argument("--role", choices=("main", "replay", "subscriber"), default="main", help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.paced = not args.realtime
    return args


def _env(domain_id: int) -> dict[str, str]:
    env = dict(os.environ)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    if env.get("ROS_DISTRO") == "humble":
        # Humble predates ROS_AUTOMATIC_DISCOVERY_RANGE; later distributions warn about or ignore this.
        env["ROS_LOCALHOST_ONLY"] = "1"
    env["ROS_DOMAIN_ID"] = str(domain_id)
    profile = Path(__file__).resolve().parents[2] / "config" / "fastdds_localhost.xml"
    if "FASTDDS_DEFAULT_PROFILES_FILE" not in env and profile.is_file():
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(profile)
    env["PYTHONUNBUFFERED"] = "1"
    env["RCUTILS_COLORIZED_OUTPUT"] = "0"
    return env


def _set_stamp(header, stamp_ns: int, frame_id: str) -> None:
    from seatrack_ros.streams.stamps import set_stamp

    set_stamp(header.stamp, stamp_ns)
    header.frame_id = frame_id


def _image(image: np.ndarray, encoding: str, stamp_ns: int, frame_id: str):
    from sensor_msgs.msg import Image

    from seatrack_ros.streams.image_conversions import fill_image_msg

    msg = Image()
    _set_stamp(msg.header, stamp_ns, frame_id)
    return fill_image_msg(msg, image, encoding)


def _events(events, height: int, width: int, stamp_ns: int):
    from seatrack_ros.msg import EventArray

    x, y, t, p = events
    msg = EventArray()
    _set_stamp(msg.header, stamp_ns, "event_camera")
    msg.height, msg.width = height, width
    msg.x = array.array("H", x.astype(np.uint16).tobytes())
    msg.y = array.array("H", y.astype(np.uint16).tobytes())
    msg.t_ns = array.array("q", t.astype(np.int64).tobytes())
    msg.polarity = array.array("B", p.astype(np.uint8).tobytes())
    return msg


def run_replay(args: argparse.Namespace) -> int:
    """Publish the synthetic sequence at ``args.fps`` (or paced by the targets)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from seatrack_ros.msg import EventArray, Target
    from seatrack_ros.streams.scenes import make_scene_sequence
    from seatrack_ros.ros.typesupport_path import preload_typesupport

    preload_typesupport()
    rclpy.init()
    node = rclpy.create_node("seatrack_demo_replay")
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    rgb_pub = node.create_publisher(Image, RGB_TOPIC, qos)
    aux_pub = node.create_publisher(EventArray if args.modality == "event" else Image, AUX_TOPIC, qos)
    answered: set[int] = set()
    cond = threading.Condition()

    def on_target(msg) -> None:
        with cond:
            answered.add(header_stamp_ns(msg))
            cond.notify_all()

    node.create_subscription(Target, f"{NODE_NAMESPACE}/target", on_target, 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    deadline = time.monotonic() + 120
    while (rgb_pub.get_subscription_count() == 0 or aux_pub.get_subscription_count() == 0) and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    frames = make_scene_sequence(args.frames, args.modality, args.height, args.width, fps=args.fps, seed=args.seed)
    truth = []  # (stamp, ground-truth box) of every published frame, for the subscriber's IoU
    period = 1.0 / args.fps
    start = time.monotonic()
    offset_ns = time.time_ns() - frames[0].stamp_ns
    for index, frame in enumerate(frames):
        # Stamp with the current time, as a camera driver does, keeping the sequence's spacing.
        stamp_ns = frame.stamp_ns + offset_ns if not args.paced else time.time_ns()
        if args.modality == "event":
            x, y, t, p = frame.events
            t = t + (stamp_ns - frame.stamp_ns)
            aux_pub.publish(_events((x, y, t, p), args.height, args.width, stamp_ns))
        else:
            aux_pub.publish(_image(frame.aux, frame.aux_encoding, stamp_ns, f"{args.modality}_optical"))
        rgb_pub.publish(_image(frame.rgb, "rgb8", stamp_ns, "rgb_optical"))
        truth.append((stamp_ns, *frame.box))
        if args.paced:
            with cond:
                cond.wait_for(lambda: stamp_ns in answered, timeout=60)
        else:
            time.sleep(max(0.0, start + (index + 1) * period - time.monotonic()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{args.modality}_truth.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("stamp_ns", "x", "y", "width", "height"))
        writer.writerows(truth)
    print(f"[replay] published {len(frames)} {args.width}x{args.height} frame pairs "
          f"({'paced' if args.paced else f'{args.fps:g} fps'})", flush=True)
    time.sleep(0.5)
    executor.shutdown(timeout_sec=2.0)
    spinner.join(timeout=5.0)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def run_subscriber(args: argparse.Namespace) -> int:
    """Print targets with latency; on SIGINT/SIGTERM write the strip, video and CSV, then exit."""
    import cv2
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from seatrack_ros.msg import Target
    from seatrack_ros.streams.image_conversions import image_to_array
    from seatrack_ros.ros.typesupport_path import preload_typesupport

    preload_typesupport()
    rclpy.init()
    node = rclpy.create_node("seatrack_demo_subscriber")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    debug_frames = []
    status_names = {Target.STATUS_WAITING_FOR_INIT: "WAITING", Target.STATUS_TRACKING: "TRACKING",
                    Target.STATUS_LOST: "LOST"}

    def on_target(msg) -> None:
        now_ns = time.time_ns()
        stamp_ns = header_stamp_ns(msg)
        end_to_end = (now_ns - stamp_ns) / 1e6
        row = {"stamp_ns": stamp_ns, "x": msg.x, "y": msg.y, "width": msg.width, "height": msg.height,
               "confidence": msg.confidence, "status": status_names.get(msg.status, str(msg.status)),
               "track_id": msg.track_id, "latency_ms": msg.latency * 1e3,
               "transport_ms": msg.latency_transport * 1e3, "sync_ms": msg.latency_sync * 1e3,
               "encoding_ms": msg.latency_encoding * 1e3, "model_ms": msg.latency_model * 1e3,
               "publish_ms": msg.latency_publish * 1e3, "received_ms": end_to_end,
               "dropped_pairs": msg.dropped_pairs, "test_weights": msg.test_weights, "model": msg.model}
        rows.append(row)
        print(f"[target] t={stamp_ns / 1e9:.3f} box=({msg.x:.1f}, {msg.y:.1f}, {msg.width:.1f}, "
              f"{msg.height:.1f}) conf={msg.confidence:.3f} {row['status']} id={msg.track_id} "
              f"latency={row['latency_ms']:.1f} ms (transport {row['transport_ms']:.1f}, sync "
              f"{row['sync_ms']:.1f}, encoding {row['encoding_ms']:.1f}, model {row['model_ms']:.1f}, "
              f"publish {row['publish_ms']:.2f}; received after {end_to_end:.1f} ms) "
              f"dropped so far {msg.dropped_pairs}{' [TEST WEIGHTS]' if msg.test_weights else ''}", flush=True)

    def on_debug(msg) -> None:
        try:
            image, _ = image_to_array(msg)
        except ValueError:
            return
        debug_frames.append(image)

    target_sub = node.create_subscription(Target, f"{NODE_NAMESPACE}/target", on_target, 50)
    node.create_subscription(Image, f"{NODE_NAMESPACE}/debug_image", on_debug,
                             QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ready = out / READY_FILE
    while not stop.is_set():
        rclpy.spin_once(node, timeout_sec=0.1)
        if not ready.exists() and _matched_publishers(node, target_sub) > 0:
            ready.touch()  # run_main starts the replay only now: no target is published before we match
    node.destroy_node()
    rclpy.try_shutdown()

    name = args.modality
    if rows:
        add_ground_truth(rows, out / f"{name}_truth.csv")
        with open(out / f"{name}_targets.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        # the first target of a track is the init frame (no forward pass through the search branch)
        first_of_track = {}
        for index, r in enumerate(rows):
            first_of_track.setdefault(r["track_id"], index)
        tracked = [r for i, r in enumerate(rows)
                   if r["status"] != "WAITING" and first_of_track[r["track_id"]] != i]
        sample = tracked or rows
        parts = ("transport_ms", "sync_ms", "encoding_ms", "model_ms", "publish_ms", "latency_ms", "received_ms")
        medians = {p: float(np.median([r[p] for r in sample])) for p in parts}
        print(f"[summary] {len(rows)} targets for {args.frames} frames; median over {len(sample)} tracked "
              f"frames: " + ", ".join(f"{p[:-3]} {v:.1f} ms" for p, v in medians.items()), flush=True)
        ious = [r["iou"] for r in sample if r["iou"] != ""]
        if ious:
            print(f"[summary] model {rows[0]['model'] or '?'}: mean IoU with the ground truth {np.mean(ious):.3f} "
                  f"over {len(ious)} tracked frames", flush=True)
    if debug_frames:
        height, width = debug_frames[0].shape[:2]
        writer = cv2.VideoWriter(str(out / f"{name}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (width, height))
        for image in debug_frames:
            if image.shape[:2] == (height, width):
                writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        writer.release()
        picks = np.linspace(0, len(debug_frames) - 1, num=min(6, len(debug_frames))).round().astype(int)
        tiles = [cv2.resize(debug_frames[i], (width // 2, height // 2), interpolation=cv2.INTER_AREA)
                 for i in picks if debug_frames[i].shape[:2] == (height, width)]
        strip = np.concatenate(tiles, axis=0)
        cv2.imwrite(str(out / f"{name}_strip.png"), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
        print(f"[subscriber] wrote {out / (name + '_strip.png')} and {out / (name + '.mp4')} "
              f"({len(debug_frames)} annotated frames)", flush=True)
    return 0 if rows else 1


def _matched_publishers(node, subscription) -> int:
    """Publishers matched to ``subscription`` (rclpy before Iron lacks the call: the graph count)."""
    if hasattr(subscription, "get_publisher_count"):
        return subscription.get_publisher_count()
    return node.count_publishers(subscription.topic_name)


def box_iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(width, 0.0) * max(height, 0.0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def add_ground_truth(rows: list[dict], truth_csv: Path) -> None:
    """Give every target row an ``iou`` with the replayed frame's true box (matched by stamp; empty
    where the replay wrote no truth, e.g. an interrupted run)."""
    truth = {}
    if truth_csv.is_file():
        with open(truth_csv, newline="") as handle:
            for r in csv.DictReader(handle):
                truth[int(r["stamp_ns"])] = tuple(float(r[k]) for k in ("x", "y", "width", "height"))
    for row in rows:
        box = truth.get(row["stamp_ns"])
        tracked = row["status"] != "WAITING"
        row["iou"] = box_iou((row["x"], row["y"], row["width"], row["height"]), box) if box and tracked else ""


def run_main(args: argparse.Namespace) -> int:
    from seatrack_ros.streams.scenes import Scene, SceneSettings

    env = _env(args.domain_id)
    first_box = Scene(args.seed, SceneSettings(height=args.height, width=args.width, fps=args.fps, frames=1)).box(0)
    from seatrack_ros.model.build import variant_for_modality

    lora_merged = args.lora_merged or str(variant_for_modality(args.modality).lora_merged).lower()
    node_cmd = [sys.executable, "-m", "seatrack_ros.ros.node", "--ros-args",
                "-p", f"modality:={args.modality}",
                "-p", f"rgb_topic:={RGB_TOPIC}", "-p", f"aux_topic:={AUX_TOPIC}",
                "-p", f"aux_transport:={'events' if args.modality == 'event' else 'raw'}",
                "-p", "reliable_qos:=true", "-p", f"device:={args.device}",
                "-p", f"lora_merged:={lora_merged}",
                "-p", "init_box:=[" + ",".join(f"{v:.2f}" for v in first_box) + "]"]
    if args.checkpoint:
        node_cmd += ["-p", f"checkpoint:={os.path.abspath(args.checkpoint)}"]
    common = ["--modality", args.modality, "--frames", str(args.frames), "--fps", str(args.fps), "--seed", str(args.seed),
              "--width", str(args.width), "--height", str(args.height), "--out", args.out]
    if args.realtime:
        common.append("--realtime")
    me = [sys.executable, "-m", "seatrack_ros.ros.demo"]
    print(f"[demo] {args.modality}: {args.frames} frames of {args.width}x{args.height} (scene {args.seed}), "
          f"{'paced' if args.paced else f'{args.fps:g} fps'}, ROS_DOMAIN_ID={args.domain_id}, "
          f"weights: {args.checkpoint or 'the demo model (synthetic scenes only)'}", flush=True)
    node = subprocess.Popen(node_cmd, env=env)
    subscriber = subprocess.Popen(me + common + ["--role", "subscriber"], env=env)
    replay = None
    code = 1
    ready = Path(args.out) / READY_FILE
    ready.unlink(missing_ok=True)
    try:
        # Targets published before the subscriber has matched the node's publisher would be lost to it
        # (volatile QoS), which on a loaded machine can be the first second or two of the sequence.
        deadline = time.monotonic() + 120
        while not ready.exists() and subscriber.poll() is None and node.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        replay = subprocess.Popen(me + common + ["--role", "replay"], env=env)
        replay.wait(timeout=600 + args.frames * 5)
        # let the node finish the pair it is working on (one model step) before stopping
        time.sleep(3.0 if args.device == "cuda" else 4.0)
        subscriber.send_signal(signal.SIGINT)
        code = subscriber.wait(timeout=120)
    finally:
        ready.unlink(missing_ok=True)
        for proc in (replay, subscriber, node):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return code


def main(argv: Optional[list[str]] = None) -> int:
    args = _parse(argv)
    if args.role == "replay":
        return run_replay(args)
    if args.role == "subscriber":
        return run_subscriber(args)
    return run_main(args)


if __name__ == "__main__":
    sys.exit(main())
