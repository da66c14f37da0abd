"""Reading SEATrack / OSTrack checkpoints without running code from them, and loading them strictly.

The released training checkpoints are pickles that, besides the weights under ``'net'``, hold the
authors' own ``settings`` and ``stats`` objects. Unpickling those normally imports the authors' packages
(and ``weights_only=False`` would run whatever the file names). We unpickle with a restricted
``Unpickler``: tensors, storages and plain containers are rebuilt as usual; every other global the file
names becomes an inert placeholder class whose instances only record their arguments. Nothing from the
file is imported or executed.

What a file is gets decided from its bytes (and, for safetensors, its name), never handed to a
loader that guesses:

- torch zip archive (``torch.save``, any pickle protocol): unpickled with the restricted unpickler.
- legacy torch pickle (``_use_new_zipfile_serialization=False``): the same.
- safetensors: read here (a JSON header and raw little-endian bytes); no ``safetensors`` package
  needed.
- TorchScript archive (``torch.jit.save``) and the tar format of PyTorch < 0.4: rejected. The first
  holds code that ``torch.jit.load`` would run; the second is only readable by extracting members to
  disk. ``torch.load`` is given a file object without ``fileno`` (so its tar reader is never tried) that
  refuses a read of unbounded size (so ``torch.jit.load``, which reads the whole file, cannot start).

Sizes the file declares are checked against the file before anything is allocated for them: the
pickle streams are scanned opcode by opcode first (`pickletools`, which executes nothing) for their
length, opcode count, memo indices and counted strings, storages may not be larger than the file, and
zip members must be stored uncompressed (as ``torch.save`` writes them), so no member expands.
"""

from __future__ import annotations

import collections
import functools
import io
import json
import logging
import math
import os
import pickle
import pickletools
import stat
import sys
import types
import zipfile
from collections.abc import Mapping

import torch
from torch import nn

from ..errors import CheckpointError
from .lora import LoRAQKV

LOG = logging.getLogger(__name__)

# Bounds on what a checkpoint may declare, far above the real files: SEATrack's state dict pickles to
# about 56 kB in 15k opcodes, with 470 tensors and a handful of the training code's classes.
MAX_PICKLE_BYTES = 32 << 20  # one pickle stream
MAX_PICKLE_OPCODES = 2_000_000  # one pickle stream; also bounds memo indices (memo size is index-driven)
MAX_OPAQUE_CLASSES = 1_000  # distinct foreign classes named by one file
MAX_ZIP_MEMBERS = 100_000
MAX_SAFETENSORS_HEADER_BYTES = 16 << 20

# Globals a tensor checkpoint legitimately needs, rebuilt for real.
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
}


# torch's own dtype names, fixed at import: looking a file-supplied name up with getattr(torch, ...)
# could trigger torch's lazy submodule imports.
_TORCH_DTYPES = {name: getattr(torch, name) for name in dir(torch) if isinstance(getattr(torch, name, None), torch.dtype)}


class OpaqueObject:
    """Placeholder for an object of a class the checkpoint names but we refuse to import."""

    source: str = "?"

    def __init__(self, *args, **kwargs) -> None:
        self.args = args
        self.kwargs = kwargs

    def __setstate__(self, state) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<opaque {self.source}>"


def _opaque_reconstructor(cls, base, state=None):
    """Stand-in for ``copyreg._reconstructor`` that only builds placeholders."""
    if isinstance(cls, type) and issubclass(cls, OpaqueObject):
        return cls()
    # the type's name only: the object itself comes from the file and may be arbitrarily large or deep
    raise CheckpointError(f"checkpoint asks to reconstruct a {type(cls).__name__}, which is not allowed")


