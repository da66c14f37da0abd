"""Hostile and careless checkpoint files: nothing from them runs, nothing they declare is trusted.

Every hostile file here is built by the test. Payloads that would leave a marker file (``os.system``)
or print a token (TorchScript) are checked to be live with a negative control: plain ``pickle`` or
``torch.jit.load`` on the same bytes does run them.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import tarfile
import textwrap
import threading
import zipfile

import pytest
import torch

from seatrack_ros.errors import CheckpointError
from seatrack_ros.model import build_seatrack, load_checkpoint, load_ostrack_pretrained, read_state_dict
from seatrack_ros.model import checkpoint as ckpt
from seatrack_ros.model.checkpoint import is_peft_key, open_checkpoint_file, read_checkpoint_file

WEIGHTS = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.tensor([1, 2, 3], dtype=torch.int64)}


class SystemPayload:
    """Unpickled by a plain unpickler, this runs ``touch <marker>`` through os.system."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _assert_weights(state) -> None:
    assert sorted(state) == sorted(WEIGHTS)
    for key, value in WEIGHTS.items():
        assert state[key].dtype == value.dtype and torch.equal(state[key], value), key


# --- no code from any container -------------------------------------------------------------------


@pytest.mark.parametrize("protocol", range(6))
def test_plain_pickle_payload_is_live(tmp_path, protocol):
    """Negative control for the tests below: the payload does run under a plain unpickler."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(SystemPayload(marker), protocol=protocol))
    assert marker.exists()


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("protocol", range(6))
def test_torch_save_with_payload_runs_nothing_and_keeps_the_tensors(tmp_path, protocol, zip_format):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    # Protocol 0 writes torch's storage ids as text, which no torch.load reads back, so that file has
    # no tensors; its tensor-holding twin must still fail cleanly.
    weights = WEIGHTS if protocol else {}
    torch.save(
        {"net": weights, "epoch": 7, "payload": SystemPayload(marker)},
        path,
        pickle_protocol=protocol,
        _use_new_zipfile_serialization=zip_format,
    )
    obj = read_checkpoint_file(path)
    assert not marker.exists()
    assert obj["epoch"] == 7
    assert obj["payload"].source.endswith(".system")  # an inert placeholder
    if protocol:
        _assert_weights(read_state_dict(path))
    else:
        torch.save({"net": WEIGHTS, "payload": SystemPayload(marker)}, path, pickle_protocol=0,
                   _use_new_zipfile_serialization=zip_format)
        with pytest.raises(CheckpointError, match="cannot read checkpoint"):
            read_state_dict(path)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", range(6))
def test_bare_pickle_payload_is_rejected_without_running(tmp_path, protocol):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"net": SystemPayload(marker)}, protocol=protocol))
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        read_checkpoint_file(path)
    assert not marker.exists()


TORCHSCRIPT_MODULE = textwrap.dedent(
    """
    import sys
    from typing import Tuple
    import torch

    class Evil(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(2))

        @torch.jit.export
        def __getstate__(self) -> Tuple[torch.Tensor, bool]:
            return (self.w, self.training)

        @torch.jit.export
        def __setstate__(self, state: Tuple[torch.Tensor, bool]) -> None:
            print("SETSTATE-RAN-FROM-FILE")
            self.w = state[0]
            self.training = state[1]

        def forward(self, x):
            return x + self.w

    torch.jit.script(Evil()).save(sys.argv[1])
    """
)


@pytest.fixture(scope="module")
def torchscript_archive(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ts")
    script = folder / "make_archive.py"  # torch.jit.script reads the class's source from a file
    script.write_text(TORCHSCRIPT_MODULE)
    path = folder / "SEATrack_ep0060.pth.tar"  # named like a real checkpoint
    subprocess.run([sys.executable, str(script), str(path)], check=True, timeout=120)
    return path


def test_torchscript_payload_is_live(torchscript_archive, capfd):
    """Negative control: torch.jit.load (what torch.load dispatches such archives to) runs the file's code."""
    torch.jit.load(str(torchscript_archive))
    assert "SETSTATE-RAN-FROM-FILE" in capfd.readouterr().out


def test_torchscript_archive_is_rejected_without_running(torchscript_archive, capfd):
    with pytest.raises(CheckpointError, match="TorchScript archive"):
        load_checkpoint(build_seatrack(), torchscript_archive, lora_merged=True)
    assert "SETSTATE-RAN-FROM-FILE" not in capfd.readouterr().out


