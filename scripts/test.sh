#!/usr/bin/env bash
# Run the test suite: setup (idempotent), then pytest on test/. As root, with unshare and ip available,
# the tests run in a new network namespace that only has the loopback interface, so no ROS traffic
# can leave the machine (pip cannot run in there, hence setup first). Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash "$ROOT/scripts/setup.sh"
# The real ROS 2 launch system, ros2cli, launch_testing, vision_msgs and event_camera_msgs are not on
# PyPI. Where the kit of their upstream sources lies beside the checkout (as in CI), install them into
# the venv (idempotent, seconds when up to date) so the tests run the real tools; elsewhere the tests
# that need them skip. SEATRACK_ROS2_UPSTREAM names another kit folder; set it empty to skip the kit.
KIT="${SEATRACK_ROS2_UPSTREAM-$ROOT/../shared/ros2-upstream}"
if [ -n "$KIT" ] && [ -f "$KIT/install.sh" ]; then
  bash "$KIT/install.sh" "$ROOT"
else
  echo "[test] no ros2-upstream kit${KIT:+ at $KIT}: tests of ros2 launch / ros2cli / launch_testing skip" >&2
fi
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-47}"  # tests choose their own per module; this covers the rest
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"  # also sets ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST

targets=("$ROOT/test")
for arg in "$@"; do
  case "$arg" in -*) ;; *) targets=() ;; esac  # the caller named test files or directories
done
PYTEST=("$ROOT/.venv/bin/python" -m pytest "${targets[@]}" -q -p no:cacheprovider "$@")
isolate=0
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null \
   && unshare -n true 2>/dev/null; then
  isolate=1
fi

set +e
if [ "$isolate" = 1 ]; then
  echo "[test] running pytest in a loopback-only network namespace" >&2
  unshare -n bash -c 'ip link set lo up && exec "$@"' bash "${PYTEST[@]}"
else
  echo "[test] running pytest (not root or no unshare: no network namespace)" >&2
  "${PYTEST[@]}"
fi
rc=$?
set -e
if [ "$rc" = 5 ]; then
  # pytest's "no tests collected": fine for a filtered run, an error for the whole suite.
  if [ "$#" -gt 0 ]; then
    echo "[test] no tests matched the given arguments" >&2
    rc=0
  else
    echo "[test] ERROR: pytest collected no tests" >&2
  fi
fi
exit "$rc"
