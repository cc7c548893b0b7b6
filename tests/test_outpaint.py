"""Outpainting: the extended canvas, its fills, its mask, and the engine job."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.inpaint import feather
from studio.core.outpaint import Sides, check_outpaint, extend_image, outpaint_mask
from studio.core.outputs import read_parameters
from studio.core.previews import RegionPreview
from studio.core.requests import JobKind
from tests.test_engine import _request, engine  # noqa: F401 - fixture reuse
from tests.test_inpaint import photo, png


def gradient(width: int = 96, height: int = 64) -> Image.Image:
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    return Image.fromarray(np.dstack([x, y, 255 - x]).astype(np.uint8))


@pytest.mark.parametrize("fill", ["edge", "mirror", "noise"])
def test_extend_keeps_old_pixels_and_fills_new_area(fill):
    source = gradient()
    sides = Sides(left=40, right=0, top=16, bottom=24)
    out = np.asarray(extend_image(source, sides, fill, seed=1))
    assert out.shape == (64 + 40, 96 + 40, 3)
    assert np.array_equal(out[16:80, 40:136], np.asarray(source))
    new = np.ones(out.shape[:2], bool)
    new[16:80, 40:136] = False
    if fill == "mirror":  # the column left of the image mirrors its first column
        assert np.array_equal(out[16:80, 39], np.asarray(source)[:, 0])
    if fill == "edge":  # smooth: close to the stretched border, no noise
        assert np.abs(np.diff(out[:, :40].astype(int), axis=1)).max() < 16
        assert abs(int(out[50, 0, 2]) - int(np.asarray(source)[34, 0, 2])) < 40
    if fill == "noise":
        assert np.abs(np.diff(out[:, :40].astype(int), axis=1)).mean() > 20
    assert out[new].std() > 0


def test_fills_differ():
    source, sides = gradient(), Sides(right=64)
    fills = [np.asarray(extend_image(source, sides, f)) for f in ("edge", "mirror", "noise")]
    assert not np.array_equal(fills[0], fills[1]) and not np.array_equal(fills[0], fills[2])


def test_mask_covers_new_area_and_an_aligned_band():
    mask = outpaint_mask((64, 48), Sides(left=32, bottom=8), overlap=12)  # 12 → 16 px band
    assert mask.shape == (56, 96)
    assert (mask[:, :32 + 16] == 255).all() and (mask[48 - 16:, :] == 255).all()
    assert (mask[:48 - 16, 48:] == 0).all()  # right and top edges were not extended


@pytest.mark.parametrize("sides, fill, message", [
    (Sides(), "edge", "at least one side"),
    (Sides(left=2049), "edge", "left must be 0–2048"),
    (Sides(top=-1), "edge", "top must be 0–2048"),
    (Sides(left=8), "smear", "unknown outpaint fill"),
])
def test_bad_outpaint_settings_fail_clearly(sides, fill, message):
    with pytest.raises(ValueError, match=message):
        check_outpaint(sides, fill)


def test_request_validation_checks_sides(tiny_model_dir):
    request = _request(tiny_model_dir, kind=JobKind.INPAINT, strength=1.0,
                       init_image=png(photo(64, 64)), outpaint_right=4096)
    with pytest.raises(ValueError, match="right must be 0–2048"):
        request.validate()


@pytest.mark.parametrize("fill", ["edge", "mirror", "noise"])
def test_outpaint_job_extends_and_keeps_old_pixels_exactly(engine, tiny_model_dir,  # noqa: F811
                                                           fill):
    worker, rec, _ = engine
    source = photo(64, 64, seed=5)
    job = worker.submit(_request(tiny_model_dir, kind=JobKind.INPAINT, steps=3, strength=0.9,
                                 init_image=png(source), outpaint_right=64, outpaint_fill=fill,
                                 mask_blur=4, work_resolution=64))
    rec.wait(120)
    assert rec.kinds(job)[-1] == "finished", rec.events[-1]
    result = rec.events[-2][2]
    out = np.asarray(result.image)
    assert out.shape == (64, 128, 3)
    mask = np.asarray(Image.open(result.path.with_suffix(".mask.png")))
    assert mask.shape == (64, 128) and (mask[:, 64 - 16:] == 255).all()
    untouched = feather(mask, 4) == 0
    assert untouched[:, :32].all() and not untouched[:, 48:].any()  # band: 16 px + feather
    assert np.array_equal(out[untouched], np.asarray(source)[untouched[:, :64]])
    assert out[:, 64:].std() > 3  # the new area holds something
    params = read_parameters(result.path)
    assert f"Outpaint: \"left 0, right 64, top 0, bottom 0, fill {fill}\"" in params
    assert "Size: 128x64" in params
    previews = [e[4] for e in rec.events if e[0] == "preview"]
    assert previews and all(isinstance(p, RegionPreview) for p in previews)


def test_outpaint_result_can_be_extended_again(engine, tiny_model_dir):  # noqa: F811
    worker, rec, _ = engine
    first = photo(64, 48, seed=2)
    job = worker.submit(_request(tiny_model_dir, kind=JobKind.INPAINT, steps=2, strength=1.0,
                                 init_image=png(first), outpaint_top=16, outpaint_bottom=16,
                                 work_resolution=64))
    rec.wait(120)
    assert rec.kinds(job)[-1] == "finished", rec.events[-1]
    assert rec.events[-2][2].image.size == (64, 80)
