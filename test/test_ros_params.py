"""Parameter validation at start (clear error, exit code 2), checkpoint errors, parameter
descriptors, and the warning for a publisher whose QoS does not match the subscription."""

from __future__ import annotations

import time

import pytest
import torch

import rosutil

DOMAIN = rosutil.domain_id(5)
TOPICS = {"rgb_topic": "/cam/rgb", "aux_topic": "/cam/aux", "stats_period": 0.0}

BAD = {
    "slop out of range": ({"sync_slop": 5.0}, r"sync_slop"),
    "queue size 0": ({"sync_queue_size": 0}, r"sync_queue_size"),
    "lost threshold > 1": ({"lost_threshold": 1.5}, r"lost_threshold"),
    "unknown modality": ({"modality": "sonar"}, r"modality must be one of"),
    "events for thermal": ({"modality": "thermal", "aux_transport": "events"}, r"aux_transport .* must be one of"),
    "init box of 3": ({"init_box": [1.0, 2.0, 3.0]}, r"init_box needs 4 numbers"),
    "init box zero width": ({"init_box": [1.0, 2.0, 0.0, 3.0]}, r"init_box needs width and height > 0"),
    "singular homography": ({"aux_to_rgb_homography": [0.0] * 9}, r"aux_to_rgb_homography is singular"),
    "mono16 range reversed": ({"mono16_range": [500.0, 100.0]}, r"mono16_range needs low < high"),
    "unknown device": ({"device": "tpu"}, r"device must be one of"),
    "missing checkpoint": ({"checkpoint": "/nonexistent/seatrack.pth"}, r"checkpoint file not found"),
    # list parameters are dynamically typed, so rclpy accepts any value type for them
    "init box scalar": ({"init_box": 5}, r"init_box needs a list of 4 numbers, got 5"),
    "init box of bools": ({"init_box": [True, False, True, True]}, r"init_box must be numbers"),
    "mono16 range bool": ({"mono16_range": True}, r"mono16_range needs a list of 2 numbers, got True"),
    "homography scalar": ({"aux_to_rgb_homography": 3.5}, r"aux_to_rgb_homography needs a list of 9 numbers"),
    "rgb topic with a space": ({"rgb_topic": "bad topic"}, r"rgb_topic 'bad topic' is not a valid topic name"),
    "aux topic repeated slash": ({"aux_topic": "/a//b"}, r"aux_topic '/a//b' is not a valid topic name"),
    "unknown variant": ({"variant": "vitl"}, r"variant must be empty or one of"),
    "test weights and a checkpoint": ({"test_weights": True, "checkpoint": "/x.pth"},
                                      r"test_weights and checkpoint exclude each other"),
    "demo test weights": ({"test_weights": True, "variant": "demo"}, r"the demo variant has no test weights"),
    "released variant without a checkpoint": ({"variant": "rgbe", "test_weights": False},
                                              r"variant rgbe needs a checkpoint"),
    "unknown precision": ({"precision": "int8"}, r"precision must be one of"),
}
# rejected before the model loads (a bad name must not cost the model's start-up time)
BEFORE_MODEL = {"rgb topic with a space", "aux topic repeated slash"}


@pytest.fixture(scope="module")
def bad_checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    garbage = folder / "garbage.pth"
    garbage.write_bytes(b"this is not a torch checkpoint")
    wrong_keys = folder / "wrong_keys.pth"
    torch.save({"net": {"backbone.not_a_layer.weight": torch.zeros(3)}}, wrong_keys)
    return {"garbage": (str(garbage), r"cannot read checkpoint"),
            "wrong keys": (str(wrong_keys), r"missing keys.*unexpected keys: backbone.not_a_layer.weight")}


@pytest.fixture(scope="module")
def failed_starts(bad_checkpoints):
    """Start every bad configuration at once (each exits early) and collect (exit code, log)."""
    cases = {name: params for name, (params, _) in BAD.items()}
    for name, (path, _) in bad_checkpoints.items():
        cases[f"checkpoint {name}"] = {"checkpoint": path}
    if not torch.cuda.is_available():
        cases["cuda without a GPU"] = {"device": "cuda"}
    procs = {name: rosutil.NodeProcess(DOMAIN, dict(TOPICS, **params)) for name, params in cases.items()}
    procs["malformed remap rule"] = rosutil.NodeProcess(DOMAIN, TOPICS, extra_args=["-r", "no_separator"])
    return rosutil.exits_of(procs)


