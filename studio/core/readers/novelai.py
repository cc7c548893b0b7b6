"""NovelAI: a `Comment` chunk of JSON (prompt, uc, steps, scale, seed, sampler, width, height),
`Description` (the prompt), `Software` "NovelAI" and `Source` (the model and its hash)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from studio.core.image_parameters import ImageParameters, _float, _int
from studio.core.readers._common import chunk_text, json_object, sampler, string

_HASH_RE = re.compile(r"\s+[0-9A-Fa-f]{8,}$")
_NAI_KEYS = ("uc", "scale", "n_samples", "noise_schedule", "sampler")


def read_novelai(info: Mapping[str, object]) -> ImageParameters | None:
    """NovelAI parameters, or None when the image was not made by NovelAI."""
    software = chunk_text(info.get("Software"))
    is_novelai = software is not None and software.strip().lower().startswith("novelai")
    comment = json_object(info.get("Comment")) if "Comment" in info else None
    if comment is not None and not (is_novelai or any(k in comment for k in _NAI_KEYS)):
        comment = None
    if comment is None and not is_novelai:
        return None
    data: Mapping[str, object] = comment or {}
    description = chunk_text(info.get("Description"))
    found = ImageParameters(
        prompt=string(data.get("prompt")) or description,
        negative_prompt=string(data.get("uc")),
        steps=_int(data.get("steps"), 1, 10_000),
        scheduler=sampler(data.get("sampler"), data.get("noise_schedule")),
        guidance=_float(data.get("scale"), 0.0, 100.0),
        seed=_int(data.get("seed"), 0, 2**64),
        width=_int(data.get("width"), 1, 65536),
        height=_int(data.get("height"), 1, 65536),
        model=_model(info.get("Source")),
        source="novelai",
    )
    return None if found.is_empty() else found


def _model(value: object) -> str | None:
    """"Stable Diffusion XL C1E1DE52" → "Stable Diffusion XL"."""
    text = chunk_text(value)
    if text is None or len(text) > 256:
        return None
    return _HASH_RE.sub("", text.strip()) or None
