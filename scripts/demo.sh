#!/usr/bin/env bash
# Set up (idempotent) and run the demo: a synthetic 640x512 RGB + thermal sequence replayed over
# ROS 2 topics into the tracker node (separate processes); prints each target with its latency and
# writes out/demo/<modality>_strip.png, <modality>.mp4 and <modality>_targets.csv.
#   scripts/demo.sh                                   # test weights (boxes mean nothing)
#   scripts/demo.sh --checkpoint SEATrack_ep0060.pth.tar --lora-merged true
#   scripts/demo.sh --modality event --frames 12      # or depth; --realtime --fps 30: camera rate
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash "$ROOT/scripts/setup.sh"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"  # ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, ROS_DOMAIN_ID (default 42)
exec "$ROOT/.venv/bin/python" -m seatrack_ros.ros.demo --out "$ROOT/out/demo" "$@"
