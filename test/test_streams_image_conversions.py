"""Tests for seatrack_ros.streams.image_conversions (Image / CompressedImage <-> numpy)."""

import array
import struct
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from seatrack_ros.errors import InputError
from seatrack_ros.streams.image_conversions import (
    array_to_image_fields,
    compressed_to_array,
    fill_image_msg,
    image_to_array,
    to_rgb8,
)


def fake_image(height, width, encoding, step, data, is_bigendian=0):
    return SimpleNamespace(height=height, width=width, encoding=encoding, step=step,
                           data=data, is_bigendian=is_bigendian)


def padded_rgb_bytes(height, width, pad, pad_byte=0xEE):
    """rgb8 rows where pixel (r, c) = (10r + c, 100 + c, 200 + r), followed by `pad` filler bytes."""
    out = bytearray()
    for r in range(height):
        for c in range(width):
            out += bytes((10 * r + c, 100 + c, 200 + r))
        out += bytes([pad_byte]) * pad
    return out


def expected_rgb(height, width):
    return np.array([[[10 * r + c, 100 + c, 200 + r] for c in range(width)] for r in range(height)],
                    dtype=np.uint8)


# ---------------------------------------------------------------- image_to_array

def test_rgb8_without_padding():
    msg = fake_image(2, 3, "rgb8", 9, bytes(padded_rgb_bytes(2, 3, 0)))
    image, encoding = image_to_array(msg)
    assert encoding == "rgb8"
    assert image.shape == (2, 3, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, expected_rgb(2, 3))


def test_row_padding_is_removed():
    msg = fake_image(2, 3, "rgb8", 12, bytes(padded_rgb_bytes(2, 3, 3)))
    image, _ = image_to_array(msg)
    np.testing.assert_array_equal(image, expected_rgb(2, 3))
    assert not (image == 0xEE).any()
    assert image.flags.c_contiguous


@pytest.mark.parametrize("encoding,order", [("bgr8", (2, 1, 0)), ("rgba8", (0, 1, 2, 3)),
                                            ("bgra8", (2, 1, 0, 3))])
def test_colour_encodings_keep_channel_order(encoding, order):
    # One pixel with red=1, green=2, blue=3, alpha=4, laid out in the encoding's byte order.
    rgba = (1, 2, 3, 4)
    wire = bytes(rgba[i] for i in order)
    image, out_encoding = image_to_array(fake_image(1, 1, encoding, len(wire), wire))
    assert out_encoding == encoding
    assert image.shape == (1, 1, len(order))
    assert tuple(image[0, 0]) == tuple(rgba[i] for i in order)


@pytest.mark.parametrize("encoding", ["mono16", "16UC1"])
def test_16bit_little_and_big_endian(encoding):
    wire = bytes([0x01, 0x02, 0x03, 0x04, 0xAA, 0xBB])  # 2 px + 2 padding bytes per row
    little, _ = image_to_array(fake_image(1, 2, encoding, 6, wire, is_bigendian=0))
    big, out_encoding = image_to_array(fake_image(1, 2, encoding, 6, wire, is_bigendian=1))
    assert out_encoding == encoding
    assert little.dtype == np.uint16 and big.dtype == np.uint16
    assert little.dtype.isnative and big.dtype.isnative
    assert little.tolist() == [[0x0201, 0x0403]]
    assert big.tolist() == [[0x0102, 0x0304]]


def test_32fc1_with_padding_and_big_endian():
    values = [[1.5, -2.25, float("nan")], [0.0, 1e-3, 65504.0]]
    little = b"".join(struct.pack("<3f", *row) + b"\x00" * 4 for row in values)
    big = b"".join(struct.pack(">3f", *row) + b"\x00" * 4 for row in values)
    for wire, flag in ((little, 0), (big, 1)):
        image, encoding = image_to_array(fake_image(2, 3, "32FC1", 16, wire, is_bigendian=flag))
        assert encoding == "32FC1" and image.dtype == np.float32 and image.shape == (2, 3)
        np.testing.assert_array_equal(image, np.array(values, dtype=np.float32))


