"""Issue #19: image metadata readers stay linear, bounded and never raise on hostile input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from studio.core.comfyui import parameters_from_comfyui
from studio.core.history import History
from studio.core.infotext import MAX_INFOTEXT_CHARS, _find_params, parse_infotext
from studio.core.metadata import parameters_from_info
from tests.hostile_helpers import call_isolated

A1111_RE = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
N = 200_000
PARAMS = "Steps: 20, Seed: 5, Size: 64x32"


def _prompt_only(text: str) -> dict[str, str]:
    return {"Prompt": text.strip(), "Negative prompt": ""}


def _many_pairs() -> tuple[str, dict[str, str]]:
    text = "Steps: 20, Seed: 5, " + ", ".join(f"k{i}: v{i}" for i in range(N // 10))
    return text, {"Steps": "20", "Seed": "5", "k0": "v0", f"k{N // 10 - 1}": f"v{N // 10 - 1}"}


# (text, fields the parse must contain exactly); each text is ~200 KB on one line (or more)
SHAPES: dict[str, tuple[str, dict[str, str]]] = {
    "words": ("a " * (N // 2), _prompt_only("a " * (N // 2))),
    "commas": ("," * N, _prompt_only("," * N)),
    "colons": (":" * N, _prompt_only(":" * N)),
    "quotes": ('"' * N, _prompt_only('"' * N)),
    "unbalanced-quote": ('k: "' + "x" * N, _prompt_only('k: "' + "x" * N)),
    "key-value-repeated": ("key: value, " * (N // 12), {"Prompt": "", "key": "value"}),
    "many-distinct-pairs": _many_pairs(),
    "newlines": ("p\n" * (N // 2) + PARAMS,
                 {"Prompt": ("p\n" * (N // 2)).rstrip("\n"), "Steps": "20", "Size": "64x32"}),
    "only-newlines": ("\n" * N, {"Prompt": "", "Negative prompt": ""}),
    "spaces-between": ("Steps: 1," + " " * N + "Seed: 2, Size: 3x4",
                       {"Steps": "1", "Seed": "2", "Size": "3x4"}),
    "tabs-and-spaces": (" \t" * (N // 2), _prompt_only(" \t" * (N // 2))),
    "long-key": ("a" * N + ": 1, Steps: 2, Seed: 3", {"a" * N: "1", "Steps": "2", "Seed": "3"}),
    "key-chars-no-colon": ("a-/ " * (N // 4), _prompt_only("a-/ " * (N // 4))),
    "dash-slash": ("-/" * (N // 2), _prompt_only("-/" * (N // 2))),
    "one-letter-keys": ("a:" * (N // 2), _prompt_only("a:" * (N // 2))),
    "two-letter-keys": ("ab:" * (N // 3), _prompt_only("ab:" * (N // 3))),
    "pairs-no-spaces": ("ab:c," * (N // 5), {"Prompt": "", "ab": "c"}),
    "escaped-quotes": (PARAMS + ', XY: "' + '\\"' * (N // 2) + '"',
                       {"Steps": "20", "XY": '"' * (N // 2)}),
    "unclosed-escapes": (PARAMS + ', XY: "' + "\\" * N,
                         {"Steps": "20", "XY": '"' + "\\" * N}),
    "quote-after-every-key": ('ab: "' * (N // 5), _prompt_only('ab: "' * (N // 5))),
    "quoted-pairs": ('ab: "x, y", ' * (N // 12), {"Prompt": "", "ab": "x, y"}),
    "one-letter-key-quotes": ('a: "' * (N // 4), _prompt_only('a: "' * (N // 4))),
    "unbalanced-then-pairs": ("Steps: 20, Seed: 1, Lora: \"" + "a, bb: c, " * (N // 10),
                              {"Steps": "20", "Lora": '"a', "bb": "c"}),
    "unicode-words": ("é ü " * (N // 4), _prompt_only("é ü " * (N // 4))),
    "negative-commas": ("cat\nNegative prompt: " + "x," * (N // 2) + "\n" + PARAMS,
                        {"Prompt": "cat", "Negative prompt": "x," * (N // 2), "Seed": "5"}),
    "nul-and-controls": ("\0\x1f\x7f" * (N // 3), _prompt_only("\0\x1f\x7f" * (N // 3))),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_pathological_parameters_parse_correctly(shape: str) -> None:
    """Parsed in a child with a hang guard: the old parser took minutes on these."""
    text, expected = SHAPES[shape]
    result = call_isolated("studio.core.infotext:parse_infotext", text, None)
    assert result["ok"], result
    parsed = result["value"]
    for key, value in expected.items():
        assert parsed.get(key) == value, key[:40]
    if expected.get("Prompt") == text.strip():
        assert set(parsed) == {"Prompt", "Negative prompt"}


@pytest.mark.parametrize("size", [MAX_INFOTEXT_CHARS + 1, 1_000_000, 3_000_000])
def test_text_over_the_cap_is_a_truncated_prompt(size: int) -> None:
    text = ("word: x, " * (size // 9 + 1))[:size]
    prompt = text[:MAX_INFOTEXT_CHARS].strip()
    assert parse_infotext(text) == {"Prompt": prompt, "Negative prompt": ""}


def test_text_at_the_cap_is_parsed() -> None:
    head = "a cat\n"
    text = head + ("kk: v, " * MAX_INFOTEXT_CHARS)[: MAX_INFOTEXT_CHARS - len(head) - 11]
    text += ", Steps: 20"
    assert len(text) <= MAX_INFOTEXT_CHARS and parse_infotext(text)["Steps"] == "20"


def _prompt_and_steps(text: str) -> list:
    params = parameters_from_info({"parameters": text})
    return [params.prompt, params.steps, params.seed] if params else []


def test_a_one_megabyte_parameters_string_reads_back_as_a_prompt() -> None:
    text = "a " * 500_000 + "\n" + PARAMS
    result = call_isolated("tests.test_hostile_metadata:_prompt_and_steps", text)
    assert result["ok"], result
    assert result["value"] == [text[:MAX_INFOTEXT_CHARS].strip(), None, None]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='ab :,"\\-/\t é1_.\r', max_size=40))
def test_linear_scan_finds_exactly_what_a1111_finds(line: str) -> None:
    assert _find_params(line) == A1111_RE.findall(line)


@pytest.mark.parametrize("line", [
    "Steps: 20, Sampler: Euler a, CFG scale: 7", ' Lora hashes: "x: 1, y: 2", Model: m',
    "Hires upscaler: 4x-UltraSharp, Postprocess upscale by: 2", "a b-c/d: 1, e: 2, f: 3",
    'X: "unterminated, Y: 2', "ab:cd:ef, gh: ij", "  : , a: , bb: ,", 'k: "\\"", z: 1',
])
def test_known_lines_match_a1111(line: str) -> None:
    assert _find_params(line) == A1111_RE.findall(line)


def _png_with_text(path: Path, text: str, zipped: bool = False) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text, zip=zipped)
    Image.new("RGB", (8, 8), "red").save(path, pnginfo=info)
    return path


@pytest.mark.parametrize(("size", "zipped"), [
    (100_000, False), (1_500_000, False), (100_000, True), (900_000, True),
])
def test_huge_png_parameters_chunk_is_read_as_a_capped_prompt(tmp_path: Path, size: int,
                                                              zipped: bool) -> None:
    text = "a " * (size // 2) + "\n" + PARAMS
    path = _png_with_text(tmp_path / "big.png", text, zipped)
    result = call_isolated("studio.core.metadata:read_image_parameters", str(path))
    assert result["ok"], result
    assert "prompt='a a a" in result["value"] and "steps=None" in result["value"]


@pytest.mark.parametrize(("size", "zipped"), [(3_000_000, False), (5_000_000, True)])
def test_oversized_png_parameters_chunk_is_refused(tmp_path: Path, size: int, zipped: bool
                                                   ) -> None:
    """Over 2M characters (ours) or 1 MB decompressed (PIL's MAX_TEXT_CHUNK): no parameters."""
    path = _png_with_text(tmp_path / "huge.png", "a " * (size // 2) + "\n" + PARAMS, zipped)
    result = call_isolated("studio.core.metadata:read_image_parameters", str(path))
    assert result == {"ok": True, "value": None}


def _history_entry(folder: str, png: str) -> list:
    history = History.open(Path(folder), sync=False)
    entry = history.get(history.add(Path(png)))
    history.close()
    return [entry.infotext, entry.prompt, entry.parameters.prompt] if entry else []


def test_history_caps_the_stored_parameters(tmp_path: Path) -> None:
    path = _png_with_text(tmp_path / "big.png", "a " * 500_000 + "\n" + PARAMS)
    result = call_isolated("tests.test_hostile_metadata:_history_entry", str(tmp_path),
                           str(path))
    assert result["ok"], result
    infotext, prompt, parsed_prompt = result["value"]
    assert len(infotext) == MAX_INFOTEXT_CHARS
    assert prompt == parsed_prompt == ("a " * 500_000)[:MAX_INFOTEXT_CHARS].strip()


def test_history_keeps_a_normal_infotext_whole(tmp_path: Path) -> None:
    text = "a cat\nNegative prompt: dog\n" + PARAMS
    history = History.open(tmp_path, sync=False)
    entry = history.get(history.add(_png_with_text(tmp_path / "ok.png", text)))
    assert entry is not None and entry.infotext == text
    assert (entry.prompt, entry.negative, entry.parameters.steps) == ("a cat", "dog", 20)
    history.close()


# ----- ComfyUI graphs -------------------------------------------------------------------------
def _api(**nodes: dict) -> dict:
    return nodes


SAMPLER = {"class_type": "KSampler", "inputs": {"seed": 7, "steps": 12, "cfg": 6.5,
                                                 "sampler_name": "euler", "positive": ["²", 0]}}
TEXT = {"class_type": "CLIPTextEncode", "inputs": {"text": "a fox"}}

HOSTILE_PROMPTS: list[object] = [
    {"²": SAMPLER, "1": TEXT},
    {"²": TEXT},
    {"٣": SAMPLER, "1": TEXT},
    {"9" * 5000: SAMPLER},
    {"1" * 19: SAMPLER, "2": SAMPLER},
    {"1": {"class_type": "KSampler", "inputs": {"positive": [["1"], 0]}}},
    {"1": {"class_type": "KSampler", "inputs": {"positive": [{"a": 1}, 0]}}},
    {"1": {"class_type": "KSampler", "inputs": {"positive": [10**5000, 0]}}},
    {"1": {"class_type": "KSampler", "inputs": {"positive": [True, 0], "model": [1.5, 0]}}},
    {"1": {"class_type": "KSampler", "inputs": {"seed": 10**5000, "steps": 10**5000}}},
    {"1": {"class_type": "KSampler", "inputs": {"seed": [1], "cfg": {"x": 1}, "steps": None}}},
    {"1": {"class_type": "KSampler", "inputs": {"seed": float("nan"), "cfg": float("inf")}}},
    {"1": {"class_type": "KSampler", "inputs": {"latent_image": ["1", 0]}}},
    {"1": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "positive": ["1", 0]}}},
    {"1": {"class_type": "KSampler", "inputs": []}},
    {"1": {"class_type": "KSampler", "inputs": "x"}},
    {"1": {"class_type": ["KSampler"]}},
    {10**5000: SAMPLER},
    {("tuple", "key"): SAMPLER},
    {None: SAMPLER, 1.5: TEXT},
    {"1": {"class_type": "CLIPTextEncode", "inputs": {"text": ["1", 0]}}},
    {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "\0/../\\x.ckpt"}}},
    [SAMPLER], "prompt", 42, None,
]

