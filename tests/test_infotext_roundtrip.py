"""Any prompt and negative prompt read back from infotext exactly as written (issue #19)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from studio.core.infotext import format_infotext, parse_infotext
from studio.core.metadata import parameters_from_infotext, read_image_parameters
from studio.core.outputs import write_png_atomic

PARAMS = {"Steps": 20, "Sampler": "Euler a", "CFG scale": 7.0, "Seed": 42, "Size": "64x64",
          "Model": "emoji-sd", "Version": "studio 1.0"}

# pieces that trip a line-based reader: prefixes, parameter-like lines, quotes, escapes
_PIECES = st.sampled_from([
    "\n", "Negative prompt:", "Negative prompt: ", "\nNegative prompt: x", "Steps: 1, Seed: 2",
    "\nSteps: 1, Seed: 2, Size: 3x3", '"', '\\', '\\n', '\\"', ",", ": ", " ", "\t", "\r",
    "cat face", "(red apple:1.2)", "\u2028", "\x85", "’", "🍎",
])
_TEXT = st.lists(st.one_of(_PIECES, st.text(st.characters(blacklist_categories=("Cs",)),
                                            max_size=8)), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(prompt=_TEXT, negative=_TEXT)
def test_any_prompt_and_negative_round_trip(prompt, negative):
    parsed = parse_infotext(format_infotext(prompt, negative, PARAMS))
    assert parsed["Prompt"] == prompt
    assert parsed["Negative prompt"] == negative
    assert parsed["Steps"] == "20" and parsed["Seed"] == "42"
    fields = parameters_from_infotext(format_infotext(prompt, negative, PARAMS))
    assert (fields.prompt, fields.negative_prompt, fields.seed) == (prompt, negative, 42)


@pytest.mark.parametrize("prompt, negative", [
    ("a cat\nNegative prompt: a dog", ""),
    ("a cat\nNegative prompt: a dog", "blurry"),
    ("line one\nSteps: 1, Seed: 2, Size: 3x3", ""),
    ("Steps: 1, Seed: 2, Sampler: x", "Steps: 1, Seed: 2, Sampler: y"),
    ('"already quoted"', ""),
    ('"a\\nb"', '"\\"x\\""'),
    ("  padded  ", " padded"),
    ("", "x\nNegative prompt: y"),
])
def test_tricky_prompts_round_trip_through_a_png(prompt, negative, tmp_path):
    path = tmp_path / "x.png"
    write_png_atomic(Image.new("RGB", (8, 8)), path, format_infotext(prompt, negative, PARAMS))
    fields = read_image_parameters(path)
    assert fields is not None
    assert (fields.prompt, fields.negative_prompt, fields.steps) == (prompt, negative, 20)


@pytest.mark.parametrize("prompt", [
    "red apple, fruit", "a cat\non two lines", "(masterpiece:1.2), cat face", '"a cat"',
    "cat, 'quoted'", "weights: cat 0.5, dog 0.5", "the words Negative prompt: mid-line",
])
def test_ordinary_prompts_stay_plain_as_a1111_writes_them(prompt):
    text = format_infotext(prompt, "blurry, ugly", PARAMS)
    assert text.startswith(prompt + "\nNegative prompt: blurry, ugly\nSteps: 20, ")


def test_a1111_prompt_in_quotes_keeps_its_quotes():
    parsed = parse_infotext('"a cat"\nNegative prompt: "blurry"\nSteps: 20, Seed: 1, Size: 8x8')
    assert parsed["Prompt"] == '"a cat"' and parsed["Negative prompt"] == '"blurry"'
