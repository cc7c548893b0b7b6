"""Image files for the input tests (issue #19): hostile shapes, and every odd-but-valid mode.

The hostile files are built from bytes: a decompression bomb declares 30000×30000 in a header
of a few dozen bytes, so no test ever allocates its pixels.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image

SIZE = 64


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _ihdr(width: int, height: int, color_type: int = 2) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)


def _png(width: int, height: int, idat: bytes, color_type: int = 2) -> bytes:
    return _ihdr(width, height, color_type) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def encoded(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noise(width: int = SIZE, height: int = SIZE, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _good_png() -> bytes:
    return encoded(noise())


def _good_jpeg() -> bytes:
    return encoded(noise(), "JPEG", quality=90)


def _jpeg_declaring(width: int, height: int) -> bytes:
    data = _good_jpeg()
    sof = data.index(b"\xff\xc0")
    return data[:sof + 5] + struct.pack(">HH", height, width) + data[sof + 9:]


def _bmp_declaring(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + info


def _gif_declaring(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0) + b"\x3b"


def _bad_crc_png() -> bytes:
    data = bytearray(_good_png())
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # a flipped byte inside the compressed pixels
    return bytes(data)


_SMALL_IDAT = zlib.compress(b"\0" * 200)

# name -> bytes of a file no image input may accept; each must give a clear one-line error
HOSTILE: dict[str, Callable[[], bytes]] = {
    "png-bomb-30000": lambda: _png(30000, 30000, _SMALL_IDAT),
    "png-bomb-header-only": lambda: _ihdr(30000, 30000),
    "png-bomb-wide": lambda: _png(2**31 - 1, 1, _SMALL_IDAT),
    "png-100mp": lambda: _png(10000, 10000, _SMALL_IDAT),
    "png-over-limit": lambda: _png(9000, 9000, _SMALL_IDAT),
    "jpeg-bomb-30000": lambda: _jpeg_declaring(30000, 30000),
    "jpeg-over-limit": lambda: _jpeg_declaring(9000, 9000),
    "bmp-bomb": lambda: _bmp_declaring(30000, 30000),
    "gif-bomb": lambda: _gif_declaring(30000, 30000),
    "png-truncated-half": lambda: _good_png()[: len(_good_png()) // 2],
    "png-truncated-60": lambda: _good_png()[:60],
    "png-signature-only": lambda: _good_png()[:8],
    "png-header-only": lambda: _ihdr(SIZE, SIZE),
    "png-no-idat": lambda: _ihdr(SIZE, SIZE) + _chunk(b"IEND", b""),
    "png-empty-idat": lambda: _png(SIZE, SIZE, b""),
    "png-garbage-idat": lambda: _png(SIZE, SIZE, b"\x78\x9c" + b"\xff" * 300),
    "png-short-idat": lambda: _png(SIZE, SIZE, _SMALL_IDAT),
    "png-bad-crc": _bad_crc_png,
    "png-zero-width": lambda: _png(0, SIZE, _SMALL_IDAT),
    "png-bad-colour-type": lambda: _png(SIZE, SIZE, _SMALL_IDAT, color_type=9),
    "jpeg-truncated-half": lambda: _good_jpeg()[: len(_good_jpeg()) // 2],
    "jpeg-header-only": lambda: _good_jpeg()[:200],
    "jpeg-soi-only": lambda: b"\xff\xd8",
    "text": lambda: b"this is not an image\n",
    "empty": lambda: b"",
    "html": lambda: b"<!doctype html><html><body>hello</body></html>",
    "random-bytes": lambda: np.random.default_rng(1).integers(0, 256, 4096, np.uint8).tobytes(),
}


def _rgb() -> Image.Image:
    return noise(seed=5)


def _l_values() -> np.ndarray:
    return np.asarray(_rgb().convert("L"))


def _la() -> tuple[Image.Image, Image.Image]:
    alpha = np.tile(np.linspace(0, 255, SIZE).astype(np.uint8), (SIZE, 1))
    image = Image.fromarray(np.dstack([_l_values(), alpha]), "LA")
    return image, Image.fromarray(np.dstack([_l_values()] * 3 + [alpha]), "RGBA")


def _palette() -> tuple[Image.Image, Image.Image]:
    image = _rgb().quantize(16)
    image.info["transparency"] = 0
    reference = image.convert("RGBA")
    return image, reference


def _i16() -> tuple[Image.Image, Image.Image]:
    values = np.asarray(_l_values(), np.uint16) * 257
    return Image.fromarray(values), Image.fromarray(np.dstack([_l_values()] * 3))


def _one_bit() -> tuple[Image.Image, Image.Image]:
    bits = _l_values() > 127
    image = Image.fromarray(bits)
    return image, Image.fromarray(np.dstack([bits.astype(np.uint8) * 255] * 3))


def _rgba() -> tuple[Image.Image, Image.Image]:
    alpha = np.zeros((SIZE, SIZE), np.uint8)
    alpha[16:48, 8:56] = 255
    alpha[20:30] = 128
    image = Image.fromarray(np.dstack([np.asarray(_rgb()), alpha]), "RGBA")
    return image, image


def mode_sample(name: str) -> tuple[bytes, str, Image.Image]:
    """(file bytes, file suffix, expected RGB or RGBA reference computed independently)."""
    if name == "cmyk-jpeg":
        data = encoded(_rgb().convert("CMYK"), "JPEG", quality=95)
        return data, ".jpg", Image.open(io.BytesIO(data)).convert("RGB")
    builders = {"la": _la, "p-transparency": _palette, "i16": _i16, "1-bit": _one_bit,
                "rgba": _rgba}
    image, reference = builders[name]()
    return encoded(image), ".png", reference


MODES = ["cmyk-jpeg", "la", "p-transparency", "i16", "1-bit", "rgba"]


def over_white(reference: Image.Image) -> np.ndarray:
    """What the edit jobs see: the reference with any alpha composited over white."""
    rgba = np.asarray(reference.convert("RGBA"), np.float64)
    alpha = rgba[..., 3:] / 255.0
    return np.rint(rgba[..., :3] * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
