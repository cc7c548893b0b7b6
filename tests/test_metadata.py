from __future__ import annotations

import json
import os
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from studio.core.infotext import format_infotext, parse_infotext
from studio.core.metadata import map_sampler, parameters_from_info, read_image_parameters
from studio.core.outputs import OutputFolder, clean_temp_files, read_parameters
from studio.core.records import infotext_for
from studio.core.requests import SCHEDULER_NAMES, GenerateRequest

A1111 = ("masterpiece, 1girl\nNegative prompt: lowres, bad anatomy\nSteps: 20, Sampler: DPM++ 2M "
         "Karras, CFG scale: 7, Seed: 1234, Size: 512x768, Model hash: abc, Model: v1-5")


def _png(tmp_path, name="x.png", **chunks: str):
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    path = tmp_path / name
    Image.new("RGB", (8, 8), "red").save(path, pnginfo=info)
    return path


def test_a1111_example_parses_into_our_settings(tmp_path):
    params = read_image_parameters(_png(tmp_path, parameters=A1111))
    assert params.prompt == "masterpiece, 1girl"
    assert params.negative_prompt == "lowres, bad anatomy"
    assert (params.steps, params.scheduler, params.guidance, params.seed) == (
        20, "DPM++ 2M Karras", 7.0, 1234)
    assert (params.width, params.height, params.model) == (512, 768, "v1-5")


@pytest.mark.parametrize(("name", "schedule", "ours"), [
    ("Euler a", None, "Euler a"), ("DPM++ 2M Karras", None, "DPM++ 2M Karras"),
    ("DPM++ 2M", "Karras", "DPM++ 2M Karras"), ("dpmpp_2m", "karras", "DPM++ 2M Karras"),
    ("dpmpp_2m", "normal", "DPM++ 2M"), ("euler_ancestral", "normal", "Euler a"),
    ("UniPC", None, "UniPC"), ("uni_pc_bh2", None, "UniPC"), ("DDIM", None, "DDIM"),
    ("DPM++ 2M SDE Karras", None, "DPM++ 2M SDE Karras"), ("DPM2 a", None, "Euler a"),
    ("DPM++ 2M SDE", "Karras", "DPM++ 2M SDE Karras"),
    ("DPM++ SDE Karras", None, "DPM++ 2M SDE Karras"),
    ("dpmpp_2m_sde_gpu", "normal", "DPM++ 2M SDE"),
    ("Heun", None, "Euler"), ("LMS", None, "Euler"), ("weird", None, None), ("", None, None),
])
def test_sampler_names_map_onto_ours(name, schedule, ours):
    assert map_sampler(name, schedule) == ours
    assert ours is None or ours in SCHEDULER_NAMES


def test_newer_a1111_schedule_type_and_img2img_strength():
    text = ("a cat\nSteps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, "
            "Seed: 4294967295, Size: 768x512, Denoising strength: 0.45, Lora hashes: "
            '"x: 1, y: 2", Model: sd_xl')
    params = parameters_from_info({"parameters": text})
    assert params.scheduler == "DPM++ 2M Karras" and params.strength == 0.45
    assert params.seed == 2**32 - 1 and params.guidance == 5.5 and params.model == "sd_xl"


def test_our_infotext_round_trips_through_a_saved_png(tmp_path):
    prompt = 'Ünïcødé 🐱, "quoted", a: colon\nsecond line'
    negative = "blurry, low: quality\n\"weird\""
    request = GenerateRequest(model_path="/m/tiny", model_name="tiny, v2: beta", prompt=prompt,
                              negative_prompt=negative, steps=17, guidance=6.5, seed=99,
                              width=320, height=448, scheduler="DPM++ 2M Karras")
    path = OutputFolder(tmp_path).save(Image.new("RGB", (8, 8)), infotext_for(request), "99")
    params = read_image_parameters(path)
    assert (params.prompt, params.negative_prompt) == (prompt, negative)
    assert (params.steps, params.scheduler, params.guidance, params.seed) == (
        17, "DPM++ 2M Karras", 6.5, 99)
    assert (params.width, params.height, params.model) == (320, 448, "tiny, v2: beta")


_value = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_prompt_line = _value.filter(lambda s: not s.lstrip().startswith("Negative prompt:"))


@settings(max_examples=150, deadline=None)
@given(prompt=st.lists(_prompt_line, min_size=1, max_size=3).map("\n".join),
       negative=_value, model=_value, seed=st.integers(0, 2**32 - 1))
def test_format_then_parse_is_identity(prompt, negative, model, seed):
    prompt, negative = prompt.strip(), negative.strip()
    text = format_infotext(prompt, negative, {"Steps": 20, "Sampler": "Euler a",
                                              "CFG scale": 7.0, "Seed": seed, "Model": model})
    parsed = parse_infotext(text)
    if "\n" not in negative:  # a newline in the negative prompt is ambiguous in A1111's format
        assert parsed["Prompt"] == prompt and parsed["Negative prompt"] == negative
    assert parsed["Model"] == model and parsed["Seed"] == str(seed)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.sampled_from([A1111, "\n", "a:b,c:d,e:f", '"', 'Seed: "\\']))
