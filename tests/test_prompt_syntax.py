"""A1111 prompt syntax parsing and chunking (pure, no torch)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.core.prompt_syntax import (
    BREAK,
    Segment,
    chunk_tokens,
    parse_prompt_attention,
    uses_syntax,
)


def _pairs(text: str) -> list[tuple[str, float] | str]:
    return [(p.text, round(p.weight, 6)) if isinstance(p, Segment) else "BREAK"
            for p in parse_prompt_attention(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", 1.1)]),
    (r"\(literal\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
    ("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
     [("a ", 1.0), ("house", 1.573), (" ", 1.1), ("on", 1.0), (" a ", 1.1), ("hill", 0.55),
      (", sun, ", 1.1), ("sky", 1.4641), (".", 1.1)]),
    ("[dog]", [("dog", round(1 / 1.1, 6))]),
    ("[[dog]]", [("dog", round(1 / 1.21, 6))]),
    ("(cat: 1.5 )", [("cat", 1.5)]),
    ("((cat:2))", [("cat", 2.2)]),
    ("a) b] c", [("a) b] c", 1.0)]),  # stray closing brackets are text
    ("style: photo", [("style: photo", 1.0)]),
    ("(x:.)", [("x:.)", 1.1)]),  # a malformed weight is text, not an error
])
def test_parse_follows_a1111(text: str, expected: list) -> None:
    assert _pairs(text) == expected


def test_break_splits_and_is_not_weighted() -> None:
    assert _pairs("a cat BREAK a dog") == [("a cat", 1.0), "BREAK", ("a dog", 1.0)]
    assert _pairs("(a BREAK b)") == [("a", 1.1), "BREAK", ("b", 1.1)]
    assert _pairs("BREAKFAST") == [("BREAKFAST", 1.0)]  # only the word on its own
    assert _pairs("break") == [("break", 1.0)]  # upper case only, as in A1111


def test_uses_syntax() -> None:
    assert not uses_syntax("a red apple, fruit: fresh")
    assert not uses_syntax("")
    assert uses_syntax("(a cat:1.0)")  # the brackets go away even at weight 1
    assert uses_syntax(r"a \(b\)") and uses_syntax("a BREAK b") and uses_syntax("[a]")


@given(st.text(max_size=200))
def test_parse_never_raises_and_keeps_plain_text(text: str) -> None:
    parts = parse_prompt_attention(text)
    assert parts
    if not set(text) & set("()[]\\") and "BREAK" not in text:
        assert parts == [Segment(text, 1.0)] and not uses_syntax(text)


def test_long_prompt_is_split_into_full_chunks() -> None:
    chunks = chunk_tokens([(list(range(100, 250)), 1.0)], 75, comma=None)
    assert [len(c.tokens) for c in chunks] == [75, 75]
    assert chunks[0].tokens + chunks[1].tokens == list(range(100, 250))


def test_comma_backtrack_moves_the_last_phrase_to_the_next_chunk() -> None:
    comma = 7
    words = [1] * 70 + [comma] + [2] * 10  # the comma is 5 tokens before the boundary
    chunks = chunk_tokens([(words, 1.2)], 75, comma=comma)
    assert [len(c.tokens) for c in chunks] == [71, 10]
    assert chunks[0].tokens[-1] == comma and chunks[1].tokens == [2] * 10
    assert chunks[1].weights == [1.2] * 10
    far = [1] * 40 + [comma] + [2] * 40  # 34 tokens back: too far, a hard split
    assert [len(c.tokens) for c in chunk_tokens([(far, 1.0)], 75, comma=comma)] == [75, 6]


def test_break_starts_a_new_chunk_and_weights_follow_tokens() -> None:
    chunks = chunk_tokens([([1, 2], 1.0), BREAK, ([3], 1.5)], 75, comma=None)
    assert [(c.tokens, c.weights) for c in chunks] == [([1, 2], [1.0, 1.0]), ([3], [1.5])]
    assert [c.tokens for c in chunk_tokens([BREAK, ([3], 1.0)], 75, None)] == [[], [3]]
    assert [c.tokens for c in chunk_tokens([([], 1.0)], 75, None)] == [[]]