def test_mono8_and_8uc1_alias():
    wire = bytes([0, 127, 255, 9, 7, 7, 7, 7])  # width 3, step 4
    for encoding in ("mono8", "8UC1"):
        image, out_encoding = image_to_array(fake_image(2, 3, encoding, 4, wire))
        assert out_encoding == "mono8"
        assert image.tolist() == [[0, 127, 255], [7, 7, 7]]


def test_8uc3_is_kept_with_unknown_order():
    image, encoding = image_to_array(fake_image(1, 1, "8UC3", 3, bytes([1, 2, 3])))
    assert encoding == "8UC3" and image.tolist() == [[[1, 2, 3]]]
    with pytest.raises(InputError) as info:
        to_rgb8(image, encoding)
    assert info.value.kind == "encoding" and "8UC3" in str(info.value)


def test_result_does_not_alias_message_buffer():
    data = bytearray(padded_rgb_bytes(2, 3, 0))
    msg = fake_image(2, 3, "rgb8", 9, data)
    image, _ = image_to_array(msg)
    assert not np.shares_memory(image, np.frombuffer(data, dtype=np.uint8))
    data[:] = bytes(len(data))  # the middleware reuses the buffer
    np.testing.assert_array_equal(image, expected_rgb(2, 3))
    image[0, 0, 0] = 99  # writable, and writing does not touch the message
    assert data[0] == 0


def test_accepts_array_array_and_plain_lists():
    ref = expected_rgb(2, 3)
    for data in (array.array("B", padded_rgb_bytes(2, 3, 0)), list(padded_rgb_bytes(2, 3, 0))):
        image, _ = image_to_array(fake_image(2, 3, "rgb8", 9, data))
        np.testing.assert_array_equal(image, ref)


def test_unknown_encoding_lists_supported_ones():
    with pytest.raises(InputError) as info:
        image_to_array(fake_image(1, 1, "yuv422", 2, b"\x00\x00"))
    assert info.value.kind == "encoding"
    assert "yuv422" in str(info.value) and "rgb8" in str(info.value) and "32FC1" in str(info.value)


@pytest.mark.parametrize("height,width", [(0, 3), (3, 0), (0, 0)])
def test_empty_image(height, width):
    with pytest.raises(InputError) as info:
        image_to_array(fake_image(height, width, "mono8", width, b""))
    assert info.value.kind == "empty"


@pytest.mark.parametrize("step,data_len", [
    (8, 16),   # step shorter than a 3 px rgb8 row (9 bytes)
    (9, 17),   # one byte missing
    (12, 21),  # padded rows, last row's padding missing
    (9, 19),   # one byte too many
])
def test_size_mismatches(step, data_len):
    with pytest.raises(InputError) as info:
        image_to_array(fake_image(2, 3, "rgb8", step, bytes(data_len)))
    assert info.value.kind == "size"


# ---------------------------------------------------------------- to_rgb8

def test_to_rgb8_conversions():
    rgb = expected_rgb(2, 3)
    bgr = rgb[:, :, ::-1].copy()
    alpha = np.full((2, 3, 1), 77, np.uint8)
    np.testing.assert_array_equal(to_rgb8(rgb, "rgb8"), rgb)
    np.testing.assert_array_equal(to_rgb8(bgr, "bgr8"), rgb)
    np.testing.assert_array_equal(to_rgb8(np.concatenate([rgb, alpha], 2), "rgba8"), rgb)
    np.testing.assert_array_equal(to_rgb8(np.concatenate([bgr, alpha], 2), "bgra8"), rgb)
    grey = np.array([[0, 50, 255]], np.uint8)
    out = to_rgb8(grey, "mono8")
    assert out.shape == (1, 3, 3)
    assert out.tolist() == [[[0, 0, 0], [50, 50, 50], [255, 255, 255]]]
    np.testing.assert_array_equal(to_rgb8(grey[:, :, None], "mono8"), out)
    # A flipped (negative-stride) view is handled.
    np.testing.assert_array_equal(to_rgb8(bgr[:, ::-1], "bgr8"), rgb[:, ::-1])
    for enc in ("bgr8", "rgba8", "bgra8", "mono8"):
        src = {"bgr8": bgr, "rgba8": np.concatenate([rgb, alpha], 2),
               "bgra8": np.concatenate([bgr, alpha], 2), "mono8": grey}[enc]
        result = to_rgb8(src, enc)
        assert result.dtype == np.uint8 and result.flags.c_contiguous and result.shape[2] == 3
        assert not np.shares_memory(result, src)