class _LoadLimits:
    """What one file may declare: storages up to its size in total, a bounded number of foreign classes."""

    def __init__(self, file_size: int) -> None:
        self.file_size = file_size
        self.storage_bytes = 0
        self.storage_keys: set = set()
        self.opaque_classes: dict[tuple[str, str], type] = {}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds tensors and containers and replaces every other class by a placeholder."""

    limits: _LoadLimits | None = None  # set on the per-file subclass `_restricted_pickle_module` makes

    def find_class(self, module: str, name: str):
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is not None:
            return allowed
        if module == "torch" and name in _TORCH_DTYPES:
            return _TORCH_DTYPES[name]
        if (module, name) == ("copyreg", "_reconstructor"):
            return _opaque_reconstructor
        if self.limits is None:
            return type(f"Opaque_{name}", (OpaqueObject,), {"source": f"{module}.{name}"})
        known = self.limits.opaque_classes
        if (module, name) not in known:
            if len(known) >= MAX_OPAQUE_CLASSES:
                raise CheckpointError(f"checkpoint names more than {MAX_OPAQUE_CLASSES} distinct classes")
            known[module, name] = type(f"Opaque_{name}", (OpaqueObject,), {"source": f"{module}.{name}"})
        return known[module, name]

    def __setattr__(self, name, value):
        # torch's loaders install their storage loader as ``unpickler.persistent_load = ...``; wrap it
        # so the storage size the file declares is checked before torch allocates it.
        if name == "persistent_load" and callable(value) and self.limits is not None:
            value = _bounded_persistent_load(value, self.limits)
        super().__setattr__(name, value)


def _bounded_persistent_load(load, limits: _LoadLimits):
    def persistent_load(saved_id):
        if isinstance(saved_id, tuple) and len(saved_id) >= 2 and saved_id[0] in ("module", b"module"):
            # torch's legacy format names the class of a pickled nn.Module this way; torch would
            # compare its source with the file's copy (only to warn), parsing this module's source
            # once per placeholder: a CPU cost per few bytes of file. Answer as torch does, unchecked.
            return saved_id[1]
        # torch's storage ids: ("storage", storage type, key, location, element count[, view])
        if isinstance(saved_id, tuple) and len(saved_id) >= 5 and saved_id[0] in ("storage", b"storage"):
            storage_type, key, numel = saved_id[1], saved_id[2], saved_id[4]
            if type(numel) is not int or numel < 0:
                raise CheckpointError(f"checkpoint declares a storage with a bad element count: {type(numel).__name__}")
            dtype = torch.uint8 if storage_type is torch.UntypedStorage else getattr(storage_type, "dtype", None)
            if not isinstance(dtype, torch.dtype):
                raise CheckpointError("checkpoint declares a storage of an unknown type")
            nbytes = numel * torch._utils._element_size(dtype)
            try:
                new_key = key not in limits.storage_keys
            except TypeError:  # unhashable key: torch would fail on it too, with a less clear message
                raise CheckpointError("checkpoint declares a storage with an unhashable key") from None
            if new_key:
                limits.storage_keys.add(key)
                limits.storage_bytes += nbytes
            if limits.storage_bytes > limits.file_size:
                raise CheckpointError(
                    f"checkpoint declares storages of {limits.storage_bytes} bytes "
                    f"in a file of {limits.file_size} bytes"
                )
        return load(saved_id)

    return persistent_load


def _restricted_pickle_module(limits: _LoadLimits) -> types.ModuleType:
    """A ``pickle_module`` for `torch.load` whose unpicklers are restricted and bounded by ``limits``."""
    unpickler = type("BoundedRestrictedUnpickler", (RestrictedUnpickler,), {"limits": limits})
    module = types.ModuleType("seatrack_restricted_pickle")
    module.Unpickler = unpickler

    def load(file, **kwargs):
        return unpickler(file, **kwargs).load()

    module.load = load
    return module


class _FileView:
    """Read-only view of an open regular file for the readers here.

    It has no ``fileno`` (torch then never tries its tar reader, which extracts members to disk), never
    reads past the end (a read of a declared size allocates no more than the file holds), bounds
    ``readline`` (text pickles) and, unless ``unbounded_reads``, refuses ``read()`` without a size:
    only ``torch.jit.load`` reads a whole file that way, and it must never get the bytes.
    """

    def __init__(self, file, size: int, unbounded_reads: bool = False) -> None:
        self._file = file
        self._size = size
        self._unbounded_reads = unbounded_reads

    def _left(self) -> int:
        return max(self._size - self._file.tell(), 0)

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            if not self._unbounded_reads:
                raise CheckpointError("refusing to read the whole checkpoint at once (only code archives are read so)")
            n = self._left()
        return self._file.read(min(n, self._left()))

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        return self._file.readinto(view[: self._left()])

    def readline(self, limit: int | None = -1) -> bytes:
        bound = min(self._left(), MAX_PICKLE_BYTES)
        return self._file.readline(bound if limit is None or limit < 0 else min(limit, bound))

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


class _BoundedStream:
    """A `_FileView` window that reads at most ``budget`` bytes from where it starts (for scanning)."""

    def __init__(self, view: _FileView, budget: int) -> None:
        self._view = view
        self._end = view.tell() + budget

    def read(self, n: int) -> bytes:
        return self._view.read(max(min(n, self._end - self._view.tell()), 0))

    def readline(self) -> bytes:
        return self._view.readline(max(self._end - self._view.tell(), 0))

    def tell(self) -> int:
        return self._view.tell()


def _scan_pickle(stream, where: str) -> None:
    """Walk one pickle stream's opcodes (nothing is built or run) and enforce the size bounds.

    `pickle` allocates from declared numbers before it checks them against the data: a memo index
    sizes (and zero-fills) the memo, a counted bytes/string opcode allocates its declared length. The
    scan reads each counted argument through a window no longer than the bounds, so a declared length
    beyond the data fails here instead.
    """
    start = stream.tell()
    opcodes = 0
    try:
        for opcode, arg, _ in pickletools.genops(stream):
            opcodes += 1
            if opcodes > MAX_PICKLE_OPCODES:
                raise CheckpointError(f"{where}: pickle has more than {MAX_PICKLE_OPCODES} opcodes")
            if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT") and arg > MAX_PICKLE_OPCODES:
                raise CheckpointError(f"{where}: pickle memo index {arg} is out of bounds")
    except CheckpointError:
        raise
    except (ValueError, EOFError, OverflowError, TypeError, UnicodeDecodeError, KeyError) as exc:
        length = stream.tell() - start
        if length >= MAX_PICKLE_BYTES:
            raise CheckpointError(f"{where}: pickle stream longer than {MAX_PICKLE_BYTES} bytes") from None
        raise CheckpointError(f"cannot read checkpoint {where}: corrupt pickle data: {exc}"[:500]) from None


def _scan_zip(view: _FileView, size: int, where: str) -> None:
    """Check a zip archive's members and its pickle before torch reads it."""
    try:
        archive = zipfile.ZipFile(view)  # type: ignore[arg-type]
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise CheckpointError(f"cannot read checkpoint {where}: not a valid zip archive ({exc})") from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise CheckpointError(f"{where}: zip archive has more than {MAX_ZIP_MEMBERS} members")
    names = [m.filename for m in members]
    prefix = names[0].split("/", 1)[0] + "/" if names else ""
    if not names or len(prefix) < 2 or not all(n.startswith(prefix) for n in names):
        raise CheckpointError(
            f"cannot read checkpoint {where}: zip archive not written by torch.save (members must share one folder)"
        )
    if len(set(names)) != len(names):  # which copy a reader takes is up to the reader
        raise CheckpointError(f"cannot read checkpoint {where}: zip archive names a member twice")
    relative = {n[len(prefix):] for n in names}
    # torch.load treats an archive with constants.pkl as TorchScript and hands it to torch.jit.load
    if "constants.pkl" in relative or any(n.startswith("code/") for n in relative):
        raise CheckpointError(
            f"{where} is a TorchScript archive (torch.jit.save), which holds code; it is not loaded. "
            "Save the weights instead: torch.save(model.state_dict(), path)"
        )
    total = 0
    for member in members:
        if member.compress_type != zipfile.ZIP_STORED or member.flag_bits & 0x1:
            raise CheckpointError(
                f"{where}: zip member {member.filename[:200]!r} is compressed or encrypted; torch.save stores members "
                "uncompressed, and a compressed member could expand without bound"
            )
        if member.file_size != member.compress_size or member.header_offset + member.file_size > size:
            raise CheckpointError(
                f"{where}: zip member {member.filename[:200]!r} declares more bytes than the file holds"
            )
        total += member.file_size
    if total > size:
        raise CheckpointError(f"{where}: zip members declare {total} bytes in a file of {size} bytes")
    if "data.pkl" not in relative:
        raise CheckpointError(
            f"cannot read checkpoint {where}: zip archive without data.pkl (not written by torch.save)"
        )
    # Scan the pickle as torch's own zip reader (which torch.load uses) returns it, and require that
    # reader to list the same members: two zip parsers that disagree must not be played off.
    reader_type = getattr(torch._C, "PyTorchFileReader", None)
    if reader_type is None:
        pickle_size = archive.getinfo(prefix + "data.pkl").file_size
        read_pickle = functools.partial(archive.read, prefix + "data.pkl")
    else:
        try:
            view.seek(0)  # the reader takes the archive to start where the file stands
            reader = reader_type(_FileView(view._file, size))
            records = set(reader.get_all_records())
        except RuntimeError as exc:
            raise CheckpointError(f"cannot read checkpoint {where}: {str(exc)[:300]}") from None
        if records != relative:
            raise CheckpointError(f"{where}: zip archive lists different members to different zip readers")
        pickle_size, read_pickle = reader.get_record_size("data.pkl"), functools.partial(reader.get_record, "data.pkl")
    if pickle_size > MAX_PICKLE_BYTES:
        raise CheckpointError(f"{where}: pickle stream longer than {MAX_PICKLE_BYTES} bytes")
    _scan_pickle(io.BytesIO(read_pickle()), where)


