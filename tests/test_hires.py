"""Hires. fix (#19 item 12): base pass, Lanczos enlarge, img2img pass; on the tiny model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from studio.core.infotext import parse_infotext
from studio.core.metadata import parameters_from_infotext
from studio.core.outputs import read_parameters
from studio.core.records import infotext_for
from studio.core.requests import GenerateRequest, JobKind
from tests.engine_helpers import running_worker
from tests.test_cli import _studio
from tests.test_engine import Recorder, _request


@pytest.fixture
def engine(tmp_path):
    recorder = Recorder()
    with running_worker(recorder, tmp_path / "outputs") as (worker, _):
        yield worker, recorder, None


def _hires(model, **kw) -> GenerateRequest:
    base = dict(steps=4, hires_scale=2.0, hires_strength=0.5)
    base.update(kw)
    return _request(model, **base)


def _results(rec: Recorder) -> list:
    return [e[2] for e in rec.events if e[0] == "result"]


def test_hires_streams_both_passes_and_saves_only_the_final_image(engine, tiny_model_dir):
    worker, rec, _ = engine
    job = worker.submit(_hires(tiny_model_dir))
    rec.wait()
    assert rec.kinds(job)[-1] == "finished", rec.events[-1]
    previews = [e for e in rec.events if e[0] == "preview"]
    # one progress count over both passes: 4 base steps + int(4 × 0.5) = 2 img2img steps
    assert [(e[2], e[3]) for e in previews] == [(1, 6), (2, 6), (3, 6), (4, 6), (5, 6), (6, 6)]
    assert [e[4].shape for e in previews] == [(8, 8, 3)] * 4 + [(16, 16, 3)] * 2
    (result,) = _results(rec)
    assert result.image.size == (128, 128) and result.steps_done is None
    assert Image.open(result.path).size == (128, 128)
    params = parse_infotext(read_parameters(result.path))
    assert params["Size"] == "64x64"  # A1111 writes the first pass's size
    assert params["Hires upscale"] == "2" and params["Hires upscaler"] == "Lanczos"
    assert params["Denoising strength"] == "0.5" and "Hires steps" not in params
    assert "Mode" not in params and "Stopped at step" not in params


def test_hires_same_seed_same_pixels_and_the_second_pass_redraws(engine, tiny_model_dir):
    worker, rec, _ = engine
    rec.expected_final = 3
    worker.submit(_hires(tiny_model_dir, scheduler="Euler a", hires_steps=6))
    worker.submit(_hires(tiny_model_dir, scheduler="Euler a", hires_steps=6))
    worker.submit(_request(tiny_model_dir, steps=4, scheduler="Euler a"))  # the base alone
    rec.wait()
    first, again, base = _results(rec)
    assert np.array_equal(np.asarray(first.image), np.asarray(again.image))
    stretched = np.asarray(base.image.resize((128, 128), Image.Resampling.LANCZOS), float)
    difference = np.abs(np.asarray(first.image, float) - stretched).mean()
    assert difference > 0.5  # not just the enlarged first pass
    assert parse_infotext(read_parameters(first.path))["Hires steps"] == "6"
    totals = {e[3] for e in rec.events if e[0] == "preview" and e[1] == first.job_id}
    assert totals == {4 + 3}


def test_hires_batch_seeds_increment(engine, tiny_model_dir):
    worker, rec, _ = engine
    worker.submit(_hires(tiny_model_dir, steps=2, hires_scale=1.5, batch_count=2))
    rec.wait()
    results = _results(rec)
    assert [(r.request.seed, r.image.size) for r in results] == [(7, (96, 96)), (8, (96, 96))]


def test_stop_and_keep_in_the_second_pass_keeps_the_large_image(engine, tiny_model_dir):
    worker, rec, _ = engine
    rec.on_preview = lambda job_id, step: step == 5 and worker.stop_and_keep()
    worker.submit(_hires(tiny_model_dir, hires_steps=8))  # 4 + 4 steps
    rec.wait()
    (result,) = _results(rec)
    # requested during the second pass's step 1: its step 2 finishes, then the x0 is kept
    assert result.image.size == (128, 128) and result.steps_done == 6
    text = read_parameters(result.path)
    assert "Hires stopped at step: 2" in text and "Stopped at step" not in text.replace(
        "Hires stopped", "")


def test_stop_and_keep_in_the_first_pass_keeps_the_base_image(engine, tiny_model_dir):
    worker, rec, _ = engine
    rec.on_preview = lambda job_id, step: step == 1 and worker.stop_and_keep()
    worker.submit(_hires(tiny_model_dir))
    rec.wait()
    (result,) = _results(rec)
    assert result.image.size == (64, 64) and result.steps_done == 2
    params = parse_infotext(read_parameters(result.path))
    assert params["Stopped at step"] == "2" and "Hires upscale" not in params


@pytest.mark.parametrize(("fields", "message"), [
    ({"hires_scale": 4.5}, "scale must be 1 (off) to 4"),
    ({"hires_scale": 0.5}, "scale must be 1 (off) to 4"),
    ({"hires_strength": 0.0}, "strength must be in (0, 1]"),
    ({"hires_strength": 1.5}, "strength must be in (0, 1]"),
    ({"hires_steps": -1}, "steps must be 0"),
    ({"width": 2048, "hires_scale": 2.5}, "above 4096"),
    ({"steps": 3, "hires_strength": 0.3}, "leaves no denoising step"),
])
def test_hires_validation(tiny_model_dir, fields, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _hires(tiny_model_dir, **fields).validate()


def test_hires_size_rounds_to_multiples_of_8_and_edits_ignore_it(tiny_model_dir) -> None:
    request = _hires(tiny_model_dir, width=72, height=64, hires_scale=1.5)
    request.validate()
    assert request.hires_size == (112, 96) and request.output_size == (112, 96)
    assert _hires(tiny_model_dir, hires_scale=1.0).output_size == (64, 64)
    edit = replace(request, kind=JobKind.IMG2IMG, init_image=b"x", hires_scale=9.0)
    assert not edit.hires and "Hires" not in infotext_for(edit)


def test_hires_infotext_reads_back(tiny_model_dir) -> None:
    text = infotext_for(_hires(tiny_model_dir, hires_scale=1.5, hires_strength=0.4,
                               hires_steps=10))
    params = parameters_from_infotext(text)
    assert (params.width, params.height) == (64, 64)
    assert (params.hires_scale, params.strength, params.hires_steps) == (1.5, 0.4, 10)
    plain = parameters_from_infotext(infotext_for(_request(tiny_model_dir)))
    assert plain.hires_scale is None and plain.hires_steps is None
    resized = parameters_from_infotext("x\nSteps: 20, Size: 512x384, Hires resize: 1024x768")
    assert resized.hires_scale == 2.0  # A1111's "resize to" form: over the first pass's size


def test_cli_hires_flags(tiny_model_dir, tmp_path) -> None:
    out = tmp_path / "h.png"
    done = _studio("generate", "--prompt", "red apple", "--steps", "2", "--seed", "3",
                   "--model", str(tiny_model_dir), "--hires-scale", "2", "--hires-strength",
                   "0.5", "--hires-steps", "4", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (128, 128) and done.stdout.split() == [str(out)]
    params = parse_infotext(read_parameters(out))
    assert params["Size"] == "64x64" and params["Hires upscale"] == "2"
    assert params["Hires steps"] == "4" and params["Denoising strength"] == "0.5"
    bad = _studio("generate", "--prompt", "x", "--model", str(tiny_model_dir), "--hires-scale",
                  "5", "--output", str(tmp_path / "b.png"))
    assert bad.returncode == 2 and "scale must be 1 (off) to 4" in bad.stderr
    assert not (tmp_path / "b.png").exists()