def expected_patterns(bad_checkpoints):
    patterns = {name: pattern for name, (_, pattern) in BAD.items()}
    for name, (_, pattern) in bad_checkpoints.items():
        patterns[f"checkpoint {name}"] = pattern
    if not torch.cuda.is_available():
        patterns["cuda without a GPU"] = r"no CUDA device is available"
    patterns["malformed remap rule"] = r"invalid command-line arguments: .*no_separator"
    return patterns


@pytest.mark.parametrize(
    "case", sorted(list(BAD) + ["checkpoint garbage", "checkpoint wrong keys", "malformed remap rule"]))
def test_bad_configuration_exits_with_clear_error(failed_starts, bad_checkpoints, case):
    import re

    code, log = failed_starts[case]
    assert code == 2, log
    assert "cannot start" in log, log
    assert re.search(expected_patterns(bad_checkpoints)[case], log), log
    assert "Traceback" not in log, log
    if case in BEFORE_MODEL | {"malformed remap rule"}:
        assert "model loaded" not in log, log


def test_cuda_request_without_gpu(failed_starts):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, log = failed_starts["cuda without a GPU"]
    assert code == 2 and "no CUDA device is available" in log, log


@pytest.fixture(scope="module")
def reliable_node():
    proc = rosutil.NodeProcess(DOMAIN + 1, dict(TOPICS, reliable_qos=True, modality="depth"))
    try:
        proc.wait_for_log("ready: modality=depth", timeout=180)
        yield proc
    finally:
        proc.stop()


def test_descriptors_and_incompatible_qos_warning(reliable_node):
    from rcl_interfaces.srv import DescribeParameters, ListParameters

    client = rosutil.Client(DOMAIN + 1, reliable_publishers=False)  # best effort vs a reliable subscription
    try:
        names = client.call(client.node.create_client(ListParameters, "/seatrack/list_parameters"),
                            ListParameters.Request()).result.names
        for required in ("modality", "rgb_topic", "aux_topic", "sync_slop", "reliable_qos", "checkpoint",
                         "lora_merged", "device", "half", "lost_threshold", "init_box",
                         "aux_to_rgb_homography"):
            assert required in names
        describe = client.node.create_client(DescribeParameters, "/seatrack/describe_parameters")
        ours = [n for n in names if n != "use_sim_time" and not n.startswith("qos_overrides")]
        descriptors = client.call(describe, DescribeParameters.Request(names=ours)).descriptors
        assert all(d.description for d in descriptors)
        by_name = {d.name: d for d in descriptors}
        slop = by_name["sync_slop"].floating_point_range[0]
        assert 0 < slop.from_value < slop.to_value
        assert by_name["sync_queue_size"].integer_range[0].from_value >= 1
        assert by_name["modality"].read_only
        assert not by_name["lost_threshold"].read_only
        reliable_node.wait_for_log(r"/cam/(rgb|aux): a publisher's QoS is incompatible .*RELIABILITY", timeout=20)
    finally:
        client.close()
    time.sleep(0.1)
    assert reliable_node.proc.poll() is None


def test_installed_executable_runs_the_node():
    """lib/seatrack_ros/seatrack_node (what `ros2 run seatrack_ros seatrack_node` starts) reaches the
    node's parameter checks."""
    import subprocess

    executable = rosutil.INSTALL / "lib" / "seatrack_ros" / "seatrack_node"
    assert executable.is_file(), "run scripts/setup.sh (colcon build) first"
    result = subprocess.run([str(executable), "--ros-args", "-p", "modality:=sonar"],
                            env=rosutil.ros_env(DOMAIN), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "modality must be one of" in result.stdout + result.stderr


def test_name_error_while_starting_exits_2(monkeypatch):
    """A NameValidationException from rclpy while the node is built (e.g. a name made invalid by a
    remapping) ends like any other bad configuration: exit code 2, no traceback."""
    rosutil.configure_this_process(DOMAIN + 2)
    from rclpy.exceptions import InvalidTopicNameException

    from seatrack_ros.ros import node as node_module

    def raise_name_error():
        raise InvalidTopicNameException("bad topic", "must not contain ' '", 3)

    monkeypatch.setattr(node_module, "SeaTrackNode", raise_name_error)
    assert node_module.main(["seatrack_node"]) == 2


def test_in_process_main_gives_back_the_signal_handlers(monkeypatch):
    """main() called in-process leaves SIGINT as it found it (else every later child process, such as
    `ros2 launch` in the real-launch tests, would inherit SIG_IGN and ignore Ctrl-C)."""
    import signal

    rosutil.configure_this_process(DOMAIN + 2)
    from seatrack_ros.ros import node as node_module

    before = signal.getsignal(signal.SIGINT)
    assert node_module.main(["seatrack_node", "--ros-args", "-p", "modality:=sonar"]) == 2
    assert signal.getsignal(signal.SIGINT) is before
