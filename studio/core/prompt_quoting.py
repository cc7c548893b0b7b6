"""Prompts in infotext that read back unchanged: JSON-quote only those that would not.

A1111's infotext writes the prompt as is, then `Negative prompt: …`, then the parameters line.
Most prompts read back unchanged, and they are still written that way (A1111 reads them). A few
would not: one with a line starting `Negative prompt:` (the reader would split there), outer
whitespace (the reader strips it), or one that itself looks like a quoted prompt. Those are
written as one JSON string (`"a\\nNegative prompt: b"`), which the reader decodes.
"""

from __future__ import annotations

import json

NEGATIVE_PREFIX = "Negative prompt:"


def needs_quoting(text: str, negative: bool = False) -> bool:
    """True when `text`, written plainly as the prompt (or after `Negative prompt: `), would
    read back as something else."""
    if text != text.strip():
        return True
    lines = text.split("\n")
    if any(line.startswith(NEGATIVE_PREFIX) for line in (lines[1:] if negative else lines)):
        return True
    return decode_quoted(text, negative) is not None


def quote_text(text: str, negative: bool = False) -> str:
    """`text` as it is written in infotext: plain, or one JSON string when it must be."""
    return json.dumps(text, ensure_ascii=False) if needs_quoting(text, negative) else text


def decode_quoted(text: str, negative: bool = False) -> str | None:
    """The text a quoted prompt stands for, or None when `text` is to be read as it is.

    Only a one-line JSON string whose content needs quoting is decoded, so an A1111 prompt
    that merely is in quotes (`"a cat"`) keeps them.
    """
    if len(text) < 2 or text[0] != '"' or text[-1] != '"' or "\n" in text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, str) or not needs_quoting(value, negative):
        return None
    return value


def unquote_text(text: str, negative: bool = False) -> str:
    """A prompt as read from infotext: decoded when it was written quoted."""
    decoded = decode_quoted(text, negative)
    return text if decoded is None else decoded
