"""Issue #17 part 4: hostile InvokeAI/Fooocus/NovelAI/EXIF/stealth metadata never raises."""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from studio.core.image_parameters import ImageParameters
from studio.core.metadata import parameters_from_info, read_image_parameters
from studio.core.readers import hidden_info, parameters_from_generators
from studio.core.readers.stealth import MAX_TEXT_BYTES, read_stealth_text
from tests import generator_fixtures as fx
from tests.hostile_helpers import call_isolated

SOURCES = {"a1111", "comfyui", "invokeai", "fooocus", "novelai"}
DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a": ' * 50_000 + "1" + "}" * 50_000
HUGE_INT = "9" * 5000
NESTED_900 = "[" * 900 + "]" * 900  # parses: within Python's recursion limit


def _check(info: dict[str, object]) -> object:
    found = parameters_from_info(info)
    assert found is None or found.source in SOURCES
    return found


def _invokeai(**changes: object) -> str:
    return json.dumps({**fx.INVOKEAI_3, **changes})


@pytest.mark.parametrize("text", [
    _invokeai()[:40], _invokeai(model=["x"], positive_prompt=5, steps="abc", width=-5),
    _invokeai(model={"name": {"deep": 1}}, scheduler=["euler"], seed=1e308, cfg_scale=1e400),
    _invokeai(model="plain-name.safetensors"), '{"seed": ' + HUGE_INT + "}", DEEP, DEEP_OBJECT,
    NESTED_900, "null", "[]", '"text"', "{}", _invokeai(positive_prompt=NESTED_900),
])
def test_hostile_invokeai_metadata(text: str) -> None:
    found = _check({"invokeai_metadata": text})
    if found is not None:
        assert found.source == "invokeai" and not found.is_empty()


def test_invokeai_wrong_types_keep_the_good_fields() -> None:
    found = _check({"invokeai_metadata": _invokeai(model=["x"], steps="abc", width=-5,
                                                   seed=10**30, cfg_scale=float("inf"))})
    assert found.prompt == "a red fox in snow, photo" and found.height == 512
    assert (found.model, found.steps, found.width, found.seed, found.guidance) == (
        None, None, None, None, None)


@pytest.mark.parametrize("image", [
    [], "x", None, {"prompt": [1, None, {"prompt": {"a": 1}}, {"prompt": "ok"}]},
    {"prompt": "[" * 20_000 + "a"}, {"prompt": "]" * 20_000}, {"prompt": "a [b [c] d] e"},
    {"prompt": [{"prompt": "x"}] * 100_000}, {"steps": 10**30, "sampler": {"k": 1}},
])
def test_hostile_sd_metadata(image: object) -> None:
    found = _check({"sd-metadata": json.dumps({"image": image, "model_weights": [1]})})
    assert found is None or found.source == "invokeai"


def test_sd_metadata_nested_brackets_split_best_effort() -> None:
    found = _check({"sd-metadata": json.dumps({"image": {"prompt": "a [b [c] d] e"}})})
    assert (found.prompt, found.negative_prompt) == ("a e", "b [c] d")


@pytest.mark.parametrize("text", [
    '"', '"""', "-s -S -W", '"a" -S ' + HUGE_INT, '"a" -s 9e999 -C nan -W -1', "x" * 1_000_000,
    '"' + "a" * 100_000 + '" ' + "-s 1 " * 50_000, '"a" -A', "\0\0\0", '"q \\" r" -s 5',
])
def test_hostile_dream(text: str) -> None:
    found = _check({"Dream": text})
    assert found is None or found.source == "invokeai"


def test_dream_escaped_quote_and_unquoted_prompt() -> None:
    assert _check({"Dream": '"say \\"hi\\"" -s 5'}).prompt == 'say "hi"'
    assert _check({"Dream": "a dog -s 12 -S 3"}).seed == 3


def _fooocus(**changes: object) -> str:
    return json.dumps({**fx.FOOOCUS, **changes})


@pytest.mark.parametrize("text", [
    _fooocus()[:60], _fooocus(resolution=[1, 2, 3], seed=HUGE_INT, steps=[1], prompt={"a": 1}),
    _fooocus(resolution="(99999999, 1)", guidance_scale="x", base_model=5), DEEP, DEEP_OBJECT,
    '{"prompt": 1}', "{", "{}", '{"version": "Fooocus", "resolution": "' + "(" * 100_000 + '"}',
])
@pytest.mark.parametrize("scheme", [None, "fooocus", "a1111", "x" * 100_000])
def test_hostile_fooocus(text: str, scheme: str | None) -> None:
    info: dict[str, object] = {"parameters": text}
    if scheme is not None:
        info["fooocus_scheme"] = scheme
    _check(info)


