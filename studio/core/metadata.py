"""Reading generation parameters back from images: ours, A1111's, ComfyUI's and (through
`studio.core.readers`) InvokeAI's, Fooocus's and NovelAI's.

`read_image_parameters(path)` never raises: a missing, broken or hostile file gives None, a
partly readable one gives the fields it could read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from PIL import Image

from studio.core.image_parameters import ImageParameters, _float, _int, map_sampler
from studio.core.infotext import parse_infotext
from studio.core.readers import hidden_info, parameters_from_generators

_SIZE_RE = re.compile(r"^\s*(\d{1,5})\s*[x×]\s*(\d{1,5})\s*$")
MAX_TEXT_CHARS = 2_000_000  # larger chunks are ignored, not parsed


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _size(value: object) -> tuple[int | None, int | None]:
    match = _SIZE_RE.match(value) if isinstance(value, str) else None
    if not match:
        return None, None
    return _int(match.group(1), 1, 65536), _int(match.group(2), 1, 65536)


# ----- A1111 / ours -------------------------------------------------------------------------
def parameters_from_infotext(text: str) -> ImageParameters:
    """Fields from an A1111 `parameters` infotext (which is also what Studio writes)."""
    parsed = parse_infotext(text)
    width, height = _size(parsed.get("Size"))
    return ImageParameters(
        prompt=parsed.get("Prompt", ""),
        negative_prompt=parsed.get("Negative prompt", ""),
        steps=_int(parsed.get("Steps"), 1, 10_000),
        scheduler=map_sampler(parsed.get("Sampler"), parsed.get("Schedule type")),
        guidance=_float(parsed.get("CFG scale"), 0.0, 100.0),
        seed=_int(parsed.get("Seed"), 0, 2**64),
        width=width, height=height,
        model=parsed.get("Model") or None,
        strength=_float(parsed.get("Denoising strength"), 0.0, 1.0),
        mode=parsed.get("Mode") if parsed.get("Mode") in ("img2img", "inpaint") else None,
        upscale_by=_upscale(parsed.get("Postprocess upscale by")),
        hires_scale=_hires_scale(parsed, width),
        hires_steps=_int(parsed.get("Hires steps"), 1, 10_000),
        source="a1111",
    )


def _upscale(value: object) -> int | None:
    number = _float(value, 1.0, 16.0)
    return int(number) if number in (2.0, 4.0) else None


def _hires_scale(parsed: dict[str, str], width: int | None) -> float | None:
    """A1111's Hires. fix factor: "Hires upscale", or "Hires resize" over the first pass's size."""
    scale = _float(parsed.get("Hires upscale"), 1.0, 16.0)
    if scale is None and width:
        resize_w, _ = _size(parsed.get("Hires resize"))
        scale = _float(resize_w / width, 1.0, 16.0) if resize_w else None
    return round(scale, 3) if scale is not None and scale > 1.0 else None


# ----- reading files ------------------------------------------------------------------------
def read_image_parameters(path: Path) -> ImageParameters | None:
    """Parameters stored in an image file (see `parameters_from_image`), or None when it has
    none or cannot be read. Never raises."""
    try:
        with Image.open(path) as image:
            return parameters_from_image(image)
    except Exception:  # noqa: BLE001 - any unreadable/hostile file is simply "no parameters"
        return None


def parameters_from_image(image: Image.Image) -> ImageParameters | None:
    """Parameters of an open image: A1111/Studio `parameters` (PNG chunk, or EXIF UserComment
    in JPEG/WebP), ComfyUI, InvokeAI, Fooocus or NovelAI chunks, else the text A1111 hides in
    a PNG's pixels ("stealth" PNG info). None when it has none. Never raises."""
    try:
        info = dict(image.info)
        if "parameters" not in info:
            comment = _exif_user_comment(image)
            if comment:
                info["parameters"] = comment
        return parameters_from_info(info) or parameters_from_info(hidden_info(image))
    except Exception:  # noqa: BLE001 - any unreadable/hostile file is simply "no parameters"
        return None


def _exif_user_comment(image: Image.Image) -> str | None:
    """A1111 stores JPEG/WebP parameters in EXIF UserComment (`UNICODE\\0` + UTF-16)."""
    raw = image.getexif().get_ifd(0x8769).get(0x9286)
    if isinstance(raw, str):
        return raw or None
    if not isinstance(raw, bytes) or not 8 <= len(raw) <= 4 * MAX_TEXT_CHARS:  # UTF-16: 2-4 B
        return None
    prefix, body = raw[:8], raw[8:]
    if prefix.startswith(b"UNICODE"):
        decoded = [body.decode(codec, errors="replace") for codec in ("utf-16-be", "utf-16-le")]
        text = max(decoded, key=lambda t: sum(c < "\x80" for c in t))  # piexif writes BE
        return text.rstrip("\0") or None
    return body.decode("utf-8", errors="replace").rstrip("\0") or None


def parameters_from_info(info: dict[str, object]) -> ImageParameters | None:
    """Parameters from a PIL `image.info` dict. Never raises."""
    try:
        found = parameters_from_generators(info, parameters_from_infotext)
        if found is not None:  # Fooocus, InvokeAI, NovelAI
            return found
        text = _text(info.get("parameters"))
        if text and len(text) <= MAX_TEXT_CHARS:
            return parameters_from_infotext(text)
        prompt, workflow = _text(info.get("prompt")), _text(info.get("workflow"))
        if prompt or workflow:
            from studio.core.comfyui import parameters_from_comfyui

            found = parameters_from_comfyui(_json(prompt), _json(workflow))
            return None if found is None or found.is_empty() else found
    except Exception:  # noqa: BLE001 - belt and braces: reading metadata must never crash
        return None
    return None


def _json(text: str | None) -> object:
    if not text or len(text) > MAX_TEXT_CHARS:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