@pytest.mark.parametrize("encoding,image", [
    ("mono16", np.zeros((2, 2), np.uint16)),
    ("16UC1", np.zeros((2, 2), np.uint16)),
    ("32FC1", np.zeros((2, 2), np.float32)),
    ("yuv422", np.zeros((2, 2, 2), np.uint8)),
])
def test_to_rgb8_rejects_non_colour(encoding, image):
    with pytest.raises(InputError) as info:
        to_rgb8(image, encoding)
    assert info.value.kind == "encoding"


@pytest.mark.parametrize("encoding,image", [
    ("bgr8", np.zeros((2, 2, 4), np.uint8)),
    ("bgr8", np.zeros((2, 2, 3), np.float32)),
    ("mono8", np.zeros((2, 2, 3), np.uint8)),
    ("rgb8", np.zeros((2, 2), np.uint8)),
])
def test_to_rgb8_rejects_wrong_layout(encoding, image):
    with pytest.raises(InputError) as info:
        to_rgb8(image, encoding)
    assert info.value.kind == "shape"


# ---------------------------------------------------------------- array_to_image_fields / fill

def test_array_to_image_fields_layout():
    image = np.array([[0x0102, 0x0304]], dtype=np.uint16)
    fields = array_to_image_fields(image, "mono16")
    assert set(fields) == {"height", "width", "encoding", "is_bigendian", "step", "data"}
    assert (fields["height"], fields["width"], fields["step"]) == (1, 2, 4)
    assert fields["encoding"] == "mono16" and fields["is_bigendian"] == 0
    assert isinstance(fields["data"], array.array) and fields["data"].typecode == "B"
    assert fields["data"].tobytes() == bytes([0x02, 0x01, 0x04, 0x03])  # little-endian
    # A big-endian input array is stored little-endian too.
    fields_be = array_to_image_fields(image.astype(">u2"), "mono16")
    assert fields_be["data"].tobytes() == bytes([0x02, 0x01, 0x04, 0x03])


def test_array_to_image_fields_copies_and_accepts_views():
    rgb = expected_rgb(4, 6)
    view = rgb[::2, 1::2]  # non-contiguous
    fields = array_to_image_fields(view, "rgb8")
    assert (fields["height"], fields["width"], fields["step"]) == (2, 3, 9)
    expected = bytes(np.ascontiguousarray(view).reshape(-1).tolist())
    assert fields["data"].tobytes() == expected
    rgb[:] = 0
    assert fields["data"].tobytes() == expected


@pytest.mark.parametrize("encoding,image,kind", [
    ("rgb8", np.zeros((2, 2), np.uint8), "shape"),
    ("mono16", np.zeros((2, 2), np.uint8), "shape"),
    ("32FC1", np.zeros((2, 2), np.float64), "shape"),
    ("16UC1", np.zeros((2, 2), np.int16), "shape"),
    ("rgb8", np.zeros((0, 2, 3), np.uint8), "empty"),
    ("nv12", np.zeros((2, 2), np.uint8), "encoding"),
])
def test_array_to_image_fields_rejects(encoding, image, kind):
    with pytest.raises(InputError) as info:
        array_to_image_fields(image, encoding)
    assert info.value.kind == kind


@pytest.mark.parametrize("encoding,dtype,channels", [
    ("rgb8", np.uint8, 3), ("bgr8", np.uint8, 3), ("rgba8", np.uint8, 4), ("bgra8", np.uint8, 4),
    ("mono8", np.uint8, 1), ("mono16", np.uint16, 1), ("16UC1", np.uint16, 1),
    ("32FC1", np.float32, 1),
])
def test_round_trip_through_fake_message(encoding, dtype, channels):
    rng = np.random.default_rng(7)
    shape = (5, 7) if channels == 1 else (5, 7, channels)
    if dtype == np.float32:
        image = rng.normal(size=shape).astype(np.float32)
    else:
        image = rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype)
    msg = fill_image_msg(SimpleNamespace(), image, encoding)
    back, out_encoding = image_to_array(msg)
    assert out_encoding == encoding
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, image)


