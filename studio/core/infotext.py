"""A1111-compatible `parameters` infotext: format and parse."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

# A1111's own pattern (modules/infotext_utils.py): keys may hold spaces, `-` and `/`.
_PARAM_RE = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_NEEDS_QUOTES = re.compile(r"[,:\n]")


def _quote(value: object) -> str:
    """A1111 quoting: JSON-quote values holding `,` `:` or a newline (and, so that they read
    back unchanged, values that start with a quote or have outer whitespace)."""
    text = str(value)
    plain = not _NEEDS_QUOTES.search(text) and not text.startswith('"') and text == text.strip()
    return text if plain else json.dumps(text, ensure_ascii=False)


def format_infotext(prompt: str, negative: str, params: Mapping[str, object]) -> str:
    """Build the infotext: prompt, optional `Negative prompt:` line, `key: value` line."""
    lines = [prompt]
    if negative:
        lines.append(f"Negative prompt: {negative}")
    pairs = [f"{key}: {_quote(value)}" for key, value in params.items() if value is not None]
    lines.append(", ".join(pairs))
    return "\n".join(lines)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            return value
        return decoded if isinstance(decoded, str) else value
    return value


def parse_infotext(text: str) -> dict[str, str]:
    """Parse infotext into a dict with `Prompt`, `Negative prompt` and the parameters.

    Never raises: unparseable input yields the whole text as the prompt.
    """
    lines = text.strip().split("\n")
    params: dict[str, str] = {}
    last = lines[-1] if lines else ""
    matches = _PARAM_RE.findall(last)
    if len(matches) >= 3:
        params = {key.strip(): _unquote(value) for key, value in matches}
        lines = lines[:-1]
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    target = prompt_lines
    for line in lines:
        if line.startswith("Negative prompt:"):
            target = negative_lines
            line = line[len("Negative prompt:") :].lstrip()
        target.append(line)
    result = {"Prompt": "\n".join(prompt_lines), "Negative prompt": "\n".join(negative_lines)}
    result.update(params)
    return result
