"""Re-running a prompt read back from an image gives the same image (issue #19, item 11).

The built-in model expands a short name ("cat face") into its training caption; the PNG stores
the expanded prompt. Generating again from that prompt must not expand it a second time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from studio.cli import main
from studio.core.metadata import read_image_parameters
from studio.core.prompts import expand_prompt, load_expansions

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ROOT / "resources" / "models" / "emoji-sd"
EXPANSIONS = load_expansions(BUILTIN)
NAMES = sorted(EXPANSIONS)


def test_builtin_model_ships_expansions():
    assert EXPANSIONS["cat face"] == "cat face, animals & nature, animal mammal"


@pytest.mark.parametrize("typed", ["cat face", "A cat face", "cat face, smiling", "Cat Face",
                                   "cat face, animals & nature, animal mammal",
                                   "cat face, animals & nature, animal mammal, smiling"])
def test_an_expanded_prompt_is_not_expanded_again(typed):
    once = expand_prompt(typed, EXPANSIONS)
    assert once.lower().startswith("cat face, animals & nature, animal mammal")
    assert once.lower().count("animals & nature") == 1
    assert expand_prompt(once, EXPANSIONS) == once


_SPICE = st.sampled_from(["", ",", ", ", " ,", "  ", "a ", "the ", "An ", ", smiling", "\n",
                          ", animals & nature", ", food & drink, food fruit, glossy"])


@settings(max_examples=500, deadline=None)
@given(name=st.sampled_from(NAMES), before=_SPICE, after=_SPICE,
       noise=st.text(max_size=12), upper=st.booleans())
def test_expansion_is_idempotent(name, before, after, noise, upper):
    for prompt in (before + name + after + noise, EXPANSIONS[name] + after + noise, noise,
                   (before + name).upper() if upper else before + name):
        once = expand_prompt(prompt, EXPANSIONS)
        assert expand_prompt(once, EXPANSIONS) == once, prompt


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_expansion_of_any_text_is_idempotent(prompt):
    once = expand_prompt(prompt, EXPANSIONS)
    assert expand_prompt(once, EXPANSIONS) == once


@pytest.fixture
def model_with_expansions(tiny_model_dir, tmp_path):
    """The tiny model, with the built-in model's prompt expansions."""
    folder = tmp_path / "tiny-emoji"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "prompts.json").write_text(json.dumps({"expansions": EXPANSIONS}))
    return folder


def test_cli_rerun_of_the_prompt_read_from_the_png_is_byte_identical(model_with_expansions,
                                                                    tmp_path, capsys):
    common = ["--steps", "3", "--seed", "11", "--model", str(model_with_expansions)]
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    assert main(["generate", "--prompt", "cat face", *common, "--output", str(first)]) == 0
    stored = read_image_parameters(first)
    assert stored is not None and stored.prompt == "cat face, animals & nature, animal mammal"
    assert main(["generate", "--prompt", stored.prompt, "--seed", str(stored.seed),
                 *common[:2], *common[4:], "--output", str(second)]) == 0
    again = read_image_parameters(second)
    assert again is not None and again.prompt == stored.prompt
    with Image.open(first) as a, Image.open(second) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))
    capsys.readouterr()
