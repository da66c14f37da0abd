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
import warnings
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
        header[name] = {
            "dtype": _ST_NAMES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]
        }
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


# --- sizes the file declares ----------------------------------------------------------------------

# A memo index sizes (and zero-fills) pickle's memo: 2**28 asks for 2 GiB of pointers from 9 bytes.
MEMO_BOMB = b"\x80\x02N" + b"r" + (1 << 28).to_bytes(4, "little") + b"."
# BINBYTES8 allocates its declared length (1 TiB here) before reading it.
BYTES_BOMB = b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"."

UNDER_A_MEMORY_LIMIT = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    data = open(sys.argv[1], "rb").read()
    try:
        if sys.argv[2] == "pickle":
            import pickle
            pickle.loads(data)
        else:
            import io, torch
            torch.load(io.BytesIO(data), weights_only=True)
    except MemoryError:
        print("MEMORY")
    except RuntimeError as exc:
        print("MEMORY" if "allocate" in str(exc) else repr(exc))
    """
)


def _allocates_beyond_a_gigabyte(data: bytes, tmp_path, reader: str) -> bool:
    """Negative control: does the plain reader try to allocate what the bytes declare (under a 1 GiB limit)?"""
    path = tmp_path / "control.bin"
    path.write_bytes(data)
    run = subprocess.run(
        [sys.executable, "-c", UNDER_A_MEMORY_LIMIT, str(path), reader], capture_output=True, text=True, timeout=120
    )
    return run.stdout.strip() == "MEMORY"


def _torch_zip(data_pkl: bytes, extra: dict | None = None) -> bytes:
    """A zip laid out like torch.save's, with a chosen data.pkl."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        for name, data in (extra or {}).items():
            archive.writestr(f"archive/{name}", data)
    return buf.getvalue()


@pytest.mark.parametrize(
    "bomb, message", [(MEMO_BOMB, "memo index"), (BYTES_BOMB, "corrupt pickle data")], ids=["memo", "bytes8"]
)
def test_pickle_size_bombs_are_refused_before_allocating(tmp_path, bomb, message):
    assert _allocates_beyond_a_gigabyte(bomb, tmp_path, "pickle")  # control
    for name, data in (("legacy.pth", bomb), ("zip.pth", _torch_zip(bomb))):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match=message):
            read_checkpoint_file(path)


