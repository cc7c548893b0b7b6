"""LoRA tags, files and the `Lora hashes` infotext key (no torch)."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest
from PIL import Image

from studio.core.infotext import parse_infotext
from studio.core.lora import (
    LoraError,
    LoraTag,
    check_lora_file,
    find_lora,
    format_lora_hashes,
    format_tag,
    lora_folders,
    lora_hashes_for,
    lora_short_hash,
    parse_lora_hashes,
    parse_lora_tags,
    strip_lora_tags,
)
from studio.core.metadata import read_image_parameters
from studio.core.outputs import write_png_atomic
from studio.core.records import infotext_for
from studio.core.requests import GenerateRequest


def _safetensors(path: Path, keys: list[str], payload: bytes = b"\0" * 16,
                 metadata: dict | None = None) -> Path:
    header: dict = {k: {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]} for k in keys}
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + payload)
    return path


def test_tags_are_parsed_and_stripped_from_the_encoder_text():
    text, tags = parse_lora_tags("a cat <lora:ink:0.8>, <LORA:watercolor> (sky:1.2)")
    assert text == "a cat ,  (sky:1.2)"  # removed as A1111 does: nothing else changes
    assert tags == [LoraTag("ink", 0.8), LoraTag("watercolor", 1.0)]
    assert strip_lora_tags("plain prompt") == "plain prompt"
    _, split = parse_lora_tags("<lora:a:0.5:0.25> <lyco:b:te=0.3:unet=0.6>")
    assert (split[0].weight, split[0].unet) == (0.5, 0.25)
    assert (split[1].weight, split[1].unet) == (0.3, 0.6)
    _, repeated = parse_lora_tags("<lora:a:0.2> <lora:a:0.9>")
    assert repeated == [LoraTag("a", 0.9)]
    with pytest.raises(LoraError, match="not a number"):
        parse_lora_tags("<lora:a:strong>")
    assert format_tag("ink") == "<lora:ink:1>"


def test_files_are_found_by_name_and_pickles_are_refused_unopened(tmp_path, monkeypatch):
    first, second = tmp_path / "env", tmp_path / "models" / "loras"
    _safetensors(first / "sub" / "Ink.safetensors", ["x.lora_down.weight"])
    _safetensors(second / "Ink.safetensors", ["x.lora_down.weight"])
    (second / "evil.pt").write_bytes(b"\x80\x04 not read")
    monkeypatch.setenv("STUDIO_LORAS", str(first))
    folders = lora_folders(tmp_path / "models" / "tiny-sd", model_dirs=[])
    assert folders[0] == first and second in folders
    assert find_lora("Ink", folders) == first / "sub" / "Ink.safetensors"
    assert find_lora("ink", folders).name == "Ink.safetensors"  # case-insensitive fallback
    with pytest.raises(LoraError, match="pickle"):
        find_lora("evil", folders)
    with pytest.raises(LoraError, match="not found"):
        find_lora("nope", folders)


def test_corrupt_and_non_lora_files_are_refused(tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\xff" * 40)
    with pytest.raises(LoraError, match="not a readable safetensors"):
        check_lora_file(broken, "broken")
    model = _safetensors(tmp_path / "model.safetensors", ["model.diffusion_model.x.weight"])
    with pytest.raises(LoraError, match="no LoRA weights"):
        check_lora_file(model, "model")
    with pytest.raises(LoraError, match="missing"):
        check_lora_file(tmp_path / "gone.safetensors", "gone")


def test_short_hash_is_a1111s_addnet_hash_of_the_tensor_data(tmp_path):
    data = bytes(range(48))
    one = _safetensors(tmp_path / "a.safetensors", ["k.lora_up.weight"], data)
    two = _safetensors(tmp_path / "b.safetensors", ["k.lora_up.weight"], data,
                       metadata={"ss_output_name": "something else"})
    assert lora_short_hash(one) == hashlib.sha256(data).hexdigest()[:12]
    assert lora_short_hash(two) == lora_short_hash(one)  # metadata does not change it
    text = format_lora_hashes([("ink", "0123456789ab"), ("we:ird,name", "ba9876543210")])
    assert text == "ink: 0123456789ab, weirdname: ba9876543210"
    assert parse_lora_hashes(text) == {"ink": "0123456789ab", "weirdname": "ba9876543210"}
    assert parse_lora_hashes("garbage, x: nothex") == {}


def test_infotext_lists_lora_hashes_and_the_prompt_keeps_its_tags(tmp_path, monkeypatch):
    folder = tmp_path / "loras"
    path = _safetensors(folder / "ink.safetensors", ["k.lora_up.weight"], b"\1" * 16)
    monkeypatch.setenv("STUDIO_LORAS", str(folder))
    prompt = "a cat <lora:ink:0.8>, (sky:1.2) <lora:missing:1>"
    request = GenerateRequest(model_path=str(tmp_path / "m"), prompt=prompt, width=64,
                              height=64)
    infotext = infotext_for(request)
    params = parse_infotext(infotext)
    assert params["Lora hashes"] == f"ink: {lora_short_hash(path)}"
    assert '"Lora hashes: ink:' not in infotext and 'Lora hashes: "ink: ' in infotext
    assert lora_hashes_for("no tags", None) is None
    assert "Lora hashes" not in infotext_for(GenerateRequest(model_path="m", prompt="a cat"))
    png = tmp_path / "out.png"
    write_png_atomic(Image.new("RGB", (8, 8)), png, infotext)
    restored = read_image_parameters(png)
    assert restored is not None and restored.prompt == prompt


def test_a1111_image_prompt_with_tags_round_trips(tmp_path):
    a1111 = ("masterpiece, <lora:add_detail:0.6>, 1girl <lora:style-x:1>\n"
             "Negative prompt: lowres\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, "
             'Seed: 1, Size: 512x512, Lora hashes: "add_detail: 7c6bad76eb54, '
             'style-x: 0123456789ab", Version: v1.7.0')
    png = tmp_path / "a1111.png"
    write_png_atomic(Image.new("RGB", (8, 8)), png, a1111)
    restored = read_image_parameters(png)
    assert restored is not None
    assert restored.prompt == "masterpiece, <lora:add_detail:0.6>, 1girl <lora:style-x:1>"
    _, tags = parse_lora_tags(restored.prompt)
    assert [(t.name, t.weight) for t in tags] == [("add_detail", 0.6), ("style-x", 1.0)]
    hashes = parse_lora_hashes(parse_infotext(a1111)["Lora hashes"])
    assert hashes == {"add_detail": "7c6bad76eb54", "style-x": "0123456789ab"}