def test_fooocus_wrong_types_keep_the_good_fields() -> None:
    found = _check({"parameters": _fooocus(resolution="(1024, 99999)", seed=HUGE_INT,
                                           base_model=5), "fooocus_scheme": "fooocus"})
    assert (found.source, found.prompt, found.width, found.height) == (
        "fooocus", "a misty forest", 1024, None)
    assert found.seed is None and found.model is None and found.steps == 30


@pytest.mark.parametrize("comment", [
    json.dumps(fx.NOVELAI_COMMENT)[:50], DEEP, DEEP_OBJECT, "[]", "null",
    json.dumps({"uc": {"a": 1}, "steps": -1, "seed": HUGE_INT, "sampler": 7}),
    '{"prompt": "a", "scale": 1e999}', "Created with GIMP", b"\xff\xfe\x00garbage",
])
@pytest.mark.parametrize("software", [None, "NovelAI", b"NovelAI", 5])
def test_hostile_novelai(comment: object, software: object) -> None:
    info: dict[str, object] = {"Comment": comment, "Description": "a fox",
                               "Source": "x" * 100_000}
    if software is not None:
        info["Software"] = software
    found = _check(info)
    if found is not None:
        assert found.source == "novelai" and found.prompt in ("a", "a fox")


def test_non_utf8_chunks(tmp_path: Path) -> None:
    """Bytes values are decoded as UTF-8 (bad bytes replaced); PIL reads tEXt as Latin-1."""
    for key in ("invokeai_metadata", "sd-metadata", "Dream", "parameters", "Comment"):
        _check({key: b'{"positive_prompt": "caf\xe9 \xff", "prompt": "\xc3\x28"}'})
    found = _check({"Dream": b'"caf\xe9" -s 5'})
    assert found.prompt == "caf\ufffd" and found.steps == 5
    path = tmp_path / "latin.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("Dream", b'"caf\xe9 \xff" -s 4')  # raw Latin-1 bytes in a tEXt chunk
    Image.new("RGB", (4, 4)).save(path, pnginfo=info)
    assert read_image_parameters(path).prompt == "caf\xe9 \xff"


def test_a_failing_a1111_parser_is_contained() -> None:
    def boom(_text: str) -> ImageParameters:
        raise RuntimeError("boom")

    assert parameters_from_generators({"parameters": "x", "fooocus_scheme": "a1111"}, boom) is None


@pytest.mark.parametrize("comment", [
    b"UNICODE\0", b"UNICODE\0\xff", b"UNICODE\0" + b"\xd8\x00" * 100, b"ASCII\0\0\0\xff\xfe",
    b"\0" * 8 + b"a cat\nSteps: 2, Seed: 3, CFG scale: 4", b"JIS\0\0\0\0\0\x1b$B", b"x" * 7,
])
@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_hostile_exif_user_comment(tmp_path: Path, comment: bytes, fmt: str) -> None:
    path = fx.exif_image(tmp_path / f"c.{fmt.lower()}", fmt, comment)
    found = read_image_parameters(path)
    assert found is None or found.source == "a1111"