# torch's legacy format is five pickles in a row (magic number, protocol, system info, the object,
# the storage keys) followed by raw storage bytes.
_LEGACY_PICKLES = 5


def _scan_legacy(view: _FileView, where: str) -> None:
    view.seek(0)
    for _ in range(_LEGACY_PICKLES):
        if view.tell() >= view._size:
            break  # shorter than torch's format: torch reports what is missing
        _scan_pickle(_BoundedStream(view, MAX_PICKLE_BYTES), where)
    view.seek(0)


def _is_tar(head: bytes) -> bool:
    """A tar header: ustar magic, or (old v7 tar) a header checksum that adds up."""
    if len(head) < 512:
        return False
    if head[257:262] == b"ustar":
        return True
    try:
        declared = int(head[148:156].replace(b"\0", b" ").strip() or b"x", 8)
    except ValueError:
        return False
    return declared == sum(head[:148]) + 8 * 32 + sum(head[156:512])


def _looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 10:
        return False
    header_len = int.from_bytes(head[:8], "little")
    return 2 <= header_len <= size - 8 and head[8:9] == b"{"


_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_NEWER_SAFETENSORS_DTYPES = (
    ("U16", "uint16"), ("U32", "uint32"), ("U64", "uint64"), ("F8_E4M3", "float8_e4m3fn"), ("F8_E5M2", "float8_e5m2")
)
for _name, _dtype in _NEWER_SAFETENSORS_DTYPES:  # where this torch has them
    if _dtype in _TORCH_DTYPES:
        _SAFETENSORS_DTYPES[_name] = _TORCH_DTYPES[_dtype]


