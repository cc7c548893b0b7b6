from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from studio.core.inpaint import crop_box, feather, plan_inpaint
from studio.core.outputs import read_parameters
from studio.core.previews import RegionPreview
from studio.core.requests import JobKind
from tests.test_engine import _request, engine  # noqa: F401 - fixture reuse


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def photo(width: int = 120, height: int = 96, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def box_mask(size, box) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


@pytest.mark.parametrize("only_masked", [True, False])
def test_inpainting_leaves_unmasked_pixels_identical(engine, tiny_model_dir,  # noqa: F811
                                                     only_masked):
    worker, rec, _ = engine
    source = photo()
    mask = box_mask(source.size, (40, 30, 72, 60))
    job = worker.submit(_request(tiny_model_dir, kind=JobKind.INPAINT, steps=3, strength=1.0,
                                 init_image=png(source), mask_image=png(mask), mask_blur=4,
                                 only_masked=only_masked, work_resolution=64))
    rec.wait()
    assert rec.kinds(job)[-1] == "finished", rec.events[-1]
    result = rec.events[-2][2]
    out, src = np.asarray(result.image), np.asarray(source)
    assert out.shape == src.shape
    untouched = feather(np.asarray(mask), 4) == 0
    assert untouched.sum() > 0.7 * untouched.size
    assert np.array_equal(out[untouched], src[untouched])
    inside = np.asarray(mask) > 0
    assert np.abs(out[inside].astype(int) - src[inside]).mean() > 5  # the region changed
    saved_mask = result.path.with_suffix(".mask.png")
    assert np.array_equal(np.asarray(Image.open(saved_mask)), np.asarray(mask))
    params = read_parameters(result.path)
    assert "Mask blur: 4" in params and "Denoising strength: 1.0" in params
    previews = [e[4] for e in rec.events if e[0] == "preview"]
    assert previews and all(isinstance(p, RegionPreview) for p in previews)
    assert previews[0].rgba.shape[2] == 4
    if only_masked:
        left, top, right, bottom = previews[0].box
        assert left <= 40 and top <= 30 and right >= 72 and bottom >= 60
        assert right - left < 120 and (right - left) == (bottom - top)


def test_img2img_keeps_source_size_and_changes_pixels(engine, tiny_model_dir):  # noqa: F811
    worker, rec, _ = engine
    source = photo(100, 60)
    job = worker.submit(_request(tiny_model_dir, kind=JobKind.IMG2IMG, steps=4, strength=0.6,
                                 init_image=png(source), work_resolution=64))
    rec.wait()
    assert rec.kinds(job)[-1] == "finished", rec.events[-1]
    result = rec.events[-2][2]
    assert result.image.size == (100, 60)
    assert "Mode: img2img" in read_parameters(result.path)


@pytest.mark.parametrize("mode", ["RGBA", "P", "I;16", "L"])
def test_non_rgb_sources_are_accepted(engine, tiny_model_dir, mode):  # noqa: F811
    worker, rec, _ = engine
    rgb = photo(64, 64, seed=3)
    source = {"RGBA": rgb.convert("RGBA"), "P": rgb.convert("P"), "L": rgb.convert("L"),
              "I;16": Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257)}
    job = worker.submit(_request(tiny_model_dir, kind=JobKind.INPAINT, steps=2,
                                 init_image=png(source[mode]),
                                 mask_image=png(box_mask((64, 64), (8, 8, 40, 40))),
                                 work_resolution=64))
    rec.wait()
    assert rec.kinds(job)[-1] == "finished", rec.events[-1]
    assert rec.events[-2][2].image.mode == "RGB"


@pytest.mark.parametrize("mask, message", [
    (Image.new("L", (50, 50), 255), "is 50×50 but the image is 64×64"),
    (Image.new("L", (64, 64), 0), "mask is empty"),
])
def test_bad_masks_fail_with_clear_messages(engine, tiny_model_dir, mask, message):  # noqa: F811
    worker, rec, _ = engine
    job = worker.submit(_request(tiny_model_dir, kind=JobKind.INPAINT, steps=2,
                                 init_image=png(photo(64, 64)), mask_image=png(mask),
                                 work_resolution=64))
    rec.wait()
    assert rec.kinds(job) == ["started", "failed"]
    assert message in rec.events[-1][2]


def test_all_white_mask_repaints_everything(engine, tiny_model_dir):  # noqa: F811
    worker, rec, _ = engine
    job = worker.submit(_request(tiny_model_dir, kind=JobKind.INPAINT, steps=2,
                                 init_image=png(photo(64, 64)),
                                 mask_image=png(Image.new("L", (64, 64), 255)),
                                 work_resolution=64))
    rec.wait()
    assert rec.kinds(job)[-1] == "finished"


@pytest.mark.parametrize("bbox", [(0, 0, 10, 10), (110, 86, 120, 96), (0, 40, 120, 50)])
def test_only_masked_crop_stays_inside_image_and_covers_mask(bbox):
    left, top, right, bottom = crop_box(bbox, (120, 96), padding=16, aspect=1.0)
    assert 0 <= left and 0 <= top and right <= 120 and bottom <= 96
    assert left <= bbox[0] and top <= bbox[1] and right >= bbox[2] and bottom >= bbox[3]


def test_plan_work_size_snaps_to_latent_grid():
    mask = np.zeros((300, 500), np.uint8)
    mask[100:150, 200:260] = 255
    plan = plan_inpaint(mask, only_masked=False, padding=0, resolution=512)
    assert plan.box == (0, 0, 500, 300)
    assert plan.work_size[0] % 8 == 0 and plan.work_size[1] % 8 == 0
    assert plan.work_size[0] == 512
