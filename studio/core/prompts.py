"""Model-specific prompt expansion: a short name becomes the caption format a model knows.

A model folder may ship `prompts.json` = {"expansions": {"red apple": "red apple, food & drink,
food fruit", ...}}. Our emoji model was trained on "<name>, <group>, <subgroup>" captions, so a
bare "red apple" is expanded to the full caption; any other prompt is left as typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from studio.core.models import model_json_section

PROMPTS_FILE = "prompts.json"


def load_expansions(model_path: Path) -> dict[str, str]:
    expansions = model_json_section(model_path, PROMPTS_FILE, "expansions")
    return {str(k): str(v) for k, v in expansions.items()}


_ARTICLES = ("a ", "an ", "the ")


def expand_prompt(prompt: str, expansions: dict[str, str]) -> str:
    """The model's full caption when `prompt` starts with one of its short names.

    "red apple", "A red apple" and "red apple, glossy" all expand ("…, glossy" is kept after
    the caption); anything else is left exactly as typed. So is a prompt that already starts
    with the caption (one read back from an image): expanding is idempotent, and re-running a
    prompt copied from a PNG gives the same conditioning and the same pixels.
    """
    head, sep, rest = prompt.partition(",")
    key = " ".join(head.lower().split())
    if key not in expansions:
        key = next((key[len(a):] for a in _ARTICLES if key.startswith(a)), key)
    if key not in expansions or _already_expanded(prompt, expansions[key]):
        return prompt
    rest = rest.strip()
    return f"{expansions[key]}, {rest}" if sep and rest else expansions[key]


def _already_expanded(prompt: str, caption: str) -> bool:
    """`prompt` is `caption`, or `caption, more` (compared ignoring case and spacing)."""
    typed, full = _fold(prompt), _fold(caption)
    return typed == full or typed.startswith(full + ",")


def _fold(text: str) -> str:
    return ",".join(" ".join(part.split()) for part in text.lower().split(","))


def build_expansions(captions: list[str]) -> dict[str, str]:
    """Map each caption's first field (the name) to the whole caption; the first one wins."""
    table: dict[str, str] = {}
    for caption in captions:
        name = caption.split(",")[0].strip().lower()
        if name and name not in table:
            table[name] = caption.strip()
    return table


def short_prompt(prompt: str, names: Mapping[str, str]) -> str:
    """The user's own words: a model caption ("red apple, food & drink, food fruit") becomes
    the name that expanded to it ("red apple"), keeping what was typed after it."""
    text = " ".join(prompt.split())
    if not text:
        return "(no prompt)"
    cut = len(text)
    while cut > 0:
        name = names.get(text[:cut])
        if name is not None:
            return name + text[cut:]
        cut = text.rfind(", ", 0, cut)
    return text
