"""PNG / JPEG checks before decoding (issue 12 items 4 and 8): declared sizes bounded, corrupt frames
refused with a reason and without libpng / libjpeg printing to stderr."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import zlib
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from seatrack_ros.errors import InputError
from seatrack_ros.streams.compressed_check import check_compressed, check_jpeg, check_png
from seatrack_ros.streams.image_conversions import compressed_to_array, image_to_array

RNG = np.random.default_rng(12)
COLOUR = RNG.integers(0, 255, (48, 64, 3), dtype=np.uint8)


def encode(image, ext, *params):
    ok, data = cv2.imencode(ext, image, list(params))
    assert ok
    return data.tobytes()


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def huge_png(width=16384, height=16384) -> bytes:
    """A grey PNG of width x height zeros, compressed in a stream (about 260 kB for 16384^2)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


VALID = {
    "png colour": encode(COLOUR, ".png"),
    "png grey": encode(COLOUR[:, :, 0], ".png"),
    "png 16 bit": encode((COLOUR[:, :, 0].astype(np.uint16) * 250), ".png"),
    "png alpha": encode(np.dstack([COLOUR, COLOUR[:, :, :1]]), ".png"),
    "png 1 px": encode(COLOUR[:1, :1], ".png"),
    "jpeg": encode(COLOUR, ".jpg"),
    "jpeg grey": encode(COLOUR[:, :, 0], ".jpg"),
    "jpeg progressive": encode(COLOUR, ".jpg", cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
    "jpeg restart markers": encode(COLOUR, ".jpg", cv2.IMWRITE_JPEG_RST_INTERVAL, 2),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_images_pass_and_decode_as_before(name):
    data = VALID[name]
    fmt, width, height = check_compressed(data)
    expected = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert (height, width) == expected.shape[:2] and fmt == name.split()[0]
    image, _ = compressed_to_array(SimpleNamespace(format=fmt, data=data))
    np.testing.assert_array_equal(image, expected)


def test_interlaced_and_palette_pngs_pass():
    image_module = pytest.importorskip("PIL.Image")
    import io

    for mode, kwargs in (("RGB", {"interlace": 1}), ("P", {}), ("P", {"interlace": 1}), ("L", {"bits": 4})):
        picture = image_module.fromarray(COLOUR[:37, :29]).convert(mode)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG", optimize=False, **kwargs)
        data = buffer.getvalue()
        assert check_png(data) == (29, 37), mode
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is not None


def test_a_huge_declared_png_is_refused_before_decoding():
    data = huge_png()
    assert len(data) < 400_000  # small message ...
    started = time.perf_counter()
    with pytest.raises(InputError) as err:
        compressed_to_array(SimpleNamespace(format="png", data=data))
    assert err.value.kind == "image_too_large" and "16384x16384" in str(err.value)
    assert time.perf_counter() - started < 0.5  # nothing was inflated or allocated for it
    # the bound is a parameter: the same file passes the check under a larger bound (negative control)
    small = huge_png(300, 200)
    assert check_png(small, max_pixels=60_000) == (300, 200)
    with pytest.raises(InputError):
        check_png(small, max_pixels=59_999)


def test_a_huge_declared_jpeg_and_raw_image_are_refused():
    data = bytearray(VALID["jpeg"])
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 30000, 30000)
    with pytest.raises(InputError) as err:
        check_jpeg(bytes(data))
    assert err.value.kind == "image_too_large"
    raw = SimpleNamespace(encoding="rgb8", height=100_000, width=100_000, step=300_000, is_bigendian=0,
                          data=b"\x00" * 30)
    with pytest.raises(InputError) as err:
        image_to_array(raw)
    assert err.value.kind == "image_too_large"
    raw.height = raw.width = 10  # negative control: the same message under the bound is a size error
    raw.step = 30
    with pytest.raises(InputError) as err:
        image_to_array(raw)
    assert err.value.kind == "size"


def corrupt_pngs():
    good = VALID["png colour"]
    cases = {"truncated half": good[: len(good) // 2], "truncated before IEND": good[:-12],
             "not an image": b"GIF89a" + good[6:]}
    for position in range(8, len(good), max(1, len(good) // 60)):
        flipped = bytearray(good)
        flipped[position] ^= 0x5A
        cases[f"flip at {position}"] = bytes(flipped)
    # a CRC-correct PNG whose zlib stream is damaged, and one with a bad row filter type
    width, height = 16, 4
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    rows = b"".join(b"\x00" + bytes(width) for _ in range(height))
    bad_filter = b"\x07" + rows[1:]
    for name, body in (("bad zlib", zlib.compress(rows)[:-6] + b"\x00" * 6), ("bad filter", zlib.compress(bad_filter)),
                       ("short data", zlib.compress(rows[:-3])), ("long data", zlib.compress(rows + b"\x00" * 17))):
        cases[name] = b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    return cases


def test_every_corrupt_png_is_refused_with_a_reason():
    for name, data in corrupt_pngs().items():
        with pytest.raises(InputError) as err:
            compressed_to_array(SimpleNamespace(format="png", data=data))
        assert err.value.kind == "decode", name


def test_truncated_and_padded_jpegs_are_refused():
    good = VALID["jpeg"]
    tables = good.index(b"\xff\xdb")
    junk_between_segments = good[:tables] + b"\x00\x17" + good[tables:]
    for data in (good[: len(good) // 2], good[:-2], junk_between_segments, good[:20]):
        with pytest.raises(InputError) as err:
            check_jpeg(data)
        assert err.value.kind == "decode"


def test_corrupt_frames_print_nothing_on_stderr():
    """The decoders print from C straight to file descriptor 2, so this runs in a child process;
    the negative control hands the same bytes to OpenCV directly, which makes libpng print."""
    script = """
import sys, numpy as np, cv2
sys.path[:0] = %r
from types import SimpleNamespace
from seatrack_ros.errors import InputError
from seatrack_ros.streams.image_conversions import compressed_to_array
import test_streams_compressed_check as t
good = t.VALID["jpeg"]
tables = good.index(b"\\xff\\xdb")
cases = list(t.corrupt_pngs().values()) + [good[:tables] + b"\\0\\x17" + good[tables:], good[:300]]
for data in cases:
    try:
        compressed_to_array(SimpleNamespace(format="png", data=data))
    except InputError:
        pass
sys.stdout.write("checked\\n")
sys.stdout.flush()
if sys.argv[1] == "control":
    for data in cases:
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
""" % (sys.path,)
    quiet = subprocess.run([sys.executable, "-c", script, "checked"], capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and quiet.stdout == "checked\n", quiet.stderr
    assert quiet.stderr == "", quiet.stderr
    control = subprocess.run([sys.executable, "-c", script, "control"], capture_output=True, text=True,
                             timeout=120)
    assert "libpng error" in control.stderr and "Corrupt JPEG data" in control.stderr, control.stderr
