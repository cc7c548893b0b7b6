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


def test_bad_input_exits_non_zero_with_a_clear_message(tiny_model_dir, tmp_path):
    missing = _studio("generate", "--prompt", "x", "--model", str(tmp_path / "nope"),
                      "--output", str(tmp_path / "x.png"))
    assert missing.returncode == 2 and "not found" in missing.stderr
    bad_size = _studio("generate", "--prompt", "x", "--model", str(tiny_model_dir),
                       "--width", "30", "--output", str(tmp_path / "x.png"))
    assert bad_size.returncode == 2 and "multiple of 8" in bad_size.stderr
    assert not (tmp_path / "x.png").exists()
