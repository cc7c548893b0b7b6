"""Issue #17 part 4: parameters from every common generator's images restore exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from studio.core.history import History
from studio.core.image_parameters import ImageParameters
from studio.core.metadata import read_image_parameters
from tests import generator_fixtures as fx

A1111 = ImageParameters(
    prompt="a lighthouse at dusk, (oil painting:1.2)", negative_prompt="blurry, text",
    steps=28, scheduler="DPM++ 2M Karras", guidance=6.5, seed=3141592653, width=640,
    height=832, model="dreamshaper_8", source="a1111")
NOVELAI = ImageParameters(
    prompt=fx.NOVELAI_COMMENT["prompt"], negative_prompt="lowres, bad anatomy, {bad hands}",
    steps=28, scheduler="DPM++ 2M Karras", guidance=5.5, seed=3399112, width=832,
    height=1216, model="Stable Diffusion XL", source="novelai")


def _invokeai(tmp: Path) -> dict[str, tuple[Path, ImageParameters]]:
    return {
        "invokeai-3": (fx.png(tmp / "i3.png", {"invokeai_metadata": json.dumps(fx.INVOKEAI_3),
                                                "invokeai_graph": "{}"}),
                       ImageParameters(prompt="a red fox in snow, photo",
                                       negative_prompt="cartoon, lowres", steps=30,
                                       scheduler="DPM++ 2M Karras", guidance=7.5, seed=2873651,
                                       width=768, height=512, model="stable-diffusion-v1-5",
                                       source="invokeai")),
        "invokeai-5": (fx.png(tmp / "i5.png", {"invokeai_metadata": json.dumps(fx.INVOKEAI_5)}),
                       ImageParameters(prompt="an astronaut riding a horse", steps=25,
                                       scheduler="Euler a", guidance=5.0, seed=42, width=1024,
                                       height=1024, model="juggernautXL_v9", source="invokeai")),
        "sd-metadata": (fx.png(tmp / "sd.png", {"sd-metadata": json.dumps(fx.SD_METADATA),
                                                "Dream": "ignored: sd-metadata is newer"}),
                        ImageParameters(prompt="a watercolor castle", negative_prompt="people, "
                                        "text", steps=50, scheduler="Euler", guidance=7.5,
                                        seed=1234, width=576, height=512,
                                        model="stable-diffusion-1.5", source="invokeai")),
        "sd-metadata-2.0": (fx.png(tmp / "sd0.png",
                                   {"sd-metadata": json.dumps(fx.SD_METADATA_OLD)}),
                            ImageParameters(prompt="a tiny house", steps=20, scheduler="DDIM",
                                            guidance=9.0, seed=77, width=512, height=512,
                                            model="model", source="invokeai")),
        "dream": (fx.png(tmp / "dream.png", {"Dream": fx.DREAM}),
                  ImageParameters(prompt="a cat wearing a hat", negative_prompt="blurry",
                                  steps=50, scheduler="Euler a", guidance=7.5, seed=1234,
                                  width=512, height=640, source="invokeai")),
    }


def _fooocus(tmp: Path) -> dict[str, tuple[Path, ImageParameters]]:
    expected = ImageParameters(prompt="a misty forest", negative_prompt="ugly, deformed",
                               steps=30, scheduler="DPM++ 2M SDE Karras", guidance=4.0,
                               seed=8812947316, width=1152, height=896,
                               model="juggernautXL_v8Rundiffusion", source="fooocus")
    text = json.dumps(fx.FOOOCUS)
    return {
        "fooocus-png": (fx.png(tmp / "f.png", {"parameters": text, "fooocus_scheme": "fooocus"}),
                        expected),
        "fooocus-jpeg": (fx.exif_image(tmp / "f.jpg", "JPEG", fx.unicode_comment(text),
                                       {0x0131: "Fooocus v2.5.5", 0x927C: "fooocus"}), expected),
        "fooocus-a1111": (fx.png(tmp / "fa.png", {"parameters": fx.FOOOCUS_A1111,
                                                  "fooocus_scheme": "a1111"}),
                          ImageParameters(prompt="a misty forest", negative_prompt="ugly",
                                          steps=30, scheduler="DPM++ 2M SDE Karras",
                                          guidance=4.0, seed=99, width=1152, height=896,
                                          model="juggernautXL_v8", source="fooocus")),
    }


def _novelai_and_a1111(tmp: Path) -> dict[str, tuple[Path, ImageParameters]]:
    text = fx.A1111_TEXT
    found = {
        "novelai": (fx.png(tmp / "n.png", fx.NOVELAI_CHUNKS), NOVELAI),
        "novelai-stealth": (fx.stealth_png(tmp / "ns.png", json.dumps(fx.NOVELAI_CHUNKS),
                                           compressed=True, size=(96, 80)), NOVELAI),
    }
    for fmt, suffix in (("JPEG", "jpg"), ("WEBP", "webp")):
        for kind, encode in (("unicode", fx.unicode_comment), ("ascii", fx.ascii_comment)):
            path = fx.exif_image(tmp / f"a-{kind}.{suffix}", fmt, encode(text))
            found[f"a1111-{suffix}-{kind}"] = (path, A1111)
    for mode in ("alpha", "rgb"):
        for compressed in (False, True):
            name = f"stealth-{mode}-{'comp' if compressed else 'info'}"
            found[name] = (fx.stealth_png(tmp / f"{name}.png", text, mode, compressed), A1111)
    return found


def _all_fixtures(tmp: Path) -> dict[str, tuple[Path, ImageParameters]]:
    return {**_invokeai(tmp), **_fooocus(tmp), **_novelai_and_a1111(tmp)}


FIXTURE_NAMES = sorted([
    "invokeai-3", "invokeai-5", "sd-metadata", "sd-metadata-2.0", "dream",
    "fooocus-png", "fooocus-jpeg", "fooocus-a1111", "novelai", "novelai-stealth",
    "a1111-jpg-unicode", "a1111-jpg-ascii", "a1111-webp-unicode", "a1111-webp-ascii",
    "stealth-alpha-info", "stealth-alpha-comp", "stealth-rgb-info", "stealth-rgb-comp",
])


def test_fixture_list_is_complete(tmp_path: Path) -> None:
    assert sorted(_all_fixtures(tmp_path)) == FIXTURE_NAMES


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_each_generator_format_restores_exactly(tmp_path: Path, name: str) -> None:
    path, expected = _all_fixtures(tmp_path)[name]
    assert read_image_parameters(path) == expected


def test_every_generator_is_covered() -> None:
    sources = {name.split("-")[0] for name in FIXTURE_NAMES}
    assert {"invokeai", "sd", "dream", "fooocus", "novelai", "a1111", "stealth"} <= sources


def test_plain_a1111_parameters_win_over_other_chunks(tmp_path: Path) -> None:
    path = fx.png(tmp_path / "both.png", {"parameters": fx.A1111_TEXT,
                                          "invokeai_metadata": json.dumps(fx.INVOKEAI_3)})
    assert read_image_parameters(path) == A1111


def test_chunks_win_over_stealth_and_stealth_needs_a_png(tmp_path: Path) -> None:
    hidden = fx.stealth_png(tmp_path / "s.png", "a hidden cat\nSteps: 3, Seed: 4, Sampler: Euler")
    assert read_image_parameters(hidden).prompt == "a hidden cat"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a visible dog")
    with Image.open(hidden) as image:
        image.save(tmp_path / "both.png", pnginfo=info)
        image.save(tmp_path / "s.webp", lossless=True)
    assert read_image_parameters(tmp_path / "both.png").prompt == "a visible dog"
    assert read_image_parameters(tmp_path / "s.webp") is None


def test_a_gimp_comment_is_not_novelai(tmp_path: Path) -> None:
    path = fx.png(tmp_path / "gimp.png", {"Comment": "Created with GIMP"})
    assert read_image_parameters(path) is None
    described = fx.png(tmp_path / "d.png", {"Software": "NovelAI", "Description": "a fox"})
    assert read_image_parameters(described) == ImageParameters(prompt="a fox", source="novelai")


def test_history_finds_prompts_of_other_generators(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    fixtures = _all_fixtures(tmp_path / "src")
    history = History.open(tmp_path / "out", sync=False)
    for name, (path, expected) in fixtures.items():
        if path.suffix != ".png":
            continue
        copy = tmp_path / "out" / f"{name}.png"
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(path.read_bytes())
        entry = history.get(history.add(copy))
        assert entry is not None and entry.prompt == expected.prompt, name
        assert entry.negative == (expected.negative_prompt or ""), name
    found = sorted(e.path.stem for e in history.search("MISTY"))
    assert found == ["fooocus-a1111", "fooocus-png"]
    assert sorted(e.path.stem for e in history.search("silver hair")) == ["novelai",
                                                                          "novelai-stealth"]
    history.close()