def test_torchscript_archive_without_constants_is_rejected(torchscript_archive, tmp_path):
    """An archive stripped of constants.pkl (what torch.load keys on) is still known by its code/."""
    path = tmp_path / "stripped.pth"
    with zipfile.ZipFile(torchscript_archive) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            if not info.filename.endswith("/constants.pkl"):
                dst.writestr(info.filename, src.read(info.filename))
    with pytest.raises(CheckpointError, match="TorchScript archive"):
        read_checkpoint_file(path)


def test_torch_load_never_gets_an_unsized_read(tmp_path):
    """The second line of defence: torch.jit.load reads a file object with read(); the view refuses."""
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    file, size = open_checkpoint_file(path)
    with file:
        view = ckpt._FileView(file, size)
        assert view.read(4) == b"0123"
        assert view.read(1 << 40) == b"456789"  # clipped to what the file holds
        assert not hasattr(view, "fileno")  # so torch.load never tries its tar extractor
        with pytest.raises(CheckpointError, match="refusing"):
            view.read()


def _write_legacy_tar(path, hostile_pickle: bytes, v7: bool = False) -> None:
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in (("storages", pickle.dumps(0)), ("tensors", pickle.dumps(0)), ("pickle", hostile_pickle)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    if v7:  # pre-POSIX tar: no magic, only the header checksum
        raw = bytearray(path.read_bytes())
        raw[257:265] = bytes(8)
        raw[148:156] = b" " * 8
        raw[148:156] = b"%06o\0 " % sum(raw[:512])
        path.write_bytes(bytes(raw))


@pytest.mark.parametrize("v7", [False, True], ids=["ustar", "v7"])
def test_legacy_tar_checkpoint_is_rejected(tmp_path, v7):
    marker = tmp_path / "ran"
    path = tmp_path / "old.pth"
    _write_legacy_tar(path, pickle.dumps(SystemPayload(marker), protocol=2), v7=v7)
    assert tarfile.is_tarfile(path)  # control: a tar to torch's eyes (it tries tarfile.open first)
    with pytest.raises(CheckpointError, match="tar format of PyTorch < 0.4"):
        read_checkpoint_file(path)
    assert not marker.exists()


# --- safetensors ----------------------------------------------------------------------------------

_ST_NAMES = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16", torch.bfloat16: "BF16"}


def _safetensors_bytes(tensors: dict, header_patch=None) -> bytes:
    """The safetensors layout written by hand (header JSON, then each tensor's bytes in order)."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, tensor in tensors.items():
        blob = tensor.contiguous().view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        header[name] = {"dtype": _ST_NAMES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if header_patch:
        header_patch(header)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"".join(blobs)


def test_safetensors_file_is_read(tmp_path):
    tensors = dict(WEIGHTS, half=torch.tensor([0.5, -2.0], dtype=torch.float16), empty=torch.zeros(0, 3))
    path = tmp_path / "weights.safetensors"
    path.write_bytes(_safetensors_bytes(tensors))
    state = read_state_dict(path)
    assert sorted(state) == sorted(tensors)
    for key, value in tensors.items():
        assert state[key].dtype == value.dtype and state[key].shape == value.shape and torch.equal(state[key], value)


def test_safetensors_is_known_by_content_not_name(tmp_path):
    path = tmp_path / "weights.pth"
    path.write_bytes(_safetensors_bytes(WEIGHTS))
    _assert_weights(read_state_dict(path))


def test_a_pickle_named_safetensors_is_not_unpickled(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "weights.safetensors"
    torch.save({"net": WEIGHTS, "payload": SystemPayload(marker)}, path)
    with pytest.raises(CheckpointError, match="named .safetensors, but not in that format"):
        read_checkpoint_file(path)
    assert not marker.exists()


def _set(entry, field, value):
    def patch(header):
        header[entry][field] = value

    return patch


@pytest.mark.parametrize(
    "patch, message",
    [
        (_set("w", "data_offsets", [0, 1 << 40]), "outside the file"),
        (_set("w", "shape", [1 << 20, 1 << 20]), "shape and byte range disagree"),
        (_set("w", "shape", [-2, -3]), "bad shape"),
        (_set("w", "shape", [1] * 100), "bad shape"),
        (_set("w", "dtype", "PYOBJ"), "unsupported dtype"),
        (_set("b", "data_offsets", [8, 32]), "overlap"),
        (_set("w", "data_offsets", "0-24"), "bad data_offsets"),
    ],
)
def test_bad_safetensors_headers_are_named(tmp_path, patch, message):
    good, bad = tmp_path / "good.safetensors", tmp_path / "bad.safetensors"
    good.write_bytes(_safetensors_bytes(WEIGHTS))
    bad.write_bytes(_safetensors_bytes(WEIGHTS, patch))
    _assert_weights(read_state_dict(good))  # control
    with pytest.raises(CheckpointError, match=message):
        read_state_dict(bad)


def test_safetensors_header_bounds(tmp_path):
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 1 << 50) + b"{}")  # declares a petabyte of header
    with pytest.raises(CheckpointError, match="named .safetensors|header"):
        read_checkpoint_file(huge)
    nested = tmp_path / "nested.safetensors"
    deep = b'{"a":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    nested.write_bytes(struct.pack("<Q", len(deep)) + deep)
    with pytest.raises(CheckpointError, match="corrupt safetensors header"):
        read_checkpoint_file(nested)
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(_safetensors_bytes(WEIGHTS)[:-5])
    with pytest.raises(CheckpointError, match="outside the file"):
        read_checkpoint_file(truncated)


def test_safetensors_matches_the_reference_package_when_installed(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    path = tmp_path / "ref.safetensors"
    st.save_file({k: v.contiguous() for k, v in WEIGHTS.items()}, str(path))
    _assert_weights(read_state_dict(path))


# --- non-finite weights ---------------------------------------------------------------------------


def test_non_finite_weights_fail_at_load_and_are_all_named(test_weights, unmerged_model):
    assert unmerged_model is not None  # control: the same weights, all finite, load (conftest fixture)
    state = dict(test_weights)
    state["box_head.conv5_size.bias"] = torch.tensor([0.0, float("nan")])
    inf = state["backbone.blocks.2.attn.proj.weight"].clone()
    inf[0, :3] = float("inf")
    inf[1, 0] = -float("inf")
    state["backbone.blocks.2.attn.proj.weight"] = inf
    with pytest.raises(CheckpointError, match="non-finite") as err:
        load_checkpoint(build_seatrack(), state, lora_merged=False)
    message = str(err.value)
    assert "in 2 tensors" in message
    assert "box_head.conv5_size.bias (1 of 2 values)" in message
    assert f"backbone.blocks.2.attn.proj.weight (4 of {inf.numel()} values)" in message


def test_non_finite_names_are_bounded(test_weights):
    state = dict(test_weights)
    float_keys = sorted(k for k, v in state.items() if v.is_floating_point())[:30]
    for key in float_keys:
        state[key] = torch.full_like(state[key], float("nan"))
    with pytest.raises(CheckpointError, match=r"in 30 tensors: .*\(\+22 more\)$"):
        load_checkpoint(build_seatrack(), state, lora_merged=True)


def test_non_finite_ostrack_weights_fail_at_load(test_weights):
    ostrack = {k: v for k, v in test_weights.items() if not is_peft_key(k)}
    ostrack["backbone.norm.weight"] = torch.full_like(ostrack["backbone.norm.weight"], float("inf"))
    with pytest.raises(CheckpointError, match="non-finite .* backbone.norm.weight"):
        load_ostrack_pretrained(build_seatrack(), ostrack)


# --- what the path is -----------------------------------------------------------------------------


def _read_in_thread(path, timeout=20.0):
    """Run the reader where a blocking open cannot hang the suite; returns the exception it raised."""
    result = {}

    def target():
        try:
            read_checkpoint_file(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"reading {path} blocked"
    return result.get("error")


def test_directory_fifo_and_device_are_reported_as_what_they_are(tmp_path):
    fifo = tmp_path / "ckpt.fifo"
    os.mkfifo(fifo)
    (tmp_path / "dir.pth").mkdir()
    os.symlink(tmp_path / "dir.pth", tmp_path / "link.pth")
    cases = {
        tmp_path / "dir.pth": "is a directory",
        tmp_path / "link.pth": "is a directory",
        fifo: r"is not a regular file \(a FIFO\)",
        "/dev/null": r"is not a regular file \(a character device\)",
    }
    for path, message in cases.items():
        error = _read_in_thread(path)
        assert isinstance(error, CheckpointError), (path, error)
        assert re.search(message, str(error)) and "not found" not in str(error), (path, error)
    regular = tmp_path / "regular.pth"
    torch.save(WEIGHTS, regular)
    assert _read_in_thread(regular) is None  # control
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint_file(tmp_path / "missing.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        read_checkpoint_file(tmp_path / "empty.pth")
