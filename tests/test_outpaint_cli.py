"""`studio outpaint`: sizes, exact preservation, infotext, names and exit codes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.commands.common import EXIT_BAD_INPUT
from studio.core.infotext import parse_infotext
from studio.core.outputs import read_parameters
from tests.test_cli import _studio


def _source(folder):
    rng = np.random.default_rng(4)
    path = folder / "in.png"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    return path


def test_outpaint_extends_keeps_old_pixels_and_records_parameters(tiny_model_dir, tmp_path):
    source = _source(tmp_path)
    args = ["outpaint", "--image", str(source), "--right", "64", "--prompt", "sky",
            "--steps", "2", "--fill", "mirror", "--model", str(tiny_model_dir)]
    done = _studio(*args, "--output", str(tmp_path / "out.png"))
    assert done.returncode == 0, done.stderr
    out_path = tmp_path / "out.png"
    assert str(out_path) in done.stdout and str(tmp_path / "out.mask.png") in done.stdout
    out = np.asarray(Image.open(out_path).convert("RGB"))
    assert out.shape == (64, 128, 3)
    # the mask covers the new area plus a 16 px band; the feather (4 px blur) stays < 16 px
    assert np.array_equal(out[:, :32], np.asarray(Image.open(source))[:, :32])
    params = parse_infotext(read_parameters(out_path))
    assert params["Outpaint"] == "left 0, right 64, top 0, bottom 0, fill mirror"
    assert params["Size"] == "128x64" and params["Prompt"] == "sky"
    again = _studio(*args, "--output", str(tmp_path / "out.png"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "out-2.png").is_file() and (tmp_path / "out-2.mask.png").is_file()


@pytest.mark.parametrize("extra, message", [
    ([], "at least one side"),
    (["--left", "0", "--top", "2049"], "top must be 0–2048"),
    (["--bottom", "-8"], "bottom must be 0–2048"),
])
def test_bad_sides_fail_before_any_work(tmp_path, extra, message):
    source = _source(tmp_path)
    done = _studio("outpaint", "--image", str(source), "--output", str(tmp_path / "o.png"),
                   *extra)
    assert done.returncode == EXIT_BAD_INPUT
    assert message in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_bad_fill_and_overwriting_the_input_are_refused(tiny_model_dir, tmp_path):
    source = _source(tmp_path)
    bad_fill = _studio("outpaint", "--image", str(source), "--left", "8", "--fill", "smear",
                       "--output", str(tmp_path / "o.png"))
    assert bad_fill.returncode == 2 and "smear" in bad_fill.stderr
    clobber = _studio("outpaint", "--image", str(source), "--left", "8", "--overwrite",
                      "--model", str(tiny_model_dir), "--output", str(source))
    assert clobber.returncode == EXIT_BAD_INPUT and "input image" in clobber.stderr
    missing = _studio("outpaint", "--image", str(tmp_path / "nope.png"), "--left", "8",
                      "--output", str(tmp_path / "o.png"))
    assert missing.returncode == EXIT_BAD_INPUT and "not found" in missing.stderr
