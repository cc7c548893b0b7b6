"""Outpainting's model fill: an inpainting model file paints the new area before diffusion."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from studio.commands.common import EXIT_BAD_INPUT
from studio.core.infotext import parse_infotext
from studio.core.outputs import read_parameters
from studio.core.requests import GenerateRequest, JobKind
from studio.engine.edit import EditJob
from studio.engine.pipelines import ModelLoadError
from studio.engine.prefill import ModelFill
from tests.cli_helpers import ROOT
from tests.fake_spandrel import install

COLOR = (51, 102, 153)


@pytest.fixture
def fake_spandrel(tmp_path, monkeypatch):
    folder = install(tmp_path / "site")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "spandrel", raising=False)
    yield folder
    sys.modules.pop("spandrel", None)  # later tests must not find the stand-in


@pytest.fixture
def color_model(tmp_path):
    path = tmp_path / "color-lama.safetensors"
    save_file({"color": torch.tensor([c / 255 for c in COLOR])}, str(path))
    return path


def _source(width=32, height=24) -> Image.Image:
    rng = np.random.default_rng(5)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8))


def _png(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_model_paints_only_the_new_area(fake_spandrel, color_model):
    image = _source()
    new_area = np.zeros((24, 32), bool)
    new_area[:, 20:] = True
    out = np.asarray(ModelFill()(image, new_area, str(color_model)))
    assert (out[new_area] == COLOR).all()
    assert np.array_equal(out[~new_area], np.asarray(image)[~new_area])


def test_an_outpaint_job_starts_from_the_models_fill(fake_spandrel, color_model):
    source = _source()
    request = GenerateRequest(model_path="unused", kind=JobKind.INPAINT, prompt="sky",
                              init_image=_png(source), outpaint_left=16, outpaint_top=8,
                              outpaint_fill="model", outpaint_fill_model=str(color_model),
                              work_resolution=64)
    request.validate()
    fill = ModelFill()
    job = EditJob(request, 8, fill)
    canvas = np.asarray(job.source)
    assert canvas.shape == (32, 48, 3)
    assert (canvas[:8] == COLOR).all() and (canvas[:, :16] == COLOR).all()
    assert np.array_equal(canvas[8:, 16:], np.asarray(source))  # the old image, exactly
    EditJob(request, 8, fill)
    assert fill._model is not None  # loaded once, kept for the next job
    with pytest.raises(ValueError, match="no inpainting model fill"):
        EditJob(request, 8)


def test_the_model_fill_needs_a_file():
    request = GenerateRequest(model_path="m", kind=JobKind.INPAINT, init_image=b"x",
                              outpaint_right=8, outpaint_fill="model")
    with pytest.raises(ValueError, match="needs an inpainting model file"):
        request.validate()
    replace(request, outpaint_fill_model="/models/big-lama.pt").validate()


def _hostile_files(folder) -> dict[str, object]:
    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(folder / "pwned"),))

    files = {}
    files["code"] = folder / "code.pth"
    torch.save({"color": Boom()}, files["code"])
    files["plain_pickle"] = folder / "plain.pth"
    with open(files["plain_pickle"], "wb") as handle:
        pickle.dump({"color": Boom()}, handle)
    files["sr"] = folder / "sr.safetensors"
    save_file({"sr": torch.zeros(3)}, str(files["sr"]))
    files["unknown"] = folder / "unknown.safetensors"
    save_file({"weight": torch.zeros(3)}, str(files["unknown"]))
    files["corrupt"] = folder / "corrupt.safetensors"
    files["corrupt"].write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    files["fifo"] = folder / "fifo.pth"
    os.mkfifo(files["fifo"])
    files["missing"] = folder / "missing.pth"
    return files


@pytest.mark.parametrize(("name", "message"), [
    ("code", "refused: it references"),
    ("plain_pickle", "not a readable weights-only checkpoint"),
    ("sr", r"is a model for SR \(FakeESRGAN\), not an inpainting model such as LaMa"),
    ("unknown", "spandrel could not load unknown.safetensors: Unsupported model architecture"),
    ("corrupt", "not a readable safetensors file"),
    ("fifo", "not a regular file"),
    ("missing", "not found"),
])
def test_bad_model_files_are_one_line_errors(fake_spandrel, tmp_path, name, message):
    path = _hostile_files(tmp_path)[name]
    with pytest.raises(ModelLoadError, match=message) as failure:
        ModelFill()(_source(), np.ones((24, 32), bool), str(path))
    assert "\n" not in str(failure.value)
    assert not (tmp_path / "pwned").exists()


def test_without_spandrel_the_model_fill_says_what_to_install(color_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "spandrel", None)  # `import spandrel` fails
    with pytest.raises(ModelLoadError, match="optional `spandrel` package.*pip install"):
        ModelFill()(_source(), np.ones((24, 32), bool), str(color_model))


def _studio(site, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(site)]))
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT)


def test_cli_outpaint_with_a_model_fill(fake_spandrel, color_model, tiny_model_dir, tmp_path):
    source = tmp_path / "in.png"
    _source(64, 64).save(source)
    common = ["outpaint", "--image", str(source), "--right", "64", "--prompt", "sky",
              "--steps", "2", "--strength", "0.5", "--seed", "3", "--model",
              str(tiny_model_dir)]
    done = _studio(fake_spandrel, *common, "--fill-model", str(color_model),
                   "--output", str(tmp_path / "model.png"))
    assert done.returncode == 0, done.stderr
    edge = _studio(fake_spandrel, *common, "--output", str(tmp_path / "edge.png"))
    assert edge.returncode == 0, edge.stderr
    out = np.asarray(Image.open(tmp_path / "model.png").convert("RGB"))
    assert out.shape == (64, 128, 3)
    assert np.array_equal(out[:, :32], np.asarray(Image.open(source))[:, :32])
    assert not np.array_equal(out, np.asarray(Image.open(tmp_path / "edge.png")))
    params = parse_infotext(read_parameters(tmp_path / "model.png"))
    assert params["Outpaint"] == "left 0, right 64, top 0, bottom 0, fill model " \
        "color-lama.safetensors"


@pytest.mark.parametrize(("extra", "message"), [
    (["--fill", "model"], "--fill model and --fill-model FILE go together"),
    (["--fill", "edge", "--fill-model", "x.pth"], "go together"),
    (["--fill-model", "nope.pth"], "--fill-model file not found"),
])
def test_cli_model_fill_arguments_are_checked_first(fake_spandrel, tmp_path, extra, message):
    source = tmp_path / "in.png"
    _source(64, 64).save(source)
    done = _studio(fake_spandrel, "outpaint", "--image", str(source), "--left", "8",
                   "--output", str(tmp_path / "o.png"), *extra)
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o.png").exists()
