# The colcon install tree holds the generated `seatrack_ros.msg`/`seatrack_ros.srv` modules; extending
# the package path lets a source checkout that is first on sys.path still find them.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)
