"""A1111 prompt syntax: attention weights, escapes and BREAK, parsed without torch.

Follows AUTOMATIC1111's `parse_prompt_attention` (modules/prompt_parser.py): `(x)` multiplies
the weight of x by 1.1, `[x]` divides it by 1.1, `(x:1.5)` multiplies it by 1.5, nested
brackets multiply, `\\(` `\\)` `\\[` `\\]` `\\\\` are literal characters, unbalanced brackets are
tolerated (an unclosed one applies to the rest of the prompt, a stray closing one is text) and
`BREAK` (upper case, a word of its own) ends the current chunk. Runs of equal weight are merged.

Two deliberate differences: a BREAK inside brackets is still a BREAK (A1111 multiplies its
marker weight and then encodes the word "BREAK"), and a malformed weight such as `(x:.)` is
kept as text instead of raising.

`chunk_tokens` splits the weighted token ids into chunks as A1111's `tokenize_line` does:
at most `chunk_length` (75) tokens per chunk, moving the words after the last comma to the
next chunk when that comma is within `backtrack` (20) tokens of the boundary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

ROUND_MULTIPLIER = 1.1
SQUARE_MULTIPLIER = 1 / 1.1
COMMA_BACKTRACK = 20

_ATTENTION = re.compile(r"""
\\\(|
\\\)|
\\\[|
\\]|
\\\\|
\\|
\(|
\[|
:\s*([+-]?[.\d]+)\s*\)|
\)|
]|
[^\\()\[\]:]+|
:
""", re.X)
_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)


@dataclass(frozen=True)
class Segment:
    """A piece of prompt text and its attention weight (1.0 = as typed)."""

    text: str
    weight: float = 1.0


@dataclass(frozen=True)
class Break:
    """A `BREAK`: the text after it starts a new chunk."""


BREAK = Break()
Part = Segment | Break


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


class _Parser:
    def __init__(self) -> None:
        self.parts: list[list] = []  # [text, weight] or [BREAK, None]
        self.round: list[int] = []
        self.square: list[int] = []

    def multiply(self, start: int, factor: float) -> None:
        for part in self.parts[start:]:
            if part[1] is not None:
                part[1] *= factor

    def text(self, text: str) -> None:
        for index, piece in enumerate(_BREAK.split(text)):
            if index > 0:
                self.parts.append([BREAK, None])
            self.parts.append([piece, 1.0])

    def feed(self, token: str, weight: str | None) -> None:
        value = _float(weight) if weight is not None else None
        if token.startswith("\\"):
            self.parts.append([token[1:], 1.0])
        elif token == "(":
            self.round.append(len(self.parts))
        elif token == "[":
            self.square.append(len(self.parts))
        elif value is not None and self.round:
            self.multiply(self.round.pop(), value)
        elif token == ")" and self.round:
            self.multiply(self.round.pop(), ROUND_MULTIPLIER)
        elif token == "]" and self.square:
            self.multiply(self.square.pop(), SQUARE_MULTIPLIER)
        else:
            self.text(token)

    def finish(self) -> list[Part]:
        for start in self.round:
            self.multiply(start, ROUND_MULTIPLIER)
        for start in self.square:
            self.multiply(start, SQUARE_MULTIPLIER)
        merged: list[list] = []
        for part in self.parts or [["", 1.0]]:
            if merged and part[1] is not None and merged[-1][1] == part[1]:
                merged[-1][0] += part[0]
            else:
                merged.append(list(part))
        return [BREAK if w is None else Segment(t, w) for t, w in merged]


def parse_prompt_attention(text: str) -> list[Part]:
    """Split an A1111 prompt into weighted segments and BREAK markers.

    `"a (cat:1.3) [dog]"` → `[Segment("a ", 1.0), Segment("cat", 1.3), Segment(" ", 1.0),
    Segment("dog", 1/1.1)]`; a prompt without syntax is one segment with weight 1.0.
    """
    parser = _Parser()
    for match in _ATTENTION.finditer(text):
        parser.feed(match.group(0), match.group(1))
    return parser.finish()


def uses_syntax(text: str) -> bool:
    """True when the prompt means something else than its plain text (weights, escapes, BREAK)."""
    return parse_prompt_attention(text) != [Segment(text, 1.0)]


@dataclass
class Chunk:
    """Up to `chunk_length` token ids (no start/end tokens) with one weight per token."""

    tokens: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)


def chunk_tokens(parts: Sequence[tuple[Sequence[int], float] | Break], chunk_length: int,
                 comma: int | None, backtrack: int = COMMA_BACKTRACK) -> list[Chunk]:
    """Lay out tokenised segments ((ids, weight) or BREAK) in chunks as A1111 does.

    A chunk is closed when it holds `chunk_length` tokens or at a BREAK (even an empty chunk);
    when a chunk fills up with a `comma` token at most `backtrack` tokens before its end, the
    tokens after that comma move to the next chunk. Always returns at least one chunk.
    """
    chunks: list[Chunk] = []
    chunk = Chunk()
    last_comma = -1
    for part in parts:
        if isinstance(part, Break):
            chunks.append(chunk)
            chunk, last_comma = Chunk(), -1
            continue
        ids, weight = part
        for token in ids:
            if token == comma:
                last_comma = len(chunk.tokens)
            elif (backtrack and len(chunk.tokens) == chunk_length and last_comma != -1
                  and len(chunk.tokens) - last_comma <= backtrack):
                cut = last_comma + 1
                chunks.append(Chunk(chunk.tokens[:cut], chunk.weights[:cut]))
                chunk, last_comma = Chunk(chunk.tokens[cut:], chunk.weights[cut:]), -1
            if len(chunk.tokens) == chunk_length:
                chunks.append(chunk)
                chunk, last_comma = Chunk(), -1
            chunk.tokens.append(token)
            chunk.weights.append(weight)
    if chunk.tokens or not chunks:
        chunks.append(chunk)
    return chunks
