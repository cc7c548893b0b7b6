"""A1111 "stealth" PNG info (the stealth-pnginfo extension; NovelAI uses it too).

The text hides in the lowest bit of the alpha channel (`stealth_pnginfo`, or gzip-compressed
`stealth_pngcomp`) or of R, G and B in turn (`stealth_rgbinfo` / `stealth_rgbcomp`). Bits are
taken column by column (x outer, y inner), most significant bit first: the 15-byte signature,
a 32-bit big-endian payload length in bits, then the payload (UTF-8 text).
"""

from __future__ import annotations

import zlib

import numpy as np
from PIL import Image

from studio.core.readers._common import MAX_CHUNK_CHARS

_SIGNATURES = {b"stealth_pnginfo": ("alpha", False), b"stealth_pngcomp": ("alpha", True),
               b"stealth_rgbinfo": ("rgb", False), b"stealth_rgbcomp": ("rgb", True)}
_SIGNATURE_BITS = 15 * 8
_HEADER_BITS = _SIGNATURE_BITS + 32
MAX_PAYLOAD_BYTES = 1024 * 1024  # the hidden (possibly compressed) payload
MAX_TEXT_BYTES = MAX_CHUNK_CHARS  # the text after gzip: a bomb stops here
MAX_PIXELS = 40_000_000  # larger images are not searched


def read_stealth_text(image: Image.Image) -> str | None:
    """The text hidden in a PNG's pixels, or None (none, broken, oversized). Never raises."""
    try:
        if image.format != "PNG" or image.mode not in ("RGB", "RGBA"):
            return None
        if image.width * image.height > MAX_PIXELS or image.width * image.height == 0:
            return None
        return _read(image)
    except Exception:  # noqa: BLE001 - a broken image simply hides nothing
        return None


def _read(image: Image.Image) -> str | None:
    modes = ("rgb", "alpha") if image.mode == "RGBA" else ("rgb",)
    for mode in modes:
        channels = 3 if mode == "rgb" else 1
        header = _bits(image, mode, _HEADER_BITS)
        if header is None:
            continue
        found = _SIGNATURES.get(np.packbits(header[:_SIGNATURE_BITS]).tobytes())
        if found is None or found[0] != mode:
            continue
        length = int.from_bytes(np.packbits(header[_SIGNATURE_BITS:]).tobytes(), "big")
        capacity = image.width * image.height * channels - _HEADER_BITS
        if length == 0 or length > min(MAX_PAYLOAD_BYTES * 8, capacity):
            return None
        bits = _bits(image, mode, _HEADER_BITS + length)
        if bits is None:
            return None
        whole = _HEADER_BITS + length - length % 8  # a trailing partial byte is dropped
        payload = np.packbits(bits[_HEADER_BITS:whole]).tobytes()
        return _decode(payload, compressed=found[1])
    return None


def _bits(image: Image.Image, mode: str, count: int) -> np.ndarray | None:
    """The first `count` hidden bits, column-major, from only the columns that hold them."""
    channels = 3 if mode == "rgb" else 1
    pixels = -(-count // channels)
    columns = -(-pixels // image.height)
    if columns > image.width:
        return None
    block = np.asarray(image.crop((0, 0, columns, image.height)))
    values = block[:, :, :3] if mode == "rgb" else block[:, :, 3:4]
    ordered = np.ascontiguousarray(values.transpose(1, 0, 2)).reshape(-1)
    return ordered[:count] & 1


def _decode(payload: bytes, compressed: bool) -> str | None:
    if compressed:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
        try:
            payload = inflater.decompress(payload, MAX_TEXT_BYTES + 1)
        except zlib.error:
            return None
        if len(payload) > MAX_TEXT_BYTES:
            return None
    text = payload.decode("utf-8", errors="replace").rstrip("\0")
    return text or None
