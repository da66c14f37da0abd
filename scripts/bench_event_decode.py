#!/usr/bin/env python3
"""Benchmark: decode time of one 100k-event EventPacket (evt3 and mono), against a baseline measured
in the same run.

Packets (synthetic, deterministic):
  evt3-addr    one EVT_ADDR_X word per event, rows and time words between them (what the HD camera
               recording in ../shared/ros2-upstream/data holds)
  evt3-vector  VECT_BASE_X + VECT_12 words with about half of the 12 bits set (a busy scene)
  mono         64 bits per event
Baseline: the least any vectorised decoder of the same bytes does: view the words, split type and
payload, and gather the four output arrays (x, y, t, polarity) of the same length from them. The ratio
says how many such floors the decoder costs, which stays comparable when the machine is busy; the
target is an absolute decode time under 5 ms. The load average is printed: on a shared machine
the median includes time the process waited for a core, the minimum less so.

Usage: python scripts/bench_event_decode.py [--events 100000] [--repeat 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from seatrack_ros.modalities.event_packet import EventPacketDecoder

TARGET_MS = 5.0


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def evt3_addr_packet(n_events: int, rng: np.random.Generator) -> np.ndarray:
    words = [0x8000 | 100, 0x6000]
    low = 0
    made = 0
    while made < n_events:
        words.append(0x0000 | int(rng.integers(0, 720)))
        for _ in range(int(rng.integers(1, 12))):
            words.append(0x2000 | int(rng.integers(0, 2)) << 11 | int(rng.integers(0, 1280)))
            made += 1
        if rng.random() < 0.2:
            low = (low + 1) % 4096
            words.append(0x6000 | low)
    return np.array(words, dtype="<u2")


def evt3_vector_packet(n_events: int, rng: np.random.Generator) -> np.ndarray:
    words = [0x8000 | 100, 0x6000]
    low = 0
    made = 0
    while made < n_events:
        words.append(0x0000 | int(rng.integers(0, 720)))
        words.append(0x3000 | int(rng.integers(0, 2)) << 11 | int(rng.integers(0, 1200)))
        for _ in range(int(rng.integers(1, 6))):
            mask = int(rng.integers(1, 4096))
            words.append(0x4000 | mask)
            made += bin(mask).count("1")
        if rng.random() < 0.3:
            low = (low + 1) % 4096
            words.append(0x6000 | low)
    return np.array(words, dtype="<u2")


def mono_packet(n_events: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.integers(0, 640, n_events, dtype=np.uint64)
    y = rng.integers(0, 480, n_events, dtype=np.uint64)
    p = rng.integers(0, 2, n_events, dtype=np.uint64)
    dt = np.sort(rng.integers(0, 10_000_000, n_events, dtype=np.uint64))
    return ((p << np.uint64(63)) | (y << np.uint64(48)) | (x << np.uint64(32)) | dt).astype("<u8")


def baseline(data: bytes, n_events: int) -> None:
    """The floor: view the words, split type and payload, and gather the four output arrays of
    n_events with one index each (any decoder has to place every event at least once)."""
    words = np.frombuffer(data, dtype="<u2")
    types = words >> 12
    payload = (words & np.uint16(0x0FFF)).astype(np.int64)
    index = np.arange(n_events) % words.shape[0]
    x = payload[index].astype(np.uint16)
    y = payload[index[::-1]].astype(np.uint16)
    t = payload[index] * 1000
    p = types[index].astype(np.uint8)
    return x, y, t, p


def timed(function, repeat: int) -> list[float]:
    function()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    packets = {
        "evt3-addr": ("evt3", 1280, 720, evt3_addr_packet(args.events, rng).tobytes()),
        "evt3-vector": ("evt3", 1280, 720, evt3_vector_packet(args.events, rng).tobytes()),
        "mono": ("mono", 640, 480, mono_packet(args.events, rng).tobytes()),
    }
    try:
        load = Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        load = "?"
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical CPUs, load average {load}); numpy {np.__version__}; "
          f"Python {platform.python_version()}; median of {args.repeat} runs")
    print(f"{'packet':12s} {'events':>8s} {'bytes':>8s} {'decode ms':>10s} {'min ms':>8s} {'baseline ms':>12s} "
          f"{'ratio':>6s} {'Mev/s':>7s}  target < {TARGET_MS:g} ms")
    for name, (encoding, width, height, data) in packets.items():
        decoder = EventPacketDecoder()
        decoded = decoder.decode(data, encoding, width, height)
        n = len(decoded)
        decode_times = timed(lambda: decoder.decode(data, encoding, width, height), args.repeat)
        base_times = timed(lambda: baseline(data, n), args.repeat)
        decode_ms = statistics.median(decode_times)
        base_ms = statistics.median(base_times)
        verdict = "met" if decode_ms < TARGET_MS else "MISSED"
        print(f"{name:12s} {n:8d} {len(data):8d} {decode_ms:10.2f} {min(decode_times):8.2f} {base_ms:12.3f} "
              f"{decode_ms / base_ms:6.1f} {n / decode_ms / 1000:7.1f}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
