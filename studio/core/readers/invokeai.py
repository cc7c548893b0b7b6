"""InvokeAI: `invokeai_metadata` (3.x and later), `sd-metadata` (2.x) and `Dream` (1.x)."""

from __future__ import annotations

from collections.abc import Mapping

from studio.core.image_parameters import ImageParameters, _float, _int
from studio.core.readers._common import (
    chunk_text,
    json_object,
    model_name,
    sampler,
    split_bracket_negative,
    string,
)

_DREAM_FLAGS = {"-s": "steps", "--steps": "steps", "-S": "seed", "--seed": "seed",
                "-W": "width", "--width": "width", "-H": "height", "--height": "height",
                "-C": "cfg_scale", "--cfg_scale": "cfg_scale", "-A": "sampler",
                "--sampler": "sampler", "-m": "model", "--model": "model"}


def read_invokeai(info: Mapping[str, object]) -> ImageParameters | None:
    """Parameters from whichever InvokeAI chunk the image has (newest first), or None."""
    if "invokeai_metadata" in info:
        found = _from_metadata(json_object(info["invokeai_metadata"]))
    elif "sd-metadata" in info:
        found = _from_sd_metadata(json_object(info["sd-metadata"]))
    elif "Dream" in info:
        found = _from_dream(chunk_text(info["Dream"]))
    else:
        return None
    return None if found is None or found.is_empty() else found


def _common(data: Mapping[str, object], **fields: object) -> ImageParameters:
    return ImageParameters(
        steps=_int(data.get("steps"), 1, 10_000),
        guidance=_float(data.get("cfg_scale"), 0.0, 100.0),
        seed=_int(data.get("seed"), 0, 2**64),
        width=_int(data.get("width"), 1, 65536),
        height=_int(data.get("height"), 1, 65536),
        source="invokeai",
        **fields,  # type: ignore[arg-type]
    )


def _from_metadata(data: Mapping[str, object] | None) -> ImageParameters | None:
    if data is None:
        return None
    model = data.get("model")
    name = (model.get("name") or model.get("model_name")) if isinstance(model, dict) else model
    return _common(data, prompt=string(data.get("positive_prompt")),
                   negative_prompt=string(data.get("negative_prompt")),
                   scheduler=sampler(data.get("scheduler")), model=model_name(name))


def _from_sd_metadata(data: Mapping[str, object] | None) -> ImageParameters | None:
    image = data.get("image") if data is not None else None
    if data is None or not isinstance(image, dict):
        return None
    prompt, negative = split_bracket_negative(_sd_prompt(image.get("prompt")) or "")
    model = data.get("model_weights") or data.get("model_id")
    return _common(image, prompt=prompt or None, negative_prompt=negative,
                   scheduler=sampler(image.get("sampler")), model=model_name(model))


def _sd_prompt(value: object) -> str | None:
    """2.x wrote a list of {prompt, weight} (one per blend term); 2.0 a plain string."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return None
    parts = [item.get("prompt") for item in value[:64] if isinstance(item, dict)]
    texts = [part for part in parts if isinstance(part, str) and part]
    return " ".join(texts) or None


def _from_dream(text: str | None) -> ImageParameters | None:
    """`"a cat [ugly]" -s 50 -S 1234 -W 512 -H 512 -C 7.5 -A k_lms`."""
    if text is None:
        return None
    first, last = text.find('"'), text.rfind('"')
    if 0 <= first < last:
        prompt, rest = text[first + 1:last], text[last + 1:]
    else:
        cut = text.find(" -")
        prompt, rest = (text, "") if cut < 0 else (text[:cut], text[cut:])
    values: dict[str, object] = {}
    tokens = rest.split()
    for flag, value in zip(tokens, tokens[1:], strict=False):
        if flag in _DREAM_FLAGS and not value.startswith("-"):
            values.setdefault(_DREAM_FLAGS[flag], value)
    positive, negative = split_bracket_negative(prompt.replace('\\"', '"'))
    return _common(values, prompt=positive.strip() or None, negative_prompt=negative,
                   scheduler=sampler(values.get("sampler")), model=model_name(values.get("model")))
