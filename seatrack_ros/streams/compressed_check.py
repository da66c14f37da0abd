"""Checks of PNG and JPEG bytes before OpenCV decodes them (rclpy-free).

Two reasons, both about messages that cost far more than they weigh:

- Size: a 261 kB PNG can declare 16384 x 16384 pixels, which OpenCV would allocate (1.8 GB) and decode
  (3 s). The declared size is read from the header (PNG IHDR, JPEG SOF) and refused above a bound
  before anything is decoded.
- Noise: OpenCV lets libpng print ``libpng error: ...`` and libjpeg ``Corrupt JPEG data: ...`` on the
  process's stderr for every corrupt frame, outside any logging control. The structure is checked here
  instead, so that a corrupt frame is refused with one clear, counted reason and never reaches them:
  for PNG every chunk's CRC, the IHDR fields, the chunk order, and the zlib stream of the image data
  (complete, the size the header implies, a valid filter type on every row); for JPEG the marker
  segments, their lengths, nothing between them, and the end-of-image marker. What is not checked:
  the Huffman-coded data inside a JPEG scan (a bit flip there can still make libjpeg print a warning
  and return a damaged picture; checking it means decoding it).
"""

from __future__ import annotations

import re
import struct
import zlib

import numpy as np

from seatrack_ros.errors import InputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
# 8192 x 4096: above any camera a tracker at tens of frames a second is fed, and 100 MB as RGB.
DEFAULT_MAX_IMAGE_PIXELS = 1 << 25

# colour type -> (channels, allowed bit depths)
_PNG_COLOUR_TYPES = {0: (1, (1, 2, 4, 8, 16)), 2: (3, (8, 16)), 3: (1, (1, 2, 4, 8)), 4: (2, (8, 16)),
                     6: (4, (8, 16))}
# Adam7 passes: (x0, y0, dx, dy)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_INFLATE_PIECE = 1 << 22  # output bytes per zlib call: the check never holds the whole image
# SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC)
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# In entropy-coded data 0xFF is followed by 0x00 (stuffing) or a restart marker; anything else ends it.
_JPEG_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def check_declared_size(width: int, height: int, max_pixels: int, what: str) -> None:
    """Refuse an image whose declared size exceeds ``max_pixels`` (kind ``image_too_large``)."""
    if width * height > max_pixels:
        raise InputError(
            "image_too_large",
            f"{what} declares {width}x{height} = {width * height} pixels, more than max_image_pixels "
            f"= {max_pixels}; refused before decoding",
        )


