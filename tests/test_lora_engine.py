"""LoRA adapters on the tiny SD model: both file layouts, weights, removal, refusals, CLI."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from PIL import Image

from studio.core.backend import CAUSE_LORA, JobFailed, JobFinished
from studio.core.infotext import parse_infotext
from studio.core.lora import LoraSkippable, lora_short_hash
from studio.core.outputs import OutputFolder, read_parameters
from studio.core.records import ResultSaver
from studio.core.requests import GenerateRequest, JobKind
from studio.engine.context import EngineContext
from studio.engine.control import JobControl
from studio.engine.device import plan_device
from studio.engine.local_backend import LocalBackend, run_to_end
from studio.engine.pipelines import PipelineCache
from studio.engine.runner import GenerationRunner
from tests.lora_helpers import build_diffusers_lora, build_kohya_lora


@pytest.fixture(scope="module")
def lora_dir(tiny_model_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("loras")
    build_diffusers_lora(tiny_model_dir, folder / "tinyd.safetensors")
    build_kohya_lora(tiny_model_dir, folder / "tiny.safetensors")
    build_diffusers_lora(tiny_model_dir, folder / "wide.safetensors", widen=3)
    (folder / "pickled.pt").write_bytes(b"\x80\x04 must never be unpickled")
    header = json.dumps({"a.lora_up.weight": {"dtype": "F32", "shape": [2, 2],
                                              "data_offsets": [0, 16]}}).encode()
    (folder / "corrupt.safetensors").write_bytes(  # the tensor data is cut short
        struct.pack("<Q", len(header)) + header + b"\0" * 4)
    return folder


@pytest.fixture
def runner(lora_dir, monkeypatch):
    monkeypatch.setenv("STUDIO_LORAS", str(lora_dir))
    return GenerationRunner(PipelineCache(plan_device("cpu")), max_preview_fps=0)


def _pixels(runner, model, prompt, **extra) -> np.ndarray:
    request = GenerateRequest(model_path=str(model), prompt=prompt, steps=3, width=64,
                              height=64, seed=7, **extra)
    return np.asarray(runner.run_one(request, JobControl()).image).astype(int)


def test_loras_change_pixels_and_removal_gives_a_fresh_starts_pixels(runner, tiny_model_dir):
    fresh = _pixels(GenerationRunner(PipelineCache(plan_device("cpu"))), tiny_model_dir, "a cat")
    kohya = _pixels(runner, tiny_model_dir, "a cat <lora:tiny:0.8>")
    assert np.abs(kohya - fresh).max() > 20
    pipe = runner.cache.get(tiny_model_dir, JobKind.TXT2IMG)
    adapters = pipe.get_list_adapters()
    assert adapters["unet"] and adapters["text_encoder"]  # kohya's lora_te_ keys loaded too
    peft = _pixels(runner, tiny_model_dir, "a cat <lora:tinyd:1>")
    both = _pixels(runner, tiny_model_dir, "a cat <lora:tiny:0.8> <lora:tinyd:1>")
    assert np.abs(peft - fresh).max() > 20
    assert np.abs(both - kohya).max() > 20 and np.abs(both - peft).max() > 20
    zero = _pixels(runner, tiny_model_dir, "a cat <lora:tiny:0>")
    assert np.abs(zero - fresh).max() <= 1
    again = _pixels(runner, tiny_model_dir, "a cat <lora:tiny:0.8>")  # reused adapter
    assert np.array_equal(again, kohya)
    assert np.array_equal(_pixels(runner, tiny_model_dir, "a cat"), fresh)
    assert not any(pipe.get_list_adapters().values())


def test_the_tag_is_not_sent_to_the_text_encoder(tiny_model_dir):
    request = GenerateRequest(model_path=str(tiny_model_dir), prompt="a cat <lora:x:0.5>",
                              negative_prompt="blur <lora:y>")
    kwargs = GenerationRunner._pipe_kwargs(request)
    assert kwargs["prompt"] == "a cat " and kwargs["negative_prompt"] == "blur "


@pytest.mark.parametrize(("name", "reason"), [
    ("wide", "does not fit this model: .* shape"),
    ("pickled", "pickle file"),
    ("corrupt", "not a readable safetensors|cannot be read"),
    ("absent", "not found"),
])
def test_a_bad_lora_fails_the_job_with_one_line_unless_skipped(runner, tiny_model_dir, name,
                                                              reason):
    fresh = _pixels(runner, tiny_model_dir, "a cat")
    with pytest.raises(LoraSkippable, match=reason) as failure:
        _pixels(runner, tiny_model_dir, f"a cat <lora:{name}:1>")
    assert "\n" not in str(failure.value) and repr(name) in str(failure.value)
    notes: list[str] = []
    request = GenerateRequest(model_path=str(tiny_model_dir), prompt=f"a cat <lora:{name}:1>",
                              steps=3, width=64, height=64, seed=7, skip_bad_loras=True)
    skipped = runner.run_one(request, JobControl(), on_status=notes.append).image
    assert np.array_equal(np.asarray(skipped).astype(int), fresh)
    assert notes and notes[0].startswith("Skipped: ")
    assert np.array_equal(_pixels(runner, tiny_model_dir, "a cat"), fresh)


def test_cli_generate_with_a_lora_tag(tiny_model_dir, lora_dir, tmp_path, monkeypatch):
    from studio.cli import main

    monkeypatch.setenv("STUDIO_LORAS", str(lora_dir))
    common = ["generate", "--model", str(tiny_model_dir), "--steps", "3", "--seed", "3"]
    assert main([*common, "--prompt", "a cat <lora:tiny:0.8>",
                 "--output", str(tmp_path / "lora.png")]) == 0
    assert main([*common, "--prompt", "a cat", "--output", str(tmp_path / "plain.png")]) == 0
    with_lora, plain = (np.asarray(Image.open(tmp_path / p)) for p in ("lora.png", "plain.png"))
    assert not np.array_equal(with_lora, plain)
    params = parse_infotext(read_parameters(tmp_path / "lora.png"))
    assert params["Prompt"] == "a cat <lora:tiny:0.8>"
    assert params["Lora hashes"] == f"tiny: {lora_short_hash(lora_dir / 'tiny.safetensors')}"
    assert main([*common, "--prompt", "a cat <lora:wide:1>",
                 "--output", str(tmp_path / "bad.png")]) != 0
    assert not (tmp_path / "bad.png").exists()
    assert main([*common, "--prompt", "a cat <lora:wide:1>", "--skip-bad-loras",
                 "--output", str(tmp_path / "skipped.png")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "skipped.png")), plain)


def test_the_backend_says_when_a_job_failed_on_a_lora(lora_dir, tiny_model_dir, tmp_path,
                                                      monkeypatch):
    """The GUI's 'Run without it' follows JobFailed.cause, not the message's words."""
    monkeypatch.setenv("STUDIO_LORAS", str(lora_dir))
    backend = LocalBackend(ResultSaver(OutputFolder(tmp_path)),
                           lambda: EngineContext.create(plan_device("cpu"), max_preview_fps=0))
    backend.start()

    def final(prompt: str, **extra):  # noqa: ANN202
        request = GenerateRequest(model_path=str(tiny_model_dir), prompt=prompt, steps=2,
                                  width=64, height=64, seed=7, **extra)
        return run_to_end(backend, request, lambda event: None)

    try:
        missing = final("a cat <lora:absent:1>")
        malformed = final("a cat <lora:tiny:abc>")  # a typo the engine cannot skip
        skipped = final("a cat <lora:absent:1>", skip_bad_loras=True)
    finally:
        assert backend.shutdown(timeout=30)
    assert isinstance(missing, JobFailed) and missing.cause == CAUSE_LORA
    assert "'absent'" in missing.message
    assert isinstance(malformed, JobFailed) and malformed.cause == ""
    assert "not a number" in malformed.message
    assert isinstance(skipped, JobFinished) and len(skipped.results) == 1