# ----- stealth --------------------------------------------------------------------------------
def _bomb(size: int = 64_000_000) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    chunk = b"\0" * 1_000_000
    return b"".join(packer.compress(chunk) for _ in range(size // len(chunk))) + packer.flush()


def _stealth_text(path: str) -> object:
    with Image.open(path) as image:
        return read_stealth_text(image)


def test_stealth_gzip_bomb_is_refused(tmp_path: Path) -> None:
    bomb = _bomb()
    path = fx.stealth_png(tmp_path / "bomb.png", b"", "rgb", True, size=(400, 400), raw=bomb)
    result = call_isolated("tests.test_hostile_generator_metadata:_stealth_text", str(path))
    assert result == {"ok": True, "value": None}
    assert read_image_parameters(path) is None


def test_stealth_text_just_under_the_cap_is_read(tmp_path: Path) -> None:
    text = "a " * (MAX_TEXT_BYTES // 2 - 100) + "\nSteps: 2, Seed: 3, CFG scale: 4"
    path = fx.stealth_png(tmp_path / "big.png", text, "rgb", True, size=(200, 200))
    assert _stealth_text(str(path)) == text


@pytest.mark.parametrize("length_bits", [2**32 - 1, 64 * 48 + 1, 8 * 1024 * 1024 + 8, 0, 13])
def test_stealth_lengths_past_the_image_or_odd(tmp_path: Path, length_bits: int) -> None:
    path = fx.stealth_png(tmp_path / "len.png", "a cat", length_bits=length_bits)
    result = call_isolated("tests.test_hostile_generator_metadata:_stealth_text", str(path))
    assert result["ok"], result
    assert result["value"] == ("a" if length_bits == 13 else None)


@pytest.mark.parametrize(("raw", "compressed"), [
    (b"\xff\xfe\xfd not utf-8", False), (b"not gzip at all", True),
    (_bomb(2_000_000)[:50], True), (b"", False), (b"\0\0\0", False),
])
def test_stealth_broken_payloads(tmp_path: Path, raw: bytes, compressed: bool) -> None:
    path = fx.stealth_png(tmp_path / "p.png", b"", "alpha", compressed, raw=raw)
    found = read_image_parameters(path)
    assert found is None or (found.source == "a1111" and "\ufffd" in (found.prompt or ""))


@pytest.mark.parametrize("size", [(1, 1), (1, 200), (200, 1), (3, 3)])
@pytest.mark.parametrize("mode", ["alpha", "rgb"])
def test_stealth_in_tiny_images(tmp_path: Path, size: tuple[int, int], mode: str) -> None:
    path = fx.stealth_png(tmp_path / "t.png", "a cat\nSteps: 2, Seed: 3, CFG scale: 4", mode,
                          size=size)
    found = read_image_parameters(path)
    assert found is None or found.prompt == "a cat"


def test_other_pixel_modes_hide_nothing(tmp_path: Path) -> None:
    for mode in ("L", "LA", "P", "I;16", "1", "CMYK"):
        image = Image.new(mode, (16, 16))
        buffer = io.BytesIO()
        image.save(buffer, "PNG" if mode != "CMYK" else "TIFF")
        buffer.seek(0)
        with Image.open(buffer) as opened:
            assert hidden_info(opened) == {}


# ----- fuzz -----------------------------------------------------------------------------------
_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20)
_TEMPLATES = {"invokeai_metadata": fx.INVOKEAI_3, "sd-metadata": fx.SD_METADATA,
              "parameters": fx.FOOOCUS, "Comment": fx.NOVELAI_COMMENT}
_KEYS = ["invokeai_metadata", "sd-metadata", "Dream", "parameters", "Comment", "Description",
         "Software", "Source", "fooocus_scheme"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(_KEYS), text=st.text(max_size=300) | st.binary(max_size=100),
       companion=st.sampled_from([{}, {"Software": "NovelAI"}, {"fooocus_scheme": "fooocus"},
                                  {"fooocus_scheme": "a1111"}]))
def test_fuzz_chunk_text_per_key(key: str, text: object, companion: dict) -> None:
    _check({**companion, key: text})
    found = parameters_from_generators({**companion, key: text}, lambda _: ImageParameters())
    assert found is None or found.source in SOURCES


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(sorted(_TEMPLATES)), value=_json_value, data=st.data())
def test_fuzz_json_fields(key: str, value: object, data: st.DataObject) -> None:
    template = dict(_TEMPLATES[key])
    field = data.draw(st.sampled_from(sorted(template)))
    template[field] = value
    if key == "sd-metadata":
        template["image"] = {**fx.SD_METADATA["image"], field: value}
    info = {key: json.dumps(template), "Software": "NovelAI", "fooocus_scheme": "fooocus"}
    found = _check(info)
    assert found is not None  # the other fields still read


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.binary(max_size=200), length=st.integers(0, 2**32 - 1),
       mode=st.sampled_from(["alpha", "rgb"]), compressed=st.booleans(),
       size=st.tuples(st.integers(1, 40), st.integers(1, 40)))
def test_fuzz_stealth(tmp_path_factory: pytest.TempPathFactory, payload: bytes, length: int,
                      mode: str, compressed: bool, size: tuple[int, int]) -> None:
    folder = tmp_path_factory.mktemp("stealth")
    path = fx.stealth_png(folder / "f.png", b"", mode, compressed, size, length, raw=payload)
    found = read_image_parameters(path)
    assert found is None or found.source in SOURCES
