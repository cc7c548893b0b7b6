"""Odd but valid inputs (issue #19): CMYK JPEG, LA, palette with transparency, 16-bit, 1-bit,
RGBA sources and masks, EXIF-rotated photos, and masks too faint to repaint anything."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from studio.cli import main
from studio.core.inpaint import feather
from studio.core.requests import GenerateRequest, JobKind
from studio.engine.edit import EditJob
from tests.image_samples import MODES, SIZE, encoded, mode_sample, noise, over_white

EDIT = ["--prompt", "apple", "--steps", "2", "--seed", "3"]


def _run(*args: str) -> tuple[int, str]:
    import contextlib

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, err.getvalue()


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("mode", MODES)
def test_edit_job_source_is_the_image_over_white(mode):
    data, _, reference = mode_sample(mode)
    request = GenerateRequest(model_path="unused", kind=JobKind.IMG2IMG, init_image=data,
                              width=SIZE, height=SIZE, work_resolution=SIZE)
    source = np.asarray(EditJob(request, 8).source).astype(int)
    assert source.shape == (SIZE, SIZE, 3)
    assert np.abs(source - over_white(reference)).max() <= 1


@pytest.mark.parametrize("mode", MODES)
def test_img2img_of_a_mode_equals_img2img_of_its_rgb_equivalent(mode, tiny_model_dir, tmp_path):
    data, suffix, reference = mode_sample(mode)
    odd = _write(tmp_path, f"odd{suffix}", data)
    plain = _write(tmp_path, "plain.png", encoded(reference))
    model = ["--model", str(tiny_model_dir)]
    for source, out in ((odd, "a.png"), (plain, "b.png")):
        code, err = _run("img2img", "--image", str(source), *EDIT, *model,
                         "--output", str(tmp_path / out))
        assert code == 0, err
    assert Image.open(tmp_path / "a.png").size == (SIZE, SIZE)
    assert np.array_equal(_pixels(tmp_path / "a.png"), _pixels(tmp_path / "b.png"))


def _square_mask(mode: str) -> tuple[bytes, str]:
    """A mask in `mode` whose repaint area is the square (16, 16)-(48, 48), as file bytes."""
    inside = np.zeros((SIZE, SIZE), bool)
    inside[16:48, 16:48] = True
    white = inside.astype(np.uint8) * 255
    if mode == "cmyk-jpeg":
        rgb = Image.fromarray(np.dstack([white] * 3))
        return encoded(rgb.convert("CMYK"), "JPEG", quality=95), ".jpg"
    images = {
        "la": lambda: Image.fromarray(np.dstack([white, white]), "LA"),
        "rgba": lambda: Image.fromarray(np.dstack([white] * 4), "RGBA"),
        "i16": lambda: Image.fromarray(inside.astype(np.uint16) * 65535),
        "1-bit": lambda: Image.fromarray(inside),
        "p-transparency": lambda: _palette_mask(inside),
    }
    return encoded(images[mode]()), ".png"


def _palette_mask(inside: np.ndarray) -> Image.Image:
    image = Image.fromarray(inside.astype(np.uint8), "P")
    image.putpalette([0, 0, 0, 255, 255, 255])
    image.info["transparency"] = 0
    return image


@pytest.mark.parametrize("mode", MODES)
def test_inpaint_with_a_mask_in_any_mode_repaints_exactly_its_area(mode, tiny_model_dir,
                                                                   tmp_path):
    source = _write(tmp_path, "in.png", encoded(noise(seed=9)))
    data, suffix = _square_mask(mode)
    mask = _write(tmp_path, f"mask{suffix}", data)
    code, err = _run("inpaint", "--image", str(source), "--mask", str(mask), *EDIT,
                     "--model", str(tiny_model_dir), "--output", str(tmp_path / "out.png"))
    assert code == 0, err
    out, src = _pixels(tmp_path / "out.png"), _pixels(source)
    square = np.zeros((SIZE, SIZE), np.uint8)
    square[16:48, 16:48] = 255
    untouched = feather(square, 4) == 0
    assert np.array_equal(out[untouched], src[untouched])
    inside = square > 0
    assert np.abs(out[inside].astype(int) - src[inside]).mean() > 5


@pytest.mark.parametrize("mode", MODES)
def test_inpaint_source_in_any_mode_keeps_its_pixels_outside_the_mask(mode, tiny_model_dir,
                                                                      tmp_path):
    data, suffix, reference = mode_sample(mode)
    source = _write(tmp_path, f"in{suffix}", data)
    mask = Image.new("L", (SIZE, SIZE), 0)
    mask.paste(255, (20, 20, 40, 40))
    mask.save(tmp_path / "mask.png")
    code, err = _run("inpaint", "--image", str(source), "--mask", str(tmp_path / "mask.png"),
                     *EDIT, "--model", str(tiny_model_dir), "--output", str(tmp_path / "out.png"))
    assert code == 0, err
    out = _pixels(tmp_path / "out.png").astype(int)
    untouched = feather(np.asarray(mask), 4) == 0
    assert np.abs(out[untouched] - over_white(reference)[untouched]).max() <= 1


def _expected_upscale(reference: Image.Image, scale: int) -> np.ndarray:
    size = (reference.width * scale, reference.height * scale)
    rgba = reference.convert("RGBA")
    rgb = np.asarray(rgba.convert("RGB").resize(size, Image.Resampling.LANCZOS))
    alpha = rgba.getchannel("A")
    if alpha.getextrema() == (255, 255):
        return rgb
    return np.dstack([rgb, np.asarray(alpha.resize(size, Image.Resampling.LANCZOS))])


@pytest.mark.parametrize("mode", MODES)
def test_upscale_of_any_mode_is_the_upscaled_equivalent(mode, tmp_path):
    data, suffix, reference = mode_sample(mode)
    source = _write(tmp_path, f"in{suffix}", data)
    code, err = _run("upscale", "--image", str(source), "--scale", "2", "--model", "lanczos",
                     "--output", str(tmp_path / "out.png"))
    assert code == 0, err
    with Image.open(tmp_path / "out.png") as out:
        assert np.array_equal(np.asarray(out), _expected_upscale(reference, 2))


def test_cmyk_jpeg_upscales_with_the_builtin_model(tmp_path):
    data, _, reference = mode_sample("cmyk-jpeg")
    source = _write(tmp_path, "photo.jpg", data)
    code, err = _run("upscale", "--image", str(source), "--scale", "2",
                     "--output", str(tmp_path / "out.png"))
    assert code == 0, err
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == (2 * SIZE, 2 * SIZE) and out.mode == "RGB"
        small = np.asarray(out.resize((SIZE, SIZE), Image.Resampling.BOX)).astype(int)
    assert np.abs(small - np.asarray(reference)).mean() < 12  # the same picture, not noise


# ----- EXIF orientation ------------------------------------------------------------------------
def _rotated_photo(folder: Path) -> tuple[Path, np.ndarray]:
    """A 64×32 JPEG whose EXIF says "rotate 90° clockwise": upright it is 32×64."""
    exif = Image.Exif()
    exif[0x0112] = 6
    path = folder / "rotated.jpg"
    noise(64, 32, seed=4).save(path, quality=95, exif=exif)
    with Image.open(path) as image:
        upright = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    assert upright.shape == (64, 32, 3)
    return path, upright


def test_img2img_honours_exif_orientation(tiny_model_dir, tmp_path):
    path, _ = _rotated_photo(tmp_path)
    code, err = _run("img2img", "--image", str(path), *EDIT, "--model", str(tiny_model_dir),
                     "--output", str(tmp_path / "out.png"))
    assert code == 0, err
    assert Image.open(tmp_path / "out.png").size == (32, 64)


def test_inpaint_honours_exif_orientation_of_image_and_mask(tiny_model_dir, tmp_path):
    path, upright = _rotated_photo(tmp_path)
    mask = Image.new("L", (32, 64), 0)
    mask.paste(255, (8, 40, 24, 56))  # the lower part of the upright picture
    mask.save(tmp_path / "mask.png")
    code, err = _run("inpaint", "--image", str(path), "--mask", str(tmp_path / "mask.png"),
                     *EDIT, "--model", str(tiny_model_dir), "--output", str(tmp_path / "out.png"))
    assert code == 0, err
    out = _pixels(tmp_path / "out.png")
    assert out.shape == (64, 32, 3)
    untouched = feather(np.asarray(mask), 4) == 0
    assert np.array_equal(out[untouched], upright[untouched])
    stored = Image.new("L", (64, 32), 255)  # painted on the sideways pixels: refused
    stored.save(tmp_path / "sideways.png")
    code, err = _run("inpaint", "--image", str(path), "--mask", str(tmp_path / "sideways.png"),
                     *EDIT, "--model", str(tiny_model_dir), "--output", str(tmp_path / "x.png"))
    assert code == 2 and "The mask is 64×32 but the image is 32×64" in err


def test_upscale_honours_exif_orientation(tmp_path):
    path, upright = _rotated_photo(tmp_path)
    code, err = _run("upscale", "--image", str(path), "--scale", "2", "--model", "lanczos",
                     "--output", str(tmp_path / "out.png"))
    assert code == 0, err
    assert Image.open(tmp_path / "out.png").size == (64, 128)


# ----- masks too faint to repaint anything ------------------------------------------------------
@pytest.mark.parametrize("value", [1, 64, 127])
@pytest.mark.parametrize("form", ["L", "RGBA-alpha"])
def test_faint_mask_is_empty_not_a_silent_no_op(value, form, tiny_model_dir, tmp_path):
    source = _write(tmp_path, "in.png", encoded(noise(seed=2)))
    if form == "L":
        mask = Image.new("L", (SIZE, SIZE), value)
    else:
        mask = Image.new("RGBA", (SIZE, SIZE), (255, 255, 255, value))
    mask.save(tmp_path / "mask.png")
    code, err = _run("inpaint", "--image", str(source), "--mask", str(tmp_path / "mask.png"),
                     *EDIT, "--model", str(tiny_model_dir), "--output", str(tmp_path / "out.png"))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("studio: error: The mask is empty: paint the area to change")
    assert not (tmp_path / "out.png").exists()


def test_mask_just_above_the_threshold_repaints(tiny_model_dir, tmp_path):
    source = _write(tmp_path, "in.png", encoded(noise(seed=2)))
    Image.new("L", (SIZE, SIZE), 128).save(tmp_path / "mask.png")
    code, err = _run("inpaint", "--image", str(source), "--mask", str(tmp_path / "mask.png"),
                     *EDIT, "--model", str(tiny_model_dir), "--output", str(tmp_path / "out.png"))
    assert code == 0, err
    assert np.abs(_pixels(tmp_path / "out.png").astype(int) - _pixels(source)).mean() > 5


def test_engine_refuses_a_faint_mask_with_the_same_message():
    request = GenerateRequest(model_path="unused", kind=JobKind.INPAINT, width=SIZE,
                              height=SIZE, work_resolution=SIZE, init_image=encoded(noise()),
                              mask_image=encoded(Image.new("L", (SIZE, SIZE), 1)))
    with pytest.raises(ValueError, match="^The mask is empty: paint the area to change"):
        EditJob(request, 8)
