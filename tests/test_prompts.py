from __future__ import annotations

import json
import shutil

from studio.core.infotext import parse_infotext
from studio.core.outputs import read_parameters
from studio.core.prompts import build_expansions, expand_prompt, load_expansions
from tests.test_cli import _studio


def test_short_names_expand_to_the_models_caption_format(tmp_path):
    table = build_expansions(["red apple, food & drink, food fruit",
                              "grinning face, smileys & emotion, face smiling"])
    (tmp_path / "prompts.json").write_text(json.dumps({"expansions": table}))
    loaded = load_expansions(tmp_path)
    assert expand_prompt("Red  Apple", loaded) == "red apple, food & drink, food fruit"
    assert expand_prompt("a red apple on a table", loaded) == "a red apple on a table"
    assert expand_prompt("A red apple", loaded) == "red apple, food & drink, food fruit"
    assert expand_prompt("red apple, glossy", loaded) == (
        "red apple, food & drink, food fruit, glossy")
    assert expand_prompt("red apple, ", loaded) == "red apple, food & drink, food fruit"
    assert expand_prompt("the grinning face", loaded).startswith("grinning face, smileys")
    assert expand_prompt("apple, red", loaded) == "apple, red"
    assert expand_prompt("", loaded) == ""
    assert load_expansions(tmp_path / "missing") == {}
    (tmp_path / "prompts.json").write_text("{broken")
    assert load_expansions(tmp_path) == {}


def test_cli_records_the_expanded_prompt(tiny_model_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / "prompts.json").write_text(json.dumps(
        {"expansions": {"red apple": "red apple, food & drink, food fruit"}}))
    done = _studio("generate", "--prompt", "red apple", "--steps", "2", "--model", str(model),
                   "--output", str(tmp_path / "a.png"))
    assert done.returncode == 0, done.stderr
    params = parse_infotext(read_parameters(tmp_path / "a.png"))
    assert params["Prompt"] == "red apple, food & drink, food fruit"
