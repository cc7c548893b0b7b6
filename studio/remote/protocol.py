"""The wire format between `studio serve` and the Remote engine: one JSON object per line.

`POST /jobs` answers with a stream of newline-delimited JSON events (NDJSON). Previews
travel as base64 JPEG, results as base64 PNG carrying the A1111 `parameters` chunk.
Nothing here imports torch or Qt: both the server and the desktop client use it.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

PROTOCOL_VERSION = 1
NDJSON = "application/x-ndjson"
MAX_LINE_BYTES = 96 * 1024 * 1024  # one event line (a result PNG in base64) at most
HEARTBEAT_S = 5.0  # the server sends {"event": "alive"} when a job is quiet this long
PREVIEW_QUALITY = 85


def encode_preview(image: object) -> dict[str, Any]:
    """An HxWx3 uint8 array (or PIL image) as a base64 JPEG field."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError("a preview must be an HxWx3 uint8 array")
    buffer = io.BytesIO()
    Image.fromarray(array, "RGB").save(buffer, format="JPEG", quality=PREVIEW_QUALITY)
    return {"jpeg": base64.b64encode(buffer.getvalue()).decode("ascii")}


def encode_region(rgba: object, box: tuple[int, int, int, int]) -> dict[str, Any]:
    """An edit's RGBA region preview as a base64 PNG field plus its box."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(rgba, dtype=np.uint8), "RGBA").save(buffer, format="PNG")
    return {"png": base64.b64encode(buffer.getvalue()).decode("ascii"),
            "box": [int(v) for v in box]}


def decode_preview(data: dict[str, Any]) -> object:
    """The preview back: an HxWx3 uint8 array, or a RegionPreview for edits."""
    if "png" in data:
        from studio.core.previews import RegionPreview

        raw = base64.b64decode(data["png"], validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8).copy()
        left, top, right, bottom = (int(v) for v in data["box"])
        return RegionPreview(rgba, (left, top, right, bottom))
    raw = base64.b64decode(data["jpeg"], validate=True)
    with Image.open(io.BytesIO(raw)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def png_with_parameters(image: Image.Image, infotext: str | None) -> bytes:
    """PNG bytes carrying `infotext` in the `parameters` chunk (as saved files do)."""
    info = PngImagePlugin.PngInfo()
    if infotext is not None:
        info.add_itxt("parameters", infotext)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def read_png(raw: bytes) -> tuple[Image.Image, str]:
    """A result PNG back: the image (loaded) and its `parameters` text ("" if none)."""
    with Image.open(io.BytesIO(raw)) as image:
        if image.format != "PNG":
            raise ValueError("a result must be a PNG")
        image.load()
        infotext = str(image.info.get("parameters", ""))
        return image.copy(), infotext


def encode_result(result: object, stem: str) -> dict[str, Any]:
    """An ImageResult-like object as a `result` event (the server's side)."""
    image = getattr(result, "image")  # noqa: B009 - any object with these fields
    infotext = str(getattr(result, "infotext", ""))
    return {
        "event": "result", "index": int(getattr(result, "index", 0)),
        "steps_done": getattr(result, "steps_done", None),
        "upscaled_by": int(getattr(result, "upscaled_by", 1)), "stem": stem,
        "png": base64.b64encode(png_with_parameters(image, infotext)).decode("ascii"),
    }


def decode_result(data: dict[str, Any]) -> tuple[Image.Image, str]:
    """The image and infotext of a `result` event."""
    return read_png(base64.b64decode(data["png"], validate=True))


def dumps(event: dict[str, Any]) -> bytes:
    """One NDJSON line."""
    return json.dumps(event, separators=(",", ":")).encode("utf-8") + b"\n"


def loads(line: bytes) -> dict[str, Any]:
    """One NDJSON line back; ValueError when it is not a JSON object with an `event`."""
    data = json.loads(line)
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise ValueError("not an engine event")
    return data
