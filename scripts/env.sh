# Environment for running seatrack_ros from this checkout (sourced by setup.sh, test.sh, demo.sh).
# Uses the venv at ./.venv as the ROS 2 prefix and the colcon install tree at ./install.
# Safe to source more than once.
SEATRACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SEATRACK_VENV="$SEATRACK_ROOT/.venv"
SEATRACK_INSTALL="$SEATRACK_ROOT/install/seatrack_ros"
_seatrack_pyver="3.11"
if [ -x "$SEATRACK_VENV/bin/python" ]; then
  _seatrack_pyver="$("$SEATRACK_VENV/bin/python" -c 'import sys;print("%d.%d" % sys.version_info[:2])')"
fi
SEATRACK_INSTALL_SITE="$SEATRACK_INSTALL/lib/python$_seatrack_pyver/site-packages"
export PATH="$SEATRACK_VENV/bin:$PATH"
# The source tree comes first so edits need no rebuild; its seatrack_ros/__init__.py extends the
# package path, so the generated seatrack_ros.msg / seatrack_ros.srv are found in the install tree.
export PYTHONPATH="$SEATRACK_ROOT:$SEATRACK_INSTALL_SITE${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$SEATRACK_INSTALL/lib:$SEATRACK_VENV/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export AMENT_PREFIX_PATH="$SEATRACK_INSTALL:$SEATRACK_VENV"
export CMAKE_PREFIX_PATH="$SEATRACK_VENV"
# Never let DDS discovery leave this machine; callers may choose their own domain id.
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# Humble predates ROS_AUTOMATIC_DISCOVERY_RANGE (added in Iron) and reads ROS_LOCALHOST_ONLY instead;
# Jazzy warns about the latter on every process and Kilted ignores it, so it is set for Humble only.
if [ "${ROS_DISTRO:-}" = "humble" ]; then
  export ROS_LOCALHOST_ONLY=1
fi
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-42}"
# Larger shared-memory segment (640x512 images exceed Fast DDS's default) and UDP on 127.0.0.1 only.
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$SEATRACK_ROOT/config/fastdds_localhost.xml}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
unset _seatrack_pyver