def test_fill_leaves_message_untouched_on_error():
    msg = SimpleNamespace(encoding="old")
    with pytest.raises(InputError):
        fill_image_msg(msg, np.zeros((2, 2), np.uint8), "rgb8")
    assert vars(msg) == {"encoding": "old"}


# ---------------------------------------------------------------- real sensor_msgs types

def test_real_image_message_round_trip():
    from sensor_msgs.msg import Image

    image = expected_rgb(3, 4)
    msg = fill_image_msg(Image(), image, "rgb8")
    assert (msg.height, msg.width, msg.step, msg.encoding, msg.is_bigendian) == (3, 4, 12, "rgb8", 0)
    assert len(msg.data) == 36
    back, encoding = image_to_array(msg)
    assert encoding == "rgb8"
    np.testing.assert_array_equal(back, image)
    assert not np.shares_memory(back, np.frombuffer(msg.data, dtype=np.uint8))

    depth = np.array([[0.5, np.nan], [2.0, 10.25]], np.float32)
    msg = fill_image_msg(Image(), depth, "32FC1")
    back, encoding = image_to_array(msg)
    assert encoding == "32FC1"
    np.testing.assert_array_equal(back, depth)


def test_real_image_message_with_padding_and_big_endian():
    from sensor_msgs.msg import Image

    msg = Image()
    msg.height, msg.width, msg.encoding, msg.step = 2, 3, "rgb8", 16
    msg.data = array.array("B", padded_rgb_bytes(2, 3, 7))
    back, _ = image_to_array(msg)
    np.testing.assert_array_equal(back, expected_rgb(2, 3))

    msg = Image()
    msg.height, msg.width, msg.encoding, msg.step, msg.is_bigendian = 1, 2, "16UC1", 6, 1
    msg.data = bytes([0x12, 0x34, 0xAB, 0xCD, 0, 0])
    back, _ = image_to_array(msg)
    assert back.tolist() == [[0x1234, 0xABCD]]


def test_real_compressed_image_message():
    from sensor_msgs.msg import CompressedImage

    bgr = np.zeros((8, 8, 3), np.uint8)
    bgr[:, :4] = (255, 0, 0)  # blue left half
    ok, png = cv2.imencode(".png", bgr)
    assert ok
    msg = CompressedImage()
    msg.format = "bgr8; png compressed bgr8"
    msg.data = png.tobytes()
    image, encoding = compressed_to_array(msg)
    assert encoding == "bgr8"
    np.testing.assert_array_equal(image, bgr)
    np.testing.assert_array_equal(to_rgb8(image, encoding)[0, 0], [0, 0, 255])


# ---------------------------------------------------------------- compressed_to_array

def fake_compressed(fmt, data):
    return SimpleNamespace(format=fmt, data=data)


def encode(ext, image, params=()):
    ok, buf = cv2.imencode(ext, image, list(params))
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize("fmt,image,expected_encoding", [
    ("png", np.arange(24, dtype=np.uint8).reshape(4, 6), "mono8"),
    ("mono8; png compressed mono8", np.arange(24, dtype=np.uint8).reshape(4, 6), "mono8"),
    ("bgr8; png compressed bgr8", np.arange(72, dtype=np.uint8).reshape(4, 6, 3), "bgr8"),
    ("bgra8; png compressed bgra8", np.arange(96, dtype=np.uint8).reshape(4, 6, 4), "bgra8"),
    ("mono16; png compressed mono16", (np.arange(24, dtype=np.uint16) * 2000).reshape(4, 6), "mono16"),
    ("16UC1; png compressed mono16", (np.arange(24, dtype=np.uint16) * 2000).reshape(4, 6), "16UC1"),
    ("", np.arange(24, dtype=np.uint8).reshape(4, 6), "mono8"),  # format missing: sniffed
])
def test_png_decodes_losslessly(fmt, image, expected_encoding):
    decoded, encoding = compressed_to_array(fake_compressed(fmt, encode(".png", image)))
    assert encoding == expected_encoding
    assert decoded.dtype == image.dtype and decoded.flags.c_contiguous
    np.testing.assert_array_equal(decoded, image)


