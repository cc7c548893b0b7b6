from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from studio.core.infotext import parse_infotext
from studio.core.outputs import read_parameters

ROOT = Path(__file__).resolve().parent.parent


def _studio(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT)


def test_generate_writes_png_with_parameters_and_is_reproducible(tiny_model_dir, tmp_path):
    common = ["generate", "--prompt", "red apple, fruit", "--negative", "blurry", "--steps", "4",
              "--seed", "42", "--model", str(tiny_model_dir), "--scheduler", "Euler a"]
    first = _studio(*common, "--batch", "2", "--output", str(tmp_path / "a.png"))
    assert first.returncode == 0, first.stderr
    again = _studio(*common, "--output", str(tmp_path / "b.png"))
    assert again.returncode == 0, again.stderr
    a1, a2, b = (tmp_path / "a-1.png", tmp_path / "a-2.png", tmp_path / "b.png")
    assert np.array_equal(np.asarray(Image.open(a1)), np.asarray(Image.open(b)))
    assert not np.array_equal(np.asarray(Image.open(a1)), np.asarray(Image.open(a2)))
    params = parse_infotext(read_parameters(a2))
    assert params["Prompt"] == "red apple, fruit" and params["Negative prompt"] == "blurry"
    assert params["Seed"] == "43" and params["Sampler"] == "Euler a"
    assert params["Size"] == "64x64"  # the model's native size when none is given
    assert Image.open(b).size == (64, 64)
    assert "b.png" in again.stdout
    # transformers' "install torchvision" notice is irrelevant to Studio and filtered out
    assert "torchvision" not in first.stderr + again.stderr


def test_bad_input_exits_non_zero_with_a_clear_message(tiny_model_dir, tmp_path):
    missing = _studio("generate", "--prompt", "x", "--model", str(tmp_path / "nope"),
                      "--output", str(tmp_path / "x.png"))
    assert missing.returncode == 2 and "not found" in missing.stderr
    bad_size = _studio("generate", "--prompt", "x", "--model", str(tiny_model_dir),
                       "--width", "30", "--output", str(tmp_path / "x.png"))
    assert bad_size.returncode == 2 and "multiple of 8" in bad_size.stderr
    assert not (tmp_path / "x.png").exists()


def test_inpaint_and_img2img_round_trip(tiny_model_dir, tmp_path):
    rng = np.random.default_rng(0)
    source = Image.fromarray(rng.integers(0, 256, (72, 96, 3), dtype=np.uint8))
    source.save(tmp_path / "in.png")
    mask = Image.new("L", (96, 72), 0)
    mask.paste(255, (30, 20, 60, 50))
    mask.save(tmp_path / "mask.png")
    done = _studio("inpaint", "--image", str(tmp_path / "in.png"), "--mask",
                   str(tmp_path / "mask.png"), "--prompt", "an apple", "--steps", "2",
                   "--model", str(tiny_model_dir), "--output", str(tmp_path / "out.png"))
    assert done.returncode == 0, done.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == (72, 96, 3)
    assert np.array_equal(out[:10], np.asarray(source)[:10])  # far from the mask: untouched
    assert "Inpaint area: Only masked" in read_parameters(tmp_path / "out.png")
    wrong = Image.new("L", (10, 10), 255)
    wrong.save(tmp_path / "small.png")
    bad = _studio("inpaint", "--image", str(tmp_path / "in.png"), "--mask",
                  str(tmp_path / "small.png"), "--model", str(tiny_model_dir),
                  "--output", str(tmp_path / "bad.png"))
    assert bad.returncode == 2 and "10×10 but the image is 96×72" in bad.stderr
    img2img = _studio("img2img", "--image", str(tmp_path / "in.png"), "--prompt", "x",
                      "--strength", "0.5", "--steps", "4", "--model", str(tiny_model_dir),
                      "--output", str(tmp_path / "i2i.png"))
    assert img2img.returncode == 0, img2img.stderr
    assert Image.open(tmp_path / "i2i.png").size == (96, 72)


def test_generate_then_upscale_cascade_keeps_parameters(tiny_model_dir, tmp_path):
    done = _studio("generate", "--prompt", "red apple", "--steps", "2", "--seed", "3",
                   "--model", str(tiny_model_dir), "--upscale", "4", "--upscaler", "lanczos",
                   "--output", str(tmp_path / "apple.png"))
    assert done.returncode == 0, done.stderr
    base, big = Image.open(tmp_path / "apple.png"), Image.open(tmp_path / "apple-x4.png")
    assert big.size == (base.width * 4, base.height * 4)
    params = parse_infotext(read_parameters(tmp_path / "apple-x4.png"))
    assert params["Prompt"] == "red apple" and params["Seed"] == "3"
    assert params["Postprocess upscale by"] == "4" and params["Size"] == "64x64"
    assert done.stdout.split() == [str(tmp_path / "apple.png"), str(tmp_path / "apple-x4.png")]
    bad = _studio("generate", "--prompt", "x", "--model", str(tiny_model_dir), "--upscale", "2",
                  "--upscaler", str(tmp_path / "missing"), "--output", str(tmp_path / "b.png"))
    assert bad.returncode == 2 and not (tmp_path / "b.png").exists()
