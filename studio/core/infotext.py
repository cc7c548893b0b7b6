"""A1111-compatible `parameters` infotext: format and parse."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from studio.core.prompt_quoting import quote_text, unquote_text

# A1111's pattern (modules/infotext_utils.py) is
#   \s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)   used with findall;
# on a long run of key characters without a `:` every start position rescans the run
# (quadratic: 100 KB took minutes). `_find_params` gives the same pairs in linear time.
_KEY_RUN = re.compile(r"\w[\w \-/]*")
_VALUE_RE = re.compile(r':\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
MAX_INFOTEXT_CHARS = 64 * 1024  # longer text is taken as a (truncated) prompt, not parsed
_NEEDS_QUOTES = re.compile(r"[,:\n]")


def _quote(value: object) -> str:
    """A1111 quoting: JSON-quote values holding `,` `:` or a newline (and, so that they read
    back unchanged, values that start with a quote or have outer whitespace)."""
    text = str(value)
    plain = not _NEEDS_QUOTES.search(text) and not text.startswith('"') and text == text.strip()
    return text if plain else json.dumps(text, ensure_ascii=False)


def format_infotext(prompt: str, negative: str, params: Mapping[str, object]) -> str:
    """Build the infotext: prompt, optional `Negative prompt:` line, `key: value` line."""
    lines = [quote_text(prompt)]  # quoted only when plain text would not read back
    if negative:
        lines.append(f"Negative prompt: {quote_text(negative, negative=True)}")
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


def _find_params(line: str) -> list[tuple[str, str]]:
    """(key, raw value) pairs of a `key: value, ...` line, as A1111's findall gives them.

    A key starts at a word character and runs over word characters, spaces, `-` and `/` (two
    characters at least) up to a `:`; a run that does not end in `:` holds no key at all, so
    the scan jumps past it. Each character is looked at a bounded number of times.
    """
    pairs: list[tuple[str, str]] = []
    pos = 0
    while (run := _KEY_RUN.search(line, pos)) is not None:
        start, end = run.span()
        if end - start < 2 or not line.startswith(":", end):
            pos = end
            continue
        value = _VALUE_RE.match(line, end)
        if value is None:  # cannot happen: `[^,]*` then `,` or the end always matches
            break
        pairs.append((run.group(), value.group(1)))
        pos = value.end()
    return pairs


def parse_infotext(text: str, max_chars: int | None = MAX_INFOTEXT_CHARS) -> dict[str, str]:
    """Parse infotext into a dict with `Prompt`, `Negative prompt` and the parameters.

    Never raises: unparseable input yields the whole text as the prompt. Text longer than
    `max_chars` is not parsed: its first `max_chars` characters (stripped) become the prompt.
    """
    if max_chars is not None and len(text) > max_chars:
        return {"Prompt": text[:max_chars].strip(), "Negative prompt": ""}
    lines = text.strip().split("\n")
    params: dict[str, str] = {}
    last = lines[-1] if lines else ""
    matches = _find_params(last)
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
    result = {"Prompt": unquote_text("\n".join(prompt_lines)),
              "Negative prompt": unquote_text("\n".join(negative_lines), negative=True)}
    result.update(params)
    return result
