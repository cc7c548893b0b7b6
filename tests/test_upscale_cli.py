from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.core.infotext import parse_infotext
from studio.core.outputs import read_parameters
from studio.core.upscale import UpscalerKind
from studio.core.upscaler_catalog import available_upscalers, resolve_upscaler
from tests.upscale_helpers import build_tiny_sr, noise_image


@pytest.fixture(scope="module")
def sr_dir(tmp_path_factory: pytest.TempPathFactory):
    return build_tiny_sr(tmp_path_factory.mktemp("sr"))


def test_cli_upscales_with_parameters_and_progress(sr_dir, tmp_path, capsys):
    source = tmp_path / "in.png"
    noise_image(70, 50, mode="RGBA").save(source)
    out = tmp_path / "out.png"
    code = main(["upscale", "--image", str(source), "--scale", "4", "--model", str(sr_dir),
                 "--tile", "32", "--overlap", "8", "--output", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    assert "tile 6/6" in captured.err  # x starts 0, 24, 38; y starts 0, 18
    with Image.open(out) as image:
        assert image.size == (280, 200) and image.mode == "RGBA"
    params = parse_infotext(read_parameters(out))
    assert params["Upscaler"] == "tiny-sr" and params["Scale"] == "4"
    assert params["Tile"] == "32" and params["Overlap"] == "8" and params["Size"] == "280x200"


@pytest.mark.parametrize("args, message", [
    (["--image", "{tmp}/missing.png"], "not found"),
    (["--image", "{tmp}/text.png"], "cannot read"),
    (["--image", "{tmp}/in.png", "--model", "lanczos", "--tile", "5"], "tile size"),
    (["--image", "{tmp}/in.png", "--model", "{tmp}/nothing"], "not found"),
    (["--image", "{tmp}/in.png", "--model", "{tmp}"], "neither"),
    (["--image", "{tmp}/big.png", "--scale", "4", "--model", "lanczos"], "limit"),
])
def test_cli_bad_input_exits_non_zero_with_a_message(tmp_path, capsys, args, message):
    noise_image(8, 8).save(tmp_path / "in.png")
    (tmp_path / "text.png").write_text("not an image")
    if "{tmp}/big.png" in args:
        Image.new("L", (8000, 8000)).save(tmp_path / "big.png", compress_level=1)
    argv = ["upscale", *[a.format(tmp=tmp_path) for a in args], "--output",
            str(tmp_path / "o.png")]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "studio: error:" in err and message in err
    assert not (tmp_path / "o.png").exists()


def test_cli_one_pixel_and_grayscale_16_bit(tmp_path):
    one = tmp_path / "one.png"
    Image.new("P", (1, 1)).save(one)
    assert main(["upscale", "--image", str(one), "--model", "lanczos", "--output",
                 str(tmp_path / "o1.png")]) == 0
    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((6, 5), 40000, np.uint16)).save(deep)
    assert main(["upscale", "--image", str(deep), "--scale", "2", "--model", "lanczos",
                 "--output", str(tmp_path / "o2.png")]) == 0
    with Image.open(tmp_path / "o2.png") as image:
        assert image.size == (10, 12)
        assert abs(int(np.asarray(image)[3, 3, 0]) - round(40000 / 65535 * 255)) <= 1


def test_catalog_lists_sr_first_and_lanczos_last_and_resolves_specs(sr_dir, tmp_path):
    choices = available_upscalers([tmp_path], sr_dir=sr_dir)
    assert choices[0].kind is UpscalerKind.SR and choices[0].available
    assert choices[-1].kind is UpscalerKind.LANCZOS
    missing = available_upscalers([], sr_dir=tmp_path / "gone")[0]
    assert not missing.available and "missing" in missing.note
    assert resolve_upscaler(str(sr_dir)).kind is UpscalerKind.SR
    assert resolve_upscaler("lanczos").kind is UpscalerKind.LANCZOS


def test_cli_turns_exif_rotated_photos_upright(tmp_path):
    photo = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    noise_image(20, 10).save(photo, exif=exif)
    out = tmp_path / "up.png"
    assert main(["upscale", "--image", str(photo), "--scale", "2", "--model", "lanczos",
                 "--output", str(out)]) == 0
    with Image.open(out) as image:
        assert image.size == (20, 40)
