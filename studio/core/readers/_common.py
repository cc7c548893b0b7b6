"""Bounded, never-raising helpers the generator readers share."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import PurePath

from studio.core.image_parameters import _int, map_sampler

MAX_CHUNK_CHARS = 2_000_000  # as metadata.MAX_TEXT_CHARS: longer chunks are ignored
_PAIR_RE = re.compile(r"^\s*[(\[]?\s*(\d{1,5})\s*[,x×*]\s*(\d{1,5})\s*[)\]]?\s*$")
_SPACES_RE = re.compile(r" {2,}")
_MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf")


def chunk_text(value: object) -> str | None:
    """A text chunk as str (bytes decoded as UTF-8, bad bytes replaced); None if too long."""
    if isinstance(value, bytes | bytearray):
        if len(value) > MAX_CHUNK_CHARS:
            return None
        value = bytes(value).decode("utf-8", errors="replace")
    if not isinstance(value, str) or not value or len(value) > MAX_CHUNK_CHARS:
        return None
    return value


def load_json(value: object) -> object:
    """The decoded JSON of a chunk, or None (too long, invalid, absurdly nested)."""
    text = chunk_text(value)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def json_object(value: object) -> Mapping[str, object] | None:
    """A JSON object given either decoded (a dict) or as chunk text."""
    found = value if isinstance(value, dict) else load_json(value)
    return found if isinstance(found, dict) else None


def string(value: object) -> str | None:
    """`value` if it is a non-empty string."""
    return value if isinstance(value, str) and value else None


def size_pair(value: object) -> tuple[int | None, int | None]:
    """(width, height) from "(1024, 768)", "1024x768" or [1024, 768]."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return _int(value[0], 1, 65536), _int(value[1], 1, 65536)
    match = _PAIR_RE.match(value) if isinstance(value, str) and len(value) < 64 else None
    if match is None:
        return None, None
    return _int(match.group(1), 1, 65536), _int(match.group(2), 1, 65536)


def model_name(value: object) -> str | None:
    """A checkpoint name without its folder and file extension."""
    name = string(value)
    if name is None or len(name) > 1024:
        return None
    name = PurePath(name.replace("\\", "/")).name
    for suffix in _MODEL_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name.strip() or None


def sampler(value: object, schedule: object = None) -> str | None:
    """Our scheduler for InvokeAI/NovelAI names: `k_` prefixes go, a `_k` suffix is Karras."""
    name = string(value)
    if name is None or len(name) > 200:
        return None
    key = name.strip().lower()
    key = key[2:] if key.startswith("k_") else key
    karras = key.endswith("_k")
    key = key[:-2] if karras else key
    plan = "karras" if karras else string(schedule)
    return map_sampler(key, plan[:64] if plan else None)


def split_bracket_negative(text: str) -> tuple[str, str | None]:
    """Old InvokeAI wrote negative terms in [brackets] inside the prompt: split them out."""
    if "[" not in text:
        return text, None
    positive: list[str] = []
    negative: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char == "[":
            if depth == 0:
                positive.append(text[start:index])
                start = index + 1
            depth += 1
        elif char == "]" and depth > 0:
            depth -= 1
            if depth == 0:
                negative.append(text[start:index])
                start = index + 1
    positive.append(text[start:] if depth == 0 else text[start - 1:])
    prompt = _SPACES_RE.sub(" ", " ".join(positive)).replace(" ,", ",").strip(" ,")
    negatives = [n.strip(" ,") for n in negative if n.strip(" ,")]
    return prompt, ", ".join(negatives) or None