def _read_safetensors(view: _FileView, size: int, where: str) -> dict[str, torch.Tensor]:
    """Read a safetensors file: 8-byte little-endian header length, JSON header, raw tensor bytes."""
    if sys.byteorder != "little":
        raise CheckpointError(f"{where}: safetensors data is little-endian; this machine is not")
    view.seek(0)
    header_len = int.from_bytes(view.read(8), "little")
    if header_len > MAX_SAFETENSORS_HEADER_BYTES:
        raise CheckpointError(
            f"{where}: safetensors header of {header_len} bytes is over {MAX_SAFETENSORS_HEADER_BYTES}"
        )
    if header_len > size - 8:
        raise CheckpointError(f"{where}: safetensors header of {header_len} bytes is longer than the file")
    try:
        header = json.loads(view.read(header_len).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CheckpointError(f"{where}: corrupt safetensors header: {type(exc).__name__}: {exc}"[:500]) from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where}: safetensors header is not a JSON object")
    data_start, data_len = 8 + header_len, size - 8 - header_len
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not (isinstance(info, dict) and isinstance(info.get("dtype"), str) and isinstance(info.get("shape"), list)):
            raise CheckpointError(f"{where}: safetensors entry {name[:200]!r} lacks dtype or shape")
        dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
        shape, offsets = info["shape"], info.get("data_offsets")
        if dtype is None:
            raise CheckpointError(
                f"{where}: safetensors entry {name[:200]!r} has unsupported dtype {info['dtype'][:50]!r}"
            )
        if len(shape) > 64 or not all(type(d) is int and d >= 0 for d in shape):  # torch's dimension limit
            raise CheckpointError(f"{where}: safetensors entry {name[:200]!r} has a bad shape")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
            raise CheckpointError(f"{where}: safetensors entry {name[:200]!r} has bad data_offsets")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise CheckpointError(f"{where}: safetensors entry {name[:200]!r} lies outside the file")
        if math.prod(shape) * torch._utils._element_size(dtype) != end - begin:
            raise CheckpointError(f"{where}: safetensors entry {name[:200]!r}: shape and byte range disagree")
        entries.append((begin, end, name, dtype, shape))
    entries.sort(key=lambda e: (e[0], e[1]))
    for (_, end_a, name_a, _, _), (begin_b, _, name_b, _, _) in zip(entries, entries[1:]):
        if begin_b < end_a:
            raise CheckpointError(f"{where}: safetensors entries {name_a[:200]!r} and {name_b[:200]!r} overlap")
    tensors = {}
    for begin, end, name, dtype, shape in entries:
        data = bytearray(end - begin)
        view.seek(data_start + begin)
        if view.readinto(data) != len(data):
            raise CheckpointError(f"{where}: safetensors file is truncated")
        tensors[name] = torch.frombuffer(data, dtype=dtype).reshape(shape) if data else torch.empty(shape, dtype=dtype)
    return tensors