def test_legacy_storage_larger_than_the_file_is_refused(tmp_path):
    buf = io.BytesIO()
    torch.save({"w": torch.arange(4.0)}, buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue()
    declared = data.find(b"K\x04N")  # the storage's element count (4), just before its view metadata (None)
    assert declared > 0
    hostile = data[:declared] + b"J" + (1 << 28).to_bytes(4, "little") + data[declared + 2 :]  # 1 GiB of floats
    assert _allocates_beyond_a_gigabyte(hostile, tmp_path, "torch")  # control: torch allocates it
    path = tmp_path / "legacy.pth"
    path.write_bytes(hostile)
    with pytest.raises(CheckpointError, match=r"declares storages of 1073741824 bytes in a file of \d+ bytes"):
        read_checkpoint_file(path)


def test_compressed_zip_members_are_refused(tmp_path):
    """A deflated member expands on reading; torch.save never writes one."""
    payload = bytes(64 << 20)  # 64 MiB of zeros deflate to about 64 kB
    path = tmp_path / "bomb.pth"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": payload}, protocol=2))
        archive.writestr("archive/version", "3\n")
    assert zipfile.ZipFile(path).getinfo("archive/data.pkl").file_size > 100 * path.stat().st_size  # control
    with pytest.raises(CheckpointError, match="compressed or encrypted"):
        read_checkpoint_file(path)


def test_zip_members_claiming_more_than_the_file_are_refused(tmp_path):
    good = _torch_zip(pickle.dumps({"a": 1}, protocol=2))
    path = tmp_path / "good.pth"
    path.write_bytes(good)
    assert read_checkpoint_file(path) == {"a": 1}  # control
    # raise data.pkl's declared sizes in its central directory record (stored: both sizes equal)
    record = good.rfind(b"PK\x01\x02", 0, good.rfind(b"archive/data.pkl"))
    size = struct.unpack_from("<I", good, record + 20)[0]
    hostile = bytearray(good)
    struct.pack_into("<II", hostile, record + 20, size + (1 << 30), size + (1 << 30))
    path.write_bytes(bytes(hostile))
    with pytest.raises(CheckpointError, match="declares more bytes than the file holds|not a valid zip"):
        read_checkpoint_file(path)


def test_broadcast_tensor_larger_than_the_file_is_refused(tmp_path):
    path = tmp_path / "expanded.pth"
    torch.save({"w": torch.zeros(1).expand(1 << 30)}, path)  # one float in the file, 2**30 in the tensor
    assert read_checkpoint_file(path)["w"].numel() == 1 << 30  # control: that is what the file declares
    with pytest.raises(CheckpointError, match="tensors larger than the whole file: w"):
        read_state_dict(path)


def test_opcode_and_length_bounds(tmp_path, monkeypatch):
    path = tmp_path / "ok.pth"
    torch.save({"net": WEIGHTS, "stats": list(range(2000))}, path)
    _assert_weights(read_state_dict(path))  # control: within the default bounds
    monkeypatch.setattr(ckpt, "MAX_PICKLE_OPCODES", 1000)
    with pytest.raises(CheckpointError, match="more than 1000 opcodes"):
        read_checkpoint_file(path)
    monkeypatch.setattr(ckpt, "MAX_PICKLE_OPCODES", 2_000_000)
    monkeypatch.setattr(ckpt, "MAX_PICKLE_BYTES", 1000)
    with pytest.raises(CheckpointError, match="longer than 1000 bytes"):
        read_checkpoint_file(path)
    legacy = tmp_path / "legacy.pth"
    torch.save({"net": WEIGHTS, "stats": list(range(2000))}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="longer than 1000 bytes"):
        read_checkpoint_file(legacy)


def test_number_of_foreign_classes_is_bounded(tmp_path, monkeypatch):
    module = sys.modules[__name__]
    classes = [type(f"Foreign{i}", (), {"__module__": module.__name__}) for i in range(3)]
    for cls in classes:
        setattr(module, cls.__name__, cls)
    try:
        path = tmp_path / "foreign.pth"
        torch.save({"net": WEIGHTS, "objects": [cls() for cls in classes]}, path)
    finally:
        for cls in classes:
            delattr(module, cls.__name__)
    assert len(read_checkpoint_file(path)["objects"]) == 3  # control
    monkeypatch.setattr(ckpt, "MAX_OPAQUE_CLASSES", 2)
    with pytest.raises(CheckpointError, match="more than 2 distinct classes"):
        read_checkpoint_file(path)


def test_keys_must_be_strings(tmp_path):
    path = tmp_path / "intkeys.pth"
    torch.save({"net": {1: torch.zeros(1), "w": torch.zeros(1)}}, path)
    with pytest.raises(CheckpointError, match="1 keys are not strings, e.g. a int"):
        read_state_dict(path)


def test_deeply_nested_content_is_reported_not_crashed(tmp_path):
    depth = 300_000
    nested = b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."  # a list inside a list ... 300k deep
    path = tmp_path / "deep.pth"
    path.write_bytes(_torch_zip(nested))
    with pytest.raises(CheckpointError, match="expected a dict, found list"):
        read_state_dict(path)
    nested_dict = b"\x80\x02}X\x03\x00\x00\x00net" + nested[2:-1] + b"s."
    path.write_bytes(_torch_zip(nested_dict))
    with pytest.raises(CheckpointError, match="expected a dict|not a state dict"):
        read_state_dict(path)


def test_non_finite_count_is_exact_where_the_sum_overflows():
    """The sum is only a screen: large finite values that overflow it are still counted one by one."""
    big = torch.full((1000,), 6e4, dtype=torch.float16)  # sums to inf in float16, every value finite
    assert not torch.isfinite(big.sum())  # control: the screen alone would call this non-finite
    assert ckpt._non_finite_count(big) == 0
    big[3], big[7] = float("nan"), -float("inf")
    assert ckpt._non_finite_count(big) == 2
    nan_and_inf = torch.tensor([float("inf"), -float("inf"), 1.0])  # inf + -inf: NaN, still caught
    assert ckpt._non_finite_count(nan_and_inf) == 2
    assert ckpt._non_finite_count(torch.tensor([1.0, 2.0], dtype=torch.bfloat16)) == 0
    assert ckpt._non_finite_count(torch.tensor([1.0, float("nan")]).to(torch.float8_e5m2)) == 1


def test_legacy_module_ids_cost_no_source_inspection(tmp_path):
    """torch's legacy format names a pickled nn.Module's class; torch would inspect (parse) source per id."""
    path = tmp_path / "module.pth"
    network = torch.nn.Sequential(*[torch.nn.Linear(2, 2) for _ in range(50)])
    torch.save(network, path, _use_new_zipfile_serialization=False)
    assert path.read_bytes().count(b"module") >= 50  # control: the ids are in the file
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj = read_checkpoint_file(path)
    assert type(obj).__name__ == "Opaque_Sequential"
    assert not [w for w in caught if "source" in str(w.message)], [str(w.message) for w in caught]


def test_zip_not_laid_out_by_torch_save_is_refused(tmp_path):
    path = tmp_path / "loose.pth"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"a": 1}, protocol=2))
        archive.writestr("archive/version", "3\n")
        archive.writestr("elsewhere/data.pkl", pickle.dumps({"a": 2}, protocol=2))
    with pytest.raises(CheckpointError, match="members must share one folder"):
        read_checkpoint_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate it is asked to write
        path.write_bytes(_torch_zip(pickle.dumps({"a": 1}, protocol=2), {"data.pkl": pickle.dumps({"a": 2}, protocol=2)}))
    with pytest.raises(CheckpointError, match="names a member twice"):
        read_checkpoint_file(path)
    path.write_bytes(_torch_zip(b"", {}).replace(b"archive/data.pkl", b"archive/data.pkX"))
    with pytest.raises(CheckpointError, match="without data.pkl"):
        read_checkpoint_file(path)


def test_bad_paths_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="bad checkpoint path"):
        read_checkpoint_file(str(tmp_path / "a\0b.pth"))
    torch.save(WEIGHTS, tmp_path / "w.pth")
    _assert_weights(read_state_dict(os.fsencode(tmp_path / "w.pth")))  # control: a bytes path is a path
