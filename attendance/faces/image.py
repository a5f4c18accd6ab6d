"""Image loading for the face engine: any common format to an RGB uint8 array, or a clear ImageError."""

from __future__ import annotations

import io
import os
import struct
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


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image",
                 max_side_px: int | None = None) -> np.ndarray:
    """Decode JPEG, PNG, WebP or BMP bytes to an upright RGB uint8 array of shape (H, W, 3).

    EXIF orientation is applied; grayscale, palette, alpha (composited on white) and 16-bit images are
    converted. Raises ``ImageError`` for empty, truncated or non-image data and for images with more
    than ``max_pixels`` pixels (checked from the header, before decoding). With ``max_side_px`` (e.g.
    2560) a larger image is shrunk to fit, while decoding where the format allows (a JPEG decodes at 1/2,
    1/4 or 1/8 scale), so memory stays near that size rather than the file's full resolution.
    """
    if not data:
        raise ImageError(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data": Pillow reads on without it
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(
                    f"{name}: {width}x{height} is too large ({width * height} pixels, the limit is {max_pixels})"
                )
            if image.format not in SUPPORTED_FORMATS:
                raise ImageError(f"{name}: {image.format} images are not supported (use JPEG, PNG, WebP or BMP)")
            if max_side_px and max(width, height) > max_side_px and image.format in ("JPEG", "MPO"):
                image.draft("RGB", (max_side_px, max_side_px))
            image.load()
            if max_side_px and max(image.size) > max_side_px:
                image.thumbnail((max_side_px, max_side_px), Image.Resampling.LANCZOS)
            return _to_rgb_array(_upright(image))
    except ImageError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageError(f"{name}: the image is too large") from err
    except UnidentifiedImageError as err:
        raise ImageError(f"{name}: not an image, or a format that cannot be read") from err
    except (OSError, ValueError, SyntaxError) as err:
        raise ImageError(f"{name}: the image is damaged or truncated ({err})") from err


def _upright(image: Image.Image) -> Image.Image:
    """The image turned by its EXIF orientation; as it is when the EXIF block is corrupt (a camera's bug,
    not a reason to refuse the photo)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow warns "Corrupt EXIF data" and carries on
        try:
            return ImageOps.exif_transpose(image)
        except (OSError, ValueError, SyntaxError, struct.error, KeyError, TypeError):
            return image


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
    if mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))  # one copy of the pixels, not two


def encode_jpeg(image_rgb: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB array, with no metadata (no EXIF, no GPS position) carried over."""
    buffer = io.BytesIO()
    Image.fromarray(image_rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
