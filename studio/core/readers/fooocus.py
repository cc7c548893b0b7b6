"""Fooocus: its own JSON scheme in the `parameters` chunk (JPEG/WebP: EXIF UserComment), or
A1111 text when its `fooocus_scheme` chunk says "a1111"."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from studio.core.image_parameters import ImageParameters, _float, _int
from studio.core.readers._common import chunk_text, json_object, model_name, sampler, size_pair
from studio.core.readers._common import string as _string

A1111Parser = Callable[[str], ImageParameters]
_FOOOCUS_KEYS = ("guidance_scale", "base_model", "sharpness", "performance", "resolution")


def read_fooocus(info: Mapping[str, object], a1111: A1111Parser) -> ImageParameters | None:
    """Fooocus parameters, or None when the image was not made by Fooocus."""
    scheme = (chunk_text(info.get("fooocus_scheme")) or "")[:64].strip().lower()
    text = chunk_text(info.get("parameters"))
    if text is None:
        return None
    if scheme == "a1111":
        return dataclasses.replace(a1111(text), source="fooocus")
    data = json_object(text) if text.lstrip().startswith("{") else None
    if data is None or not (scheme == "fooocus" or _looks_like_fooocus(data)):
        return None
    width, height = size_pair(data.get("resolution"))
    found = ImageParameters(
        prompt=_string(data.get("prompt")),
        negative_prompt=_string(data.get("negative_prompt")),
        steps=_int(data.get("steps"), 1, 10_000),
        scheduler=sampler(data.get("sampler"), data.get("scheduler")),
        guidance=_float(data.get("guidance_scale"), 0.0, 100.0),
        seed=_int(data.get("seed"), 0, 2**64),
        width=width, height=height,
        model=model_name(data.get("base_model")),
        source="fooocus",
    )
    return None if found.is_empty() else found


def _looks_like_fooocus(data: Mapping[str, object]) -> bool:
    version = data.get("version")
    if isinstance(version, str) and version.lower().startswith("fooocus"):
        return True
    return "prompt" in data and any(key in data for key in _FOOOCUS_KEYS)
