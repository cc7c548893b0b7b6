"""Decoding the images users hand us: one bounded, upright, plain-mode way for every input.

Every source image, mask and upscale input (CLI, engine, GUI) goes through `open_image`: it
rejects a declared size beyond `MAX_PIXELS` before any pixel is decoded (a 30000×30000 PNG of a
few bytes is refused, not allocated), loads the pixels fully (a truncated file fails here, not
half-way through a job), turns the image upright by its EXIF orientation, and converts exotic
modes (CMYK, palette, 16-bit, 1-bit, …) to RGB, RGBA, L or LA. Any failure is one
`ImageReadError` whose message names the input and the reason on one line.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE_LABEL = "8192×8192"
MAX_PIXELS = 8192 * 8192  # 67 MP: ~200 MB of RGB; the largest source any job accepts
PLAIN_MODES = ("RGB", "RGBA", "L", "LA")
_HIGH_DEPTH = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class ImageReadError(ValueError, OSError):
    """An input image that cannot be used; the message says which one and why (one line).

    Both a ValueError (the CLI's and the engine's "bad input") and an OSError (what callers
    of PIL's `Image.open` already catch).
    """


def open_image(source: str | Path | bytes, purpose: str = "image",
               max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode a file (path) or encoded bytes into a loaded, upright image in a plain mode.

    The result's mode is one of RGB, RGBA, L, LA. Raises ImageReadError
    ("cannot read mask /x/mask.png: the file is truncated or damaged (…)") on anything
    unreadable: not an image, empty, truncated, damaged, or larger than `max_pixels`.
    """
    name = f" {source}" if isinstance(source, (str, Path)) else ""
    try:
        return _decode(source, max_pixels)
    except Exception as exc:  # noqa: BLE001 - decoders of hostile files raise anything
        reason = " ".join(_reason(exc, source).split())
        raise ImageReadError(f"cannot read {purpose}{name}: {reason}") from exc


class _Refused(Exception):
    pass


def _decode(source: str | Path | bytes, max_pixels: int) -> Image.Image:
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with warnings.catch_warnings():
        # PIL warns above 89 MP; the bound below is lower and says what to do instead
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(stream) as image:
            width, height = image.size
            if width < 1 or height < 1:
                raise _Refused(f"it declares an empty size ({width}×{height})")
            if width * height > max_pixels:
                raise _Refused(
                    f"the image is {width}×{height} ({width * height / 1e6:.0f} MP): larger "
                    f"than {MAX_SIDE_LABEL} is not supported; downscale it first")
            image.load()
            plain = plain_mode(_upright(image))
            return plain.copy() if plain is image else plain


def _upright(image: Image.Image) -> Image.Image:
    """Turned by its EXIF orientation; a damaged EXIF block leaves the pixels as stored."""
    try:
        return ImageOps.exif_transpose(image) or image
    except Exception:  # noqa: BLE001 - hostile EXIF must not make a good image unreadable
        return image


def _reason(exc: Exception, source: str | Path | bytes) -> str:
    if isinstance(exc, (_Refused, ImageReadError)):
        return str(exc)
    if isinstance(exc, Image.DecompressionBombError):
        limit = 2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6
        return (f"it declares more than {limit:.0f} MP (a decompression bomb?); images up to "
                f"{MAX_SIDE_LABEL} are supported")
    if isinstance(exc, UnidentifiedImageError):
        if _is_empty(source):
            return "the file is empty (0 bytes)"
        return "not an image file, or a damaged one (no known image format recognised it)"
    if isinstance(exc, OSError) and exc.strerror:  # the file itself: permission, I/O error
        return exc.strerror
    if isinstance(exc, MemoryError):
        return "not enough memory to decode it"
    return f"the file is truncated or damaged ({type(exc).__name__}: {exc})"


def _is_empty(source: str | Path | bytes) -> bool:
    if isinstance(source, bytes):
        return not source
    try:
        return Path(source).stat().st_size == 0
    except OSError:
        return False


def plain_mode(image: Image.Image) -> Image.Image:
    """`image` in RGB, RGBA, L or LA (itself when already so): palette and key transparency
    become alpha, 16-bit/32-bit scale to 8-bit, 1-bit to L, CMYK/YCbCr/LAB/HSV to RGB."""
    mode = image.mode
    keyed = "transparency" in image.info and mode in ("L", "RGB", "P")
    if mode in PLAIN_MODES and not keyed:
        return image
    if mode in _HIGH_DEPTH:
        return _high_depth_to_l(image)
    if mode == "1":
        return image.convert("L")
    if keyed or mode in _ALPHA_MODES:
        return image.convert("LA" if mode in ("L", "La") else "RGBA")
    try:
        return image.convert("RGB")
    except ValueError as exc:  # e.g. LAB: PIL has no conversion
        raise ImageReadError(f"its colour mode {mode} is not supported; save it as RGB") from exc


def _high_depth_to_l(image: Image.Image) -> Image.Image:
    array = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
    if image.mode == "F" and array.max() <= 1.0:
        top = 1.0
    return Image.fromarray(np.clip(np.rint(array / top * 255.0), 0, 255).astype(np.uint8), "L")
