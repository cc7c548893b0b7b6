"""Generation parameters written by other generators: InvokeAI, Fooocus, NovelAI, and the text
A1111 hides in pixels ("stealth" PNG info).

`studio.core.metadata` calls these before its own A1111 and ComfyUI readers. Everything here is
bounded and never raises: hostile input gives None or the fields that could be read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PIL import Image

from studio.core.image_parameters import ImageParameters
from studio.core.readers._common import chunk_text, json_object
from studio.core.readers.fooocus import read_fooocus
from studio.core.readers.invokeai import read_invokeai
from studio.core.readers.novelai import read_novelai
from studio.core.readers.stealth import read_stealth_text

A1111Parser = Callable[[str], ImageParameters]
_NOVELAI_KEYS = ("Title", "Description", "Software", "Source", "Comment")


def parameters_from_generators(info: Mapping[str, object],
                               a1111: A1111Parser) -> ImageParameters | None:
    """Fooocus, InvokeAI or NovelAI parameters from a PIL `image.info` dict, or None when none
    of them wrote it (plain A1111 `parameters` text and ComfyUI graphs are the caller's).
    `a1111` parses infotext (Fooocus can write A1111's format). Never raises."""
    try:
        found = read_fooocus(info, a1111)
        if found is not None or chunk_text(info.get("parameters")) is not None:
            return found
        return read_invokeai(info) or read_novelai(info)
    except Exception:  # noqa: BLE001 - reading metadata must never crash the caller
        return None


def hidden_info(image: Image.Image) -> dict[str, object]:
    """The info dict hidden in a PNG's pixels (A1111 stealth PNG info): {"parameters": text},
    NovelAI's chunks when the hidden text is their JSON, or {} when nothing is hidden."""
    text = read_stealth_text(image)
    if text is None:
        return {}
    data = json_object(text) if text.lstrip().startswith("{") else None
    if data is not None and ("Comment" in data or "Software" in data):
        return {key: data[key] for key in _NOVELAI_KEYS if key in data}
    return {"parameters": text}


__all__ = ["hidden_info", "parameters_from_generators"]