def test_jpeg_colour_comes_back_bgr():
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[:] = (220, 40, 10)  # reddish, in RGB order
    # The publisher encodes from OpenCV (BGR) order, as compressed_image_transport does.
    data = encode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), (cv2.IMWRITE_JPEG_QUALITY, 95))
    for fmt in ("jpeg", "rgb8; jpeg compressed bgr8", "bgr8; jpeg compressed bgr8"):
        decoded, encoding = compressed_to_array(fake_compressed(fmt, data))
        assert encoding == "bgr8" and decoded.shape == (16, 16, 3)
        np.testing.assert_allclose(decoded[8, 8].astype(int), (10, 40, 220), atol=6)
        np.testing.assert_allclose(to_rgb8(decoded, encoding)[8, 8].astype(int), (220, 40, 10), atol=6)


def test_jpeg_grey_is_mono8():
    grey = np.full((8, 8), 128, np.uint8)
    decoded, encoding = compressed_to_array(fake_compressed("mono8; jpeg compressed mono8",
                                                            encode(".jpg", grey)))
    assert encoding == "mono8" and decoded.shape == (8, 8)
    assert abs(int(decoded[4, 4]) - 128) <= 2


def depth_header(quant_a=0.0, quant_b=0.0):
    # compressed_depth_image_transport's ConfigHeader: int32 format (0 = inverse depth), float32 A, B.
    return struct.pack("<iff", 0, quant_a, quant_b)


@pytest.mark.parametrize("fmt", ["16UC1; compressedDepth", "16UC1; compressedDepth png"])
def test_compressed_depth_16uc1(fmt):
    depth_mm = np.array([[0, 500, 1000], [2500, 65535, 7]], np.uint16)
    data = depth_header() + encode(".png", depth_mm)
    decoded, encoding = compressed_to_array(fake_compressed(fmt, data))
    assert encoding == "16UC1" and decoded.dtype == np.uint16
    np.testing.assert_array_equal(decoded, depth_mm)


def test_compressed_depth_32fc1_inverse_depth():
    # Publisher side, per compressed_depth_image_transport: A = z0 (z0 + 1), B = 1 - A / max_depth,
    # q = uint16(A / depth + B), q = 0 where depth >= max_depth (or NaN).
    z0, max_depth = 100.0, 10.0
    quant_a = z0 * (z0 + 1.0)
    quant_b = 1.0 - quant_a / max_depth
    depth = np.array([[0.5, 1.0, 2.0], [5.0, 9.5, 12.0]], np.float32)
    q = np.where(depth < max_depth, quant_a / depth + quant_b, 0).astype(np.uint16)
    data = depth_header(quant_a, quant_b) + encode(".png", q)
    decoded, encoding = compressed_to_array(fake_compressed("32FC1; compressedDepth png", data))
    assert encoding == "32FC1" and decoded.dtype == np.float32 and decoded.shape == (2, 3)
    assert np.isnan(decoded[1, 2])
    # Quantisation step at depth d is about d^2 / A (< 0.01 m at 9.5 m here).
    np.testing.assert_allclose(decoded[np.isfinite(decoded)], depth[depth < max_depth], atol=0.01)


@pytest.mark.parametrize("fmt,data,kind", [
    ("16UC1; compressedDepth rvl", depth_header() + b"\x00" * 20, "encoding"),
    ("mono8; compressedDepth png", depth_header() + b"\x00" * 20, "encoding"),
    ("16UC1; compressedDepth", b"\x00" * 12, "size"),
    ("16UC1; compressedDepth", depth_header() + b"not a png at all", "decode"),
    ("theora", b"\x00" * 10, "encoding"),
    ("jpeg", b"", "empty"),
    ("jpeg", b"\xff\xd8\xff\x00garbage", "decode"),
])
def test_compressed_errors(fmt, data, kind):
    with pytest.raises(InputError) as info:
        compressed_to_array(fake_compressed(fmt, data))
    assert info.value.kind == kind


def test_16bit_colour_png_is_rejected():
    data = encode(".png", np.zeros((2, 2, 3), np.uint16))
    with pytest.raises(InputError) as info:
        compressed_to_array(fake_compressed("bgr16; png compressed bgr16", data))
    assert info.value.kind == "encoding"