_FILE_KINDS = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "is not a regular file (a FIFO)"),
    (stat.S_ISCHR, "is not a regular file (a character device)"),
    (stat.S_ISBLK, "is not a regular file (a block device)"),
    (stat.S_ISSOCK, "is not a regular file (a socket)"),
)


def _kind_problem(mode: int) -> str | None:
    for test, problem in _FILE_KINDS:
        if test(mode):
            return problem
    return None if stat.S_ISREG(mode) else "is not a regular file"


def open_checkpoint_file(path: str | os.PathLike):
    """Open ``path`` for reading if it is a regular file; returns ``(file, size)``.

    A directory, FIFO, device or socket is reported as what it is. ``os.stat`` comes first because
    opening a FIFO blocks until a writer appears and opening a device can have effects; the file is
    then opened non-blocking and checked again, in case the path changed in between.
    """
    path = os.fsdecode(os.fspath(path))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file not found: {path}") from None
    except ValueError as exc:  # a NUL byte in the path
        raise CheckpointError(f"bad checkpoint path {path!r}: {exc}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    problem = _kind_problem(info.st_mode)
    if problem:
        raise CheckpointError(f"checkpoint {path} {problem}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    problem = _kind_problem(info.st_mode)
    if problem:
        os.close(fd)
        raise CheckpointError(f"checkpoint {path} {problem}")
    if info.st_size == 0:
        os.close(fd)
        raise CheckpointError(f"cannot read checkpoint {path}: the file is empty")
    return os.fdopen(fd, "rb"), info.st_size


def read_checkpoint_file(path: str | os.PathLike) -> object:
    """Read a checkpoint file safely (see module docstring). Returns the top-level object."""
    return _read_checkpoint(path)[0]


def _read_checkpoint(path: str | os.PathLike) -> tuple[object, int]:
    """`read_checkpoint_file`, also returning the file's size."""
    path = os.fsdecode(os.fspath(path))
    file, size = open_checkpoint_file(path)
    with file:
        head = file.read(512)
        named_safetensors = path.lower().endswith(".safetensors")
        try:
            if _looks_like_safetensors(head, size):
                return _read_safetensors(_FileView(file, size), size, path), size
            if named_safetensors:
                raise CheckpointError(f"cannot read checkpoint {path}: named .safetensors, but not in that format")
            if _is_tar(head):
                raise CheckpointError(
                    f"checkpoint {path} is in the tar format of PyTorch < 0.4, which is not supported: "
                    "re-save it with torch.save in a current PyTorch"
                )
            if head.startswith(b"PK\x03\x04"):
                file.seek(0)
                _scan_zip(_FileView(file, size, unbounded_reads=True), size, path)
            else:
                _scan_legacy(_FileView(file, size), path)
            file.seek(0)
            obj = torch.load(
                _FileView(file, size),
                map_location="cpu",
                pickle_module=_restricted_pickle_module(_LoadLimits(size)),
                weights_only=False,
                mmap=False,
            )
            return obj, size
        except CheckpointError:
            raise
        except RecursionError:
            raise CheckpointError(f"cannot read checkpoint {path}: structure nested too deeply") from None
        except Exception as exc:  # corrupt file, not a torch pickle, truncated download ...
            raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}"[:2000]) from exc


def read_state_dict(source) -> dict[str, torch.Tensor]:
    """Return the weights from a checkpoint path, a training checkpoint dict (``'net'``) or a state dict."""
    return read_checkpoint(source)[0]


def read_checkpoint(source) -> tuple[dict[str, torch.Tensor], bool | None]:
    """The weights (as `read_state_dict`) and the LoRA convention the file records: the bool under
    ``'lora_merged'`` beside ``'net'`` (checkpoints written by seatrack-train), or None (the authors'
    releases record nothing)."""
    if isinstance(source, Mapping):
        obj, where, file_size = source, "state dict", None
    else:
        (obj, file_size), where = _read_checkpoint(source), os.fspath(source)
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{where}: expected a dict, found {type(obj).__name__}")
    recorded = None
    if "net" in obj and isinstance(obj["net"], Mapping):
        recorded = obj.get("lora_merged")
        if recorded is not None and not isinstance(recorded, bool):
            raise CheckpointError(f"{where}: 'lora_merged' must be true or false, found {recorded!r}")
        obj = obj["net"]
    state = dict(obj)
    not_names = [k for k in state if not isinstance(k, str)]
    if not_names:
        raise CheckpointError(
            f"{where}: not a state dict ({len(not_names)} keys are not strings, e.g. a {type(not_names[0]).__name__})"
        )
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{where}: not a state dict (non-tensor entries: {_names(bad)})")
    sparse = [k for k, v in state.items() if v.layout != torch.strided]
    if sparse:
        raise CheckpointError(f"{where}: tensors that are not dense: {_names(sparse)}")
    if file_size is not None:
        # A tensor is a view of a storage the file holds; one far bigger than the file repeats its data
        # (stride 0), which every later pass over the weights would pay for in memory and time.
        oversized = [k for k, v in state.items() if v.numel() * v.element_size() > file_size]
        if oversized:
            raise CheckpointError(f"{where}: tensors larger than the whole file: {_names(oversized)}")
    if state and all(k.startswith("module.") for k in state):  # saved from a DataParallel wrapper
        state = {k[len("module."):]: v for k, v in state.items()}
    return state, recorded


def _names(keys, limit: int = 8) -> str:
    keys = sorted(keys)
    shown = ", ".join(k if len(k) <= 200 else k[:200] + "..." for k in keys[:limit])
    return f"{shown} (+{len(keys) - limit} more)" if len(keys) > limit else shown


def _check_keys(model: nn.Module, state: Mapping[str, torch.Tensor], ignore_missing=lambda k: False) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not ignore_missing(k)]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_names(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_names(unexpected)}")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} keys with wrong shapes: {_names(wrong_shape)}")
    if problems:
        raise CheckpointError("checkpoint does not match the SEATrack architecture: " + "; ".join(problems))