def check_compressed(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[str, int, int]:
    """Check PNG or JPEG ``data`` (see the module docstring). Returns (format, width, height).

    Raises InputError: ``decode`` (neither PNG nor JPEG, or corrupt), ``image_too_large``.
    """
    if data.startswith(PNG_SIGNATURE):
        width, height = check_png(data, max_pixels)
        return "png", width, height
    if data.startswith(JPEG_SOI):
        width, height = check_jpeg(data, max_pixels)
        return "jpeg", width, height
    raise InputError("decode", f"compressed image data of {len(data)} bytes is neither PNG nor JPEG")


def _png_rows(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> list[tuple[int, int]]:
    """(row length with its filter byte, row count) per pass of the image data."""
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    rows = []
    for x0, y0, dx, dy in passes:
        pass_w = (width - x0 + dx - 1) // dx if width > x0 else 0
        pass_h = (height - y0 + dy - 1) // dy if height > y0 else 0
        if pass_w and pass_h:
            rows.append((1 + (pass_w * bits_per_pixel + 7) // 8, pass_h))
    return rows


def check_png(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """Check a PNG's chunks, header and image data. Returns (width, height); InputError otherwise."""
    pos, size = len(PNG_SIGNATURE), len(data)
    header = None
    palette = False
    idat: list[memoryview] = []
    idat_done = False
    view = memoryview(data)
    while True:
        if pos + 12 > size:
            raise InputError("decode", f"PNG truncated at byte {pos} of {size} (no IEND chunk)")
        length, = struct.unpack_from(">I", data, pos)
        kind = bytes(view[pos + 4:pos + 8])
        if length > 0x7FFFFFFF or pos + 12 + length > size:
            raise InputError("decode", f"PNG chunk {kind!r} at byte {pos} runs past the end of the {size} bytes")
        body = view[pos + 8:pos + 8 + length]
        crc, = struct.unpack_from(">I", data, pos + 8 + length)
        if zlib.crc32(body, zlib.crc32(kind)) != crc:
            raise InputError("decode", f"PNG chunk {kind!r} at byte {pos} fails its CRC (corrupt data)")
        pos += 12 + length
        if header is None:
            if kind != b"IHDR" or length != 13:
                raise InputError("decode", "PNG does not start with an IHDR chunk")
            header = struct.unpack(">IIBBBBB", body)
            width, height, depth, colour, compression, filtering, interlace = header
            if not (0 < width <= 0x7FFFFFFF and 0 < height <= 0x7FFFFFFF):
                raise InputError("decode", f"PNG header declares a {width}x{height} image")
            check_declared_size(width, height, max_pixels, "PNG")
            if colour not in _PNG_COLOUR_TYPES or depth not in _PNG_COLOUR_TYPES[colour][1]:
                raise InputError("decode", f"PNG header has bit depth {depth} with colour type {colour}")
            if compression or filtering or interlace > 1:
                raise InputError("decode", "PNG header names an unknown compression, filter or interlace method")
            continue
        if kind == b"IEND":
            break
        if kind == b"IDAT":
            if idat_done:
                raise InputError("decode", "PNG image data (IDAT) chunks are not consecutive")
            idat.append(body)
        elif idat:
            idat_done = True
        if kind == b"PLTE":
            if idat or length % 3 or not 0 < length <= 768:
                raise InputError("decode", f"PNG palette of {length} bytes is malformed or after the image data")
            palette = True
        elif kind[0] & 0x20 == 0 and kind not in (b"IDAT",):  # an unknown critical chunk
            raise InputError("decode", f"PNG has an unknown critical chunk {kind!r}")
    width, height, depth, colour, _, _, interlace = header
    if colour == 3 and not palette:
        raise InputError("decode", "PNG with colour type 3 has no palette")
    if not idat:
        raise InputError("decode", "PNG has no image data")
    bits = depth * _PNG_COLOUR_TYPES[colour][0]
    _check_png_image_data(idat, _png_rows(width, height, bits, bool(interlace)))
    return width, height


def _check_png_image_data(chunks: list[memoryview], rows: list[tuple[int, int]]) -> None:
    """Inflate the IDAT stream piece by piece: it must end exactly after the rows the header implies,
    each starting with a filter type 0..4."""
    expected = sum(length * count for length, count in rows)
    inflater = zlib.decompressobj()
    produced = 0
    pass_index, pass_start = 0, 0  # the current pass and where its rows begin in the output

    def check_filters(piece: bytes, offset: int) -> None:
        nonlocal pass_index, pass_start
        end = offset + len(piece)
        buffer = np.frombuffer(piece, np.uint8)
        while pass_index < len(rows):
            length, count = rows[pass_index]
            pass_end = pass_start + length * count
            first = max(0, -(-(offset - pass_start) // length))  # first row starting at or after offset
            last = min(count, -(-(min(end, pass_end) - pass_start) // length))
            if last > first:
                starts = pass_start + length * np.arange(first, last, dtype=np.int64) - offset
                if (buffer[starts] > 4).any():
                    raise InputError("decode", "PNG image data has an invalid row filter type (corrupt data)")
            if pass_end > end:
                return
            pass_index, pass_start = pass_index + 1, pass_end

    try:
        for chunk in chunks:
            pending = bytes(chunk)
            while pending and not inflater.eof:
                piece = inflater.decompress(pending, _INFLATE_PIECE)
                pending = inflater.unconsumed_tail
                if produced + len(piece) > expected:
                    raise InputError("decode", "PNG image data is larger than its header's size")
                check_filters(piece, produced)
                produced += len(piece)
            if inflater.eof and (pending or inflater.unused_data):
                raise InputError("decode", "PNG has data after the end of its compressed image stream")
    except zlib.error as exc:
        raise InputError("decode", f"PNG image data is not a valid zlib stream: {exc}") from None
    if not inflater.eof or produced != expected:
        raise InputError(
            "decode", f"PNG image data is incomplete ({produced} of {expected} bytes; truncated or corrupt)"
        )


def check_jpeg(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """Check a JPEG's marker structure. Returns (width, height); InputError otherwise."""
    pos, size = 2, len(data)
    frame = None
    while True:
        if pos >= size:
            raise InputError("decode", f"JPEG truncated at byte {pos} (no end-of-image marker)")
        if data[pos] != 0xFF:
            raise InputError("decode", f"JPEG has stray bytes at byte {pos} where a marker should start")
        while pos < size and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= size:
            raise InputError("decode", "JPEG truncated inside a marker")
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # end of image
            break
        if marker in (0x00, 0xD8) or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            raise InputError("decode", f"JPEG has a misplaced marker 0xFF{marker:02X} at byte {pos - 2}")
        if pos + 2 > size:
            raise InputError("decode", "JPEG truncated inside a segment length")
        length, = struct.unpack_from(">H", data, pos)
        if length < 2 or pos + length > size:
            raise InputError("decode", f"JPEG segment 0xFF{marker:02X} at byte {pos - 2} runs past the end")
        if marker in _JPEG_SOF:
            if frame is not None:
                raise InputError("decode", "JPEG has more than one frame header")
            if length < 8:
                raise InputError("decode", "JPEG frame header is too short")
            height, width = struct.unpack_from(">HH", data, pos + 3)
            if width == 0 or height == 0:
                raise InputError("decode", f"JPEG frame header declares a {width}x{height} image")
            check_declared_size(width, height, max_pixels, "JPEG")
            frame = (width, height)
        pos += length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            if frame is None:
                raise InputError("decode", "JPEG scan before its frame header")
            found = _JPEG_SCAN_END.search(data, pos)
            if found is None:
                raise InputError("decode", "JPEG scan data is truncated (no end-of-image marker)")
            pos = found.start()
    if frame is None:
        raise InputError("decode", "JPEG has no frame header")
    return frame
