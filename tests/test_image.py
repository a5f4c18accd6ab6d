"""Image loading: every common format, EXIF orientation, odd pixel formats, and a clear error for bad files."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from attendance.errors import ImageError
from attendance.faces.image import decode_image, encode_jpeg, load_image


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_common_formats_decode_to_rgb(fmt):
    image = Image.new("RGB", (40, 30), (200, 100, 50))
    array = decode_image(encode(image, fmt))
    assert array.shape == (30, 40, 3) and array.dtype == np.uint8
    assert abs(int(array[15, 20, 0]) - 200) < 8


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (60, 20), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    array = decode_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert array.shape[:2] == (60, 20)


@pytest.mark.parametrize("mode, value", [("L", 128), ("LA", (128, 255)), ("RGBA", (10, 20, 30, 255)), ("P", 3)])
def test_grayscale_alpha_and_palette(mode, value):
    array = decode_image(encode(Image.new(mode, (8, 8), value), "PNG"))
    assert array.shape == (8, 8, 3)


def test_transparent_pixels_become_white():
    array = decode_image(encode(Image.new("RGBA", (4, 4), (0, 0, 0, 0)), "PNG"))
    assert array.min() == 255


def test_sixteen_bit_grayscale_is_scaled():
    data = (np.ones((6, 6), dtype=np.uint16) * 65535).astype(">u2")
    image = Image.frombytes("I;16B", (6, 6), data.tobytes())
    array = decode_image(encode(image, "PNG"))
    assert array.max() == 255 and array.shape == (6, 6, 3)


def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"hello, this is a text file\n" * 10, "not an image"),
    (png_header_only(20000, 20000), "too large"),
])
def test_bad_inputs_get_a_clear_error(data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data, max_pixels=60_000_000)


def test_truncated_jpeg_is_refused():
    rng = np.random.default_rng(0)
    data = encode(Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)), "JPEG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        decode_image(data[: len(data) // 2])


def test_text_file_renamed_jpg_and_missing_file(tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("not really a photo")
    with pytest.raises(ImageError, match=r"photo\.jpg: not an image"):
        load_image(fake)
    with pytest.raises(ImageError, match="file not found"):
        load_image(tmp_path / "missing.jpg")


def test_jpeg_encoding_drops_metadata():
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    original = encode(Image.new("RGB", (16, 16)), "JPEG", exif=exif.tobytes())
    again = encode_jpeg(decode_image(original))
    assert b"CameraMaker" in original and b"CameraMaker" not in again