HOSTILE_WORKFLOWS: list[object] = [
    {"nodes": [{"id": "²", "type": "KSampler", "widgets_values": [1, None, 5]}]},
    {"nodes": [{"id": 1, "type": "KSampler", "inputs": [{"name": "positive", "link": [1]}]}],
     "links": [[[1], 2, 0, 1, 0, "CONDITIONING"]]},
    {"nodes": [{"id": 1, "type": "KSampler", "inputs": [{"name": "positive", "link": {}}]}],
     "links": [[{"a": 1}, 2, 0, 1, 0]]},
    {"nodes": [{"id": [1], "type": "KSampler"}, {"id": {"x": 1}, "type": "CLIPTextEncode"}]},
    {"nodes": [{"id": 10**5000, "type": "KSampler"}]},
    {"nodes": [{"id": 1, "type": "KSampler", "inputs": 5}], "links": 7},
    {"nodes": [{"id": 1, "type": "KSampler", "inputs": "abc"}], "links": "abc"},
    {"nodes": [{"id": 1, "type": "KSampler", "widgets_values": {"seed": [1]}}],
     "links": {"1": [1, 2, 3]}},
    {"nodes": [{"id": 1, "type": "KSampler", "inputs": [{"name": "positive", "link": 1}]},
               {"id": 2, "type": "CLIPTextEncode", "widgets_values": ["a fox"]}],
     "links": [[1, 2, 0, 1, 0], [2, [2], 0, 1, 0], [3, 10**5000, 0], [True, 2, 0],
               [1.5, 2, 0], None, []]},
    {"nodes": [None, 1, "x", [], {"type": None}, {"type": "KSampler", "widgets_values": "x"}]},
    {"nodes": "x"}, {"nodes": {}}, {"links": []}, [], "x", None,
]