_REDUCIBLE_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex64, torch.complex128)


def _non_finite_count(value: torch.Tensor) -> int:
    """How many values of a floating tensor are NaN or inf.

    A finite sum proves them all finite (NaN propagates and an inf cannot cancel to a finite value),
    and summing is about ten times faster than testing each value, so only a tensor whose sum is not
    finite (one holding NaN/inf, or large values that overflow the sum) is tested value by value.
    """
    if value.dtype not in _REDUCIBLE_DTYPES:
        value = value.float()  # float8 and the like: no reduction kernels of their own
    if bool(torch.isfinite(value.sum())):
        return 0
    return value.numel() - int(torch.isfinite(value).sum())


def _check_finite(state: Mapping[str, torch.Tensor]) -> None:
    """Refuse weights holding NaN or inf: every box and score computed from them would be NaN."""
    bad = []
    for key, value in state.items():
        if value.is_floating_point() or value.is_complex():
            count = _non_finite_count(value)
            if count:
                bad.append(f"{key} ({count} of {value.numel()} values)")
    if bad:
        raise CheckpointError(f"checkpoint has non-finite weights (NaN or inf) in {len(bad)} tensors: {_names(bad)}")


def _cast_like(model: nn.Module, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    expected = model.state_dict()
    return {k: v.to(expected[k].dtype) if k in expected else v for k, v in state.items()}


def load_checkpoint(model: nn.Module, source, lora_merged: bool, merge: bool = True) -> nn.Module:
    """Load official SEATrack weights strictly into ``model`` (from `build_seatrack`) and return it.

    source: path to a checkpoint (training checkpoint with ``'net'`` or a bare state dict file), or a
        state dict / checkpoint dict already in memory.
    lora_merged: the file's LoRA convention, which the authors' releases do not record. True when the
        stored ``qkv.weight`` already includes the LoRA update (the authors' RGB-T and RGB-D releases),
        False when it is the frozen base weight (the RGB-E release). A file that records its convention
        (``'lora_merged'`` beside ``'net'``, as seatrack-train writes) is loaded by that record; a
        flag that says otherwise is logged as a warning and overruled.
    merge: fold LoRA into qkv after loading (default, what the reference's eval() does), so inference
        runs one matmul; False keeps the LoRA update as a separate term, rebuilt every call (the
        reference's training-mode arithmetic; slower).

    Raises `CheckpointError` naming missing, unexpected or wrongly shaped keys, tensors holding NaN or
    inf, or why the file is unreadable. The model is left in eval mode.
    """
    if not isinstance(lora_merged, bool):
        raise TypeError(f"lora_merged must be True or False, got {lora_merged!r}")
    state, recorded = read_checkpoint(source)
    if recorded is not None and recorded != lora_merged:
        LOG.warning(
            "the checkpoint records lora_merged=%s (written by seatrack-train); loading it so, not with the "
            "lora_merged=%s given", recorded, lora_merged,
        )
        lora_merged = recorded
    _check_keys(model, state)
    _check_finite(state)
    layers = [m for m in model.modules() if isinstance(m, LoRAQKV)]
    model.load_state_dict(_cast_like(model, state), strict=True)
    for layer in layers:
        layer.merged = lora_merged
        if merge:
            layer.merge()
        elif lora_merged:
            layer.unmerge()
    return model.eval()


def is_peft_key(key: str) -> bool:
    """Parameters SEATrack adds to OSTrack and trains (LoRA, HMoE, guidance scalars)."""
    return "lora" in key or "moe" in key or "scaling" in key


def load_ostrack_pretrained(model: nn.Module, source, seed: int = 0) -> nn.Module:
    """Load an OSTrack checkpoint (e.g. ``OSTrack_ep0300.pth.tar``) into the frozen backbone and head.

    The file has every SEATrack key except LoRA, HMoE and the guidance scalars; those are initialised
    as for training (see `init_peft_parameters`). Any other missing or unexpected key is an error.
    """
    state = read_state_dict(source)
    peft_in_file = [k for k in state if is_peft_key(k)]
    if peft_in_file:
        raise CheckpointError(
            f"not an OSTrack checkpoint: it already has SEATrack keys ({_names(peft_in_file)}); "
            "use load_checkpoint"
        )
    _check_keys(model, state, ignore_missing=is_peft_key)
    _check_finite(state)
    model.load_state_dict(_cast_like(model, state), strict=False)
    init_peft_parameters(model, seed)
    return model.eval()


@torch.no_grad()
def init_peft_parameters(model: nn.Module, seed: int = 0) -> None:
    """Initialise LoRA / HMoE / guidance parameters with the distributions used to start training.

    LoRA A: Xavier normal (gain sqrt 2), LoRA B: zero (so the update starts at zero); HMoE projections
    and experts: Xavier normal (gain sqrt 2); HMoE projection biases: uniform(+-1/sqrt(fan)); gate:
    normal(0, 1/sqrt(slot_dim)); temperatures and guidance scalars: 1.
    """
    gen = torch.Generator().manual_seed(seed)
    gain = 2**0.5

    def xavier(t: torch.Tensor) -> None:
        fan_in, fan_out = t.shape[-2], t.shape[-1]
        if t.dim() == 3:  # batched experts: PyTorch's fan convention for 3-D tensors
            fan_in, fan_out = t.shape[1] * t.shape[2], t.shape[0] * t.shape[2]
        std = gain * (2.0 / (fan_in + fan_out)) ** 0.5
        t.copy_(torch.randn(t.shape, generator=gen) * std)

    params = dict(model.named_parameters())
    for name, param in params.items():
        if not is_peft_key(name):
            continue
        leaf = name.rsplit(".", 1)[-1]
        if leaf.endswith("_scaling") or leaf in ("D_temp", "C_temp"):
            param.fill_(1.0)
        elif leaf == "lora_B":
            param.zero_()
        elif leaf == "gate_thi":
            param.copy_(torch.randn(param.shape, generator=gen) * param.shape[0] ** -0.5)
        elif ".norm." in name:
            param.fill_(1.0 if leaf == "weight" else 0.0)
        elif leaf in ("lora_A", "lora_a", "lora_b"):
            xavier(param)
        elif leaf in ("bias_a", "bias_b"):
            if ".experts." in name:
                xavier(param)
            else:  # the training code bounds both projection biases by 1/sqrt(in_dim)
                in_dim = params[name.rsplit(".", 1)[0] + ".lora_a"].shape[0]
                param.copy_((torch.rand(param.shape, generator=gen) * 2 - 1) * in_dim**-0.5)
        else:
            raise AssertionError(f"no initialiser for {name}")
