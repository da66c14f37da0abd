"""Make the typesupport libraries of our generated messages loadable without sourcing setup.bash.

rosidl loads ``libseatrack_ros__rosidl_typesupport_<impl>.so`` by bare name with ``dlopen`` when a
publisher or subscription is created, which searches the ``LD_LIBRARY_PATH`` the process started
with. Sourcing the install tree's setup.bash puts its ``lib`` there. A venv that only has the install
tree on ``sys.path`` (see scripts/setup.sh) does not, so :func:`preload_typesupport` loads those
libraries by full path first; ``dlopen`` of the bare name then finds them already loaded (by their
SONAME). In a sourced ROS environment it changes nothing.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

_loaded = False


def preload_typesupport() -> None:
    """Load the install tree's ``libseatrack_ros__*.so`` once (idempotent, cheap)."""
    global _loaded
    if _loaded:
        return
    import seatrack_ros.msg

    # <prefix>/lib/pythonX.Y/site-packages/seatrack_ros/msg/__init__.py -> <prefix>/lib (not resolving
    # symlinks: a symlink install points into the build tree)
    lib_dir = Path(os.path.abspath(seatrack_ros.msg.__file__)).parents[4]
    # Dependencies first: the generator library before the typesupports that link it.
    libraries = sorted(lib_dir.glob("libseatrack_ros__rosidl_*.so"),
                       key=lambda p: (0 if "generator_c" in p.name else 1, p.name))
    for library in libraries:
        ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
    _loaded = True