@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS,
                         ids=[f"p{i}" for i in range(len(HOSTILE_PROMPTS))])
def test_comfyui_prompt_never_raises(prompt: object) -> None:
    result = parameters_from_comfyui(prompt, None)
    assert result is None or result.source == "comfyui"


@pytest.mark.parametrize("workflow", HOSTILE_WORKFLOWS,
                         ids=[f"w{i}" for i in range(len(HOSTILE_WORKFLOWS))])
def test_comfyui_workflow_never_raises(workflow: object) -> None:
    result = parameters_from_comfyui(None, workflow)
    assert result is None or result.source == "comfyui"


def test_unicode_digit_node_ids_still_give_the_sampler() -> None:
    params = parameters_from_comfyui({"²": SAMPLER, "1": TEXT}, None)
    assert params is not None
    assert (params.seed, params.steps, params.guidance) == (7, 12, 6.5)
    assert params.prompt is None  # its link points at "²", the sampler itself


def test_numeric_ids_sort_numerically_before_the_rest() -> None:
    first = dict(SAMPLER, inputs=dict(SAMPLER["inputs"], seed=1, positive=["t", 0]))
    later = dict(SAMPLER, inputs=dict(SAMPLER["inputs"], seed=2))
    params = parameters_from_comfyui({"10": later, "²": later, "9": first, "t": TEXT}, None)
    assert params is not None and params.seed == 1 and params.prompt == "a fox"


def test_workflow_with_list_link_ids_keeps_the_good_links() -> None:
    workflow = HOSTILE_WORKFLOWS[8]
    params = parameters_from_comfyui(None, workflow)
    assert params is not None and params.prompt == "a fox"


@pytest.mark.parametrize("raw", [
    json.dumps({"²": SAMPLER}), '{"1": {"class_type": "KSampler", "inputs": {"seed": '
    + "9" * 5000 + "}}}", "[" * 100_000 + "]" * 100_000, '{"a": ' * 50_000,
])
def test_hostile_comfyui_text_chunks_never_raise(raw: str) -> None:
    result = parameters_from_info({"prompt": raw, "workflow": raw})
    assert result is None or result.source == "comfyui"