def test_parser_never_crashes_on_any_text(text):
    parsed = parse_infotext(text)
    assert isinstance(parsed["Prompt"], str)
    params = parameters_from_info({"parameters": text})
    assert params is None if not text else params.source == "a1111"


_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=30)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=_json_value, workflow=_json_value, raw=st.text(max_size=100))
def test_comfyui_reader_never_crashes_on_hostile_json(prompt, workflow, raw):
    for info in ({"prompt": json.dumps(prompt), "workflow": json.dumps(workflow)},
                 {"prompt": raw}, {"workflow": "{" * 5000}, {"parameters": 5}):
        parameters_from_info(info)


def test_unreadable_files_give_none(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert read_image_parameters(tmp_path / "bad.png") is None
    assert read_image_parameters(tmp_path / "missing.png") is None
    assert read_image_parameters(_png(tmp_path)) is None


COMFY_PROMPT = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 156680208700286, "steps": 20, "cfg": 8.0, "sampler_name": "dpmpp_2m",
        "scheduler": "karras", "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0],
        "negative": ["7", 0], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple",
          "inputs": {"ckpt_name": "sd/v1-5-pruned-emaonly.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 640,
                                                       "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a castle, at night",
                                                     "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark",
                                                     "clip": ["4", 1]}},
}


def test_comfyui_prompt_graph(tmp_path):
    params = read_image_parameters(_png(tmp_path, prompt=json.dumps(COMFY_PROMPT)))
    assert (params.prompt, params.negative_prompt) == ("a castle, at night", "text, watermark")
    assert (params.seed, params.steps, params.guidance) == (156680208700286, 20, 8.0)
    assert (params.scheduler, params.width, params.height) == ("DPM++ 2M Karras", 512, 640)
    assert params.model == "v1-5-pruned-emaonly" and params.strength is None


def test_comfyui_workflow_graph_only(tmp_path):
    workflow = {
        "nodes": [
            {"id": 3, "type": "KSampler", "widgets_values": [42, "fixed", 12, 6.5, "euler",
                                                             "normal", 1],
             "inputs": [{"name": "positive", "link": 4}, {"name": "negative", "link": 6}]},
            {"id": 6, "type": "CLIPTextEncode", "widgets_values": ["a red fox"]},
            {"id": 7, "type": "CLIPTextEncode", "widgets_values": ["ugly"]},
        ],
        "links": [[4, 6, 0, 3, 1, "CONDITIONING"], [6, 7, 0, 3, 2, "CONDITIONING"]],
    }
    params = parameters_from_info({"workflow": json.dumps(workflow)})
    assert (params.prompt, params.negative_prompt, params.seed) == ("a red fox", "ugly", 42)
    assert (params.steps, params.guidance, params.scheduler) == (12, 6.5, "Euler")


def test_concurrent_saves_never_share_a_name(tmp_path):
    folder, paths = OutputFolder(tmp_path), []
    image = Image.new("RGB", (8, 8))

    def worker():
        for _ in range(5):
            paths.append(folder.save(image, "Steps: 1, Seed: 1, Sampler: DDIM", "1"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(paths)) == 20 and all(p.is_file() for p in paths)
    assert [p.name for p in paths[0].parent.iterdir() if p.name.startswith(".")] == []
    assert all(read_parameters(p).startswith("Steps") for p in paths)


def test_stale_temp_files_are_cleaned(tmp_path):
    day = tmp_path / "2024-01-01"
    day.mkdir()
    stale, fresh, keep = day / ".tmp-abc.png", day / ".tmp-new.png", day / "00001-1.png"
    for path in (stale, fresh, keep):
        path.write_bytes(b"x")
    os.utime(stale, (0, 0))
    assert clean_temp_files(tmp_path) == [stale]
    assert not stale.exists() and fresh.exists() and keep.exists()


def test_a1111_jpeg_exif_user_comment(tmp_path):
    image = Image.new("RGB", (8, 8), "blue")
    exif = image.getexif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + A1111.encode("utf-16-be")
    path = tmp_path / "a1111.jpg"
    image.save(path, exif=exif)
    params = read_image_parameters(path)
    assert params.prompt == "masterpiece, 1girl" and params.seed == 1234


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=300), key=st.sampled_from(["parameters", "prompt", "workflow"]),
       text=st.text(max_size=200))
def test_hostile_files_never_crash_the_reader(tmp_path_factory, body, key, text):
    folder = tmp_path_factory.mktemp("fuzz")
    raw = folder / "raw.png"
    raw.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    assert read_image_parameters(raw) is None
    png = _png(folder, **{key: text})
    read_image_parameters(png)
