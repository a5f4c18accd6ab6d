"""Image loading for the face engine: any common format to an RGB uint8 array, or a clear ImageError."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from attendance.errors import ImageError

DEFAULT_MAX_PIXELS = 60_000_000
SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "MPO", "TIFF")


def read_image_bytes(path: str | os.PathLike[str]) -> bytes:
    """Read a file's bytes, turning OS errors into ``ImageError``."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as err:
        raise ImageError(f"{path}: file not found") from err
    except IsADirectoryError as err:
        raise ImageError(f"{path}: is a folder, not an image") from err
    except OSError as err:
        raise ImageError(f"{path}: cannot read the file ({err.strerror})") from err


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image") -> np.ndarray:
    """Decode JPEG, PNG, WebP or BMP bytes to an upright RGB uint8 array of shape (H, W, 3).

    EXIF orientation is applied; grayscale, palette, alpha (composited on white) and 16-bit images are
    converted. Raises ``ImageError`` for empty, truncated or non-image data and for images with more
    than ``max_pixels`` pixels (checked from the header, before decoding).
    """
    if not data:
        raise ImageError(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(
                    f"{name}: {width}x{height} is too large ({width * height} pixels, the limit is {max_pixels})"
                )
            if image.format not in SUPPORTED_FORMATS:
                raise ImageError(f"{name}: {image.format} images are not supported (use JPEG, PNG, WebP or BMP)")
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb_array(image)
    except ImageError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageError(f"{name}: the image is too large") from err
    except UnidentifiedImageError as err:
        raise ImageError(f"{name}: not an image, or a format that cannot be read") from err
    except (OSError, ValueError, SyntaxError) as err:
        raise ImageError(f"{name}: the image is damaged or truncated ({err})") from err


def load_image(path: str | os.PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read and decode the image at ``path``; see ``decode_image``."""
    return decode_image(read_image_bytes(path), max_pixels=max_pixels, name=str(path))


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        gray = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([gray] * 3, axis=-1))
    if mode == "F":
        array = np.asarray(image, dtype=np.float64)
        top = 1.0 if array.max() <= 1.0 else 255.0
        gray = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([gray] * 3, axis=-1))
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA") or (mode == "RGB" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def encode_jpeg(image_rgb: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB array, with no metadata (no EXIF, no GPS position) carried over."""
    buffer = io.BytesIO()
    Image.fromarray(image_rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
