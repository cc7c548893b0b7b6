from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from studio.core.infotext import parse_infotext
from studio.core.outputs import read_parameters
from studio.core.tiling import TileBlender, axis_starts, ramp, seam_ratio, tile_borders, tile_grid
from studio.core.upscale import UpscalerKind, make_request, normalize_source
from studio.engine.runner import JobCancelled, JobControl
from studio.engine.upscale_job import upscale_image
from studio.engine.upscalers import Upscaler, load_upscaler
from tests.engine_helpers import running_worker
from tests.test_engine import Recorder
from tests.upscale_helpers import build_tiny_sr, noise_image


@pytest.fixture(scope="module")
def sr_dir(tmp_path_factory: pytest.TempPathFactory):
    return build_tiny_sr(tmp_path_factory.mktemp("sr"))


def _sr_request(image: Image.Image, sr_dir, **kw):
    return make_request(image, kind=UpscalerKind.SR, model_path=str(sr_dir), **kw)


def _run(request, control: JobControl | None = None, on_progress=None) -> Image.Image:
    request.validate()
    upscaler = load_upscaler(request, {})
    return upscale_image(request, upscaler, control or JobControl(), on_progress, max_fps=0)


# ----- tiling math ------------------------------------------------------------------------
def test_tiles_cover_the_image_and_the_last_tile_is_flush():
    assert axis_starts(100, 40, 10) == [0, 30, 60]
    assert axis_starts(30, 40, 10) == [0]
    tiles = tile_grid(100, 50, 40, 10)
    assert len(tiles) == 3 * 2
    covered = np.zeros((50, 100), bool)
    for t in tiles:
        covered[t.y:t.y + t.height, t.x:t.x + t.width] = True
    assert covered.all()


def test_mirrored_ramps_sum_to_one_across_an_overlap():
    overlap = 16
    left = ramp(48, overlap, lead=False, trail=True)
    right = ramp(48, overlap, lead=True, trail=False)
    # tiles at 0 and 32: the overlap is columns 32..47
    total = left[32:] + right[:overlap]
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    assert left[-1] == 0.0 and right[0] == 0.0  # the outer margin never counts


def test_blender_with_constant_tiles_reproduces_the_constant():
    blender = TileBlender(60, 40, band_height=24)
    for t in tile_grid(60, 40, 24, 8):
        w = ramp(t.width, 8, not t.first_col, not t.last_col)
        h = ramp(t.height, 8, not t.first_row, not t.last_row)
        blender.add(t.x, t.y, np.full((t.height, t.width, 3), 0.5, np.float32), h[:, None] * w)
    out = blender.finish()
    assert out.shape == (40, 60, 3) and (out == 128).all()


# ----- upscaling --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [UpscalerKind.SR, UpscalerKind.LANCZOS])
@pytest.mark.parametrize("scale", [2, 4])
def test_exact_output_sizes(sr_dir, kind, scale):
    image = noise_image(37, 21)
    out = _run(make_request(image, kind=kind, model_path=str(sr_dir), scale=scale, tile=32,
                            overlap=8))
    assert out.size == (37 * scale, 21 * scale) and out.mode == "RGB"


def test_tiled_agrees_with_single_pass(sr_dir):
    image = noise_image(128, 96, seed=1)
    single = np.asarray(_run(_sr_request(image, sr_dir, scale=2, tile=256, overlap=0)), float)
    tiled = np.asarray(_run(_sr_request(image, sr_dir, scale=2, tile=48, overlap=12)), float)
    assert tiled.shape == single.shape
    assert np.abs(tiled - single).mean() < 0.1
    assert np.abs(tiled - single).max() <= 4


def test_seam_metric_stays_flat_at_tile_borders(sr_dir):
    image = noise_image(128, 96, seed=2)
    borders = (tile_borders(128, 48, 12, 2), tile_borders(96, 48, 12, 2))
    blended = np.asarray(_run(_sr_request(image, sr_dir, scale=2, tile=48, overlap=12)))
    single = np.asarray(_run(_sr_request(image, sr_dir, scale=2, tile=256, overlap=0)))
    hard = np.asarray(_run(_sr_request(image, sr_dir, scale=2, tile=48, overlap=0)))
    hard_borders = (tile_borders(128, 48, 0, 2), tile_borders(96, 48, 0, 2))
    blended_ratio = seam_ratio(blended, *borders, phase=2)
    assert 0.9 < blended_ratio < 1.1
    assert abs(blended_ratio - seam_ratio(single, *borders, phase=2)) < 0.05
    # the metric does see seams: cutting hard tiles with this model moves it further from 1
    assert abs(seam_ratio(hard, *hard_borders, phase=2) - 1) > abs(blended_ratio - 1)


def test_progress_counts_tiles_and_previews_show_the_output_so_far(sr_dir):
    image = noise_image(100, 60)
    request = _sr_request(image, sr_dir, scale=2, tile=48, overlap=8)
    seen: list[tuple[int, int]] = []
    last: list[np.ndarray] = []

    def on_progress(step, total, preview):
        seen.append((step, total))
        last[:] = [preview]

    out = _run(request, on_progress=on_progress)
    count = request.tile_count()
    assert seen == [(i, count) for i in range(1, count + 1)]
    assert last[0].shape == (120, 200, 3)  # small outputs preview at full size
    assert np.abs(last[0].astype(int) - np.asarray(out).astype(int)).max() <= 1


def test_cancel_between_tiles_raises_and_leaves_the_source_untouched(sr_dir):
    image = noise_image(100, 60)
    request = _sr_request(image, sr_dir, scale=2, tile=48, overlap=8)
    before = request.image
    control = JobControl()
    steps: list[int] = []

    def on_progress(step, total, preview):
        steps.append(step)
        if step == 2:
            control.cancel.set()

    with pytest.raises(JobCancelled):
        _run(request, control, on_progress)
    assert steps == [1, 2] and request.image == before
    assert np.array_equal(np.asarray(image), np.asarray(noise_image(100, 60)))


def test_alpha_is_kept_and_upscaled(sr_dir):
    image = noise_image(30, 20, mode="RGBA")
    out = _run(_sr_request(image, sr_dir, scale=2))
    assert out.mode == "RGBA" and out.size == (60, 40)
    alpha = np.asarray(out)[..., 3].astype(int)
    assert alpha[:, 0].mean() < 20 and alpha[:, -1].mean() > 235  # the ramp survives


def test_one_pixel_image_upscales(sr_dir):
    image = Image.new("RGB", (1, 1), (200, 30, 90))
    out = _run(_sr_request(image, sr_dir, scale=4))
    assert out.size == (4, 4)
    mean = np.asarray(out).reshape(-1, 3).mean(axis=0)
    assert np.abs(mean - [200, 30, 90]).max() < 40  # random detail on top of the colour


@pytest.mark.parametrize("mode", ["L", "P", "I;16", "LA", "1", "CMYK"])
def test_other_modes_are_converted(mode):
    base = noise_image(16, 12).convert("RGB")
    if mode == "I;16":
        image = Image.fromarray(np.asarray(base.convert("L")).astype(np.uint16) * 257)
        assert image.mode.startswith("I;16")
    else:
        image = base.convert(mode)
    rgb, alpha = normalize_source(image)
    assert rgb.mode == "RGB" and rgb.size == (16, 12)
    assert alpha is None  # no alpha, or a fully opaque one, is dropped
    if mode == "I;16":  # 16-bit is scaled down, not clipped to white
        np.testing.assert_allclose(np.asarray(rgb)[..., 0], np.asarray(base.convert("L")),
                                   atol=1)


def test_huge_output_is_refused_with_a_reason():
    request = make_request(Image.new("RGB", (4, 4)), kind=UpscalerKind.LANCZOS)
    huge = type(request)(request.image, 8000, 8000, kind=UpscalerKind.LANCZOS, scale=4)
    with pytest.raises(ValueError, match="32000x32000"):
        huge.validate()
    type(request)(request.image, 8000, 8000, kind=UpscalerKind.LANCZOS, scale=2).validate()


def test_missing_sr_model_says_what_to_do(tmp_path):
    from studio.engine.pipelines import ModelLoadError

    request = make_request(Image.new("RGB", (8, 8)), kind=UpscalerKind.SR,
                           model_path=str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError, match="missing"):
        load_upscaler(request, {})


def test_model_file_without_spandrel_is_a_clear_error(tmp_path):
    from studio.engine.pipelines import ModelLoadError

    pytest.importorskip("torch")
    try:
        import spandrel  # noqa: F401
        pytest.skip("spandrel is installed")
    except ImportError:
        pass
    request = make_request(Image.new("RGB", (8, 8)), kind=UpscalerKind.SPANDREL,
                           model_path=str(tmp_path / "x.pth"))
    with pytest.raises(ModelLoadError, match="spandrel"):
        load_upscaler(request, {})


def test_lanczos_baseline_is_the_base_class():
    assert Upscaler().name == "Lanczos"


# ----- through the engine -------------------------------------------------------------------
@pytest.fixture
def engine(tmp_path):
    recorder = Recorder()
    with running_worker(recorder, tmp_path / "outputs") as (worker, _ctx):
        yield worker, recorder


def test_engine_job_saves_with_infotext_then_reports(engine, sr_dir):
    worker, rec = engine
    request = _sr_request(noise_image(50, 40), sr_dir, scale=2, tile=32, overlap=8,
                          source_name="noise.png")
    job = worker.submit(request)
    rec.wait()
    kinds = rec.kinds(job)
    assert kinds[0] == "started" and kinds[-2:] == ["result", "finished"]
    assert kinds.count("preview") == request.tile_count()
    result = [e for e in rec.events if e[0] == "result"][0][2]
    assert result.image.size == (100, 80) and result.path.is_file()
    params = parse_infotext(read_parameters(result.path))
    assert params["Upscaler"] == "tiny-sr" and params["Scale"] == "2"
    assert params["Tile"] == "32" and params["Overlap"] == "8" and params["Size"] == "100x80"


def test_engine_cancel_mid_image_emits_cancelled_and_no_result(engine, sr_dir):
    worker, rec = engine
    gate = threading.Event()
    rec.on_preview = lambda job_id, step: step == 1 and (worker.cancel(job_id), gate.set())
    job = worker.submit(_sr_request(noise_image(120, 90), sr_dir, scale=2, tile=32, overlap=8))
    rec.wait()
    assert gate.is_set()
    kinds = rec.kinds(job)
    assert kinds[-1] == "cancelled" and "result" not in kinds
    assert kinds.count("preview") == 1


def test_engine_reports_a_missing_model_and_keeps_serving(engine, sr_dir, tmp_path):
    worker, rec = engine
    rec.expected_final = 2
    bad = worker.submit(_sr_request(noise_image(8, 8), tmp_path / "missing"))
    good = worker.submit(_sr_request(noise_image(8, 8), sr_dir, scale=2))
    rec.wait()
    failed = [e for e in rec.events if e[0] == "failed"]
    assert failed and failed[0][1] == bad and "missing" in failed[0][2]
    assert rec.kinds(good)[-1] == "finished"


# ----- diffusion super-resolution (tiny random SD x4 upscaler) -----------------------------
@pytest.fixture(scope="module")
def sd_x4_dir(tmp_path_factory: pytest.TempPathFactory):
    from tests.upscale_helpers import build_tiny_sd_x4

    return build_tiny_sd_x4(tmp_path_factory.mktemp("x4"))


def _x4_request(sd_x4_dir, **kw):
    base = dict(kind=UpscalerKind.SD_X4, model_path=str(sd_x4_dir), steps=2, tile=32,
                overlap=8, scale=4, prompt="a texture", seed=3)
    return make_request(noise_image(50, 20), **{**base, **kw})


def test_sd_x4_reports_tile_and_step_and_is_reproducible(sd_x4_dir):
    request = _x4_request(sd_x4_dir)
    assert request.tile_count() == 2
    seen: list[tuple[int, int]] = []
    first = _run(request, on_progress=lambda s, t, p: seen.append((s, t)))
    assert first.size == (200, 80)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    again = _run(request)
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert _run(_x4_request(sd_x4_dir, scale=2)).size == (100, 40)


def test_sd_x4_cancel_between_steps(sd_x4_dir):
    control = JobControl()
    steps: list[int] = []

    def on_progress(step, total, preview):
        steps.append(step)
        control.cancel.set()

    with pytest.raises(JobCancelled):
        _run(_x4_request(sd_x4_dir, steps=5), control, on_progress)
    assert steps == [1]  # the legacy step callback raised at the next step


def test_a_re_exported_model_is_reloaded(tmp_path):
    import os

    folder = build_tiny_sr(tmp_path, seed=1)
    request = _sr_request(noise_image(8, 8), folder, scale=2)
    cache: dict = {}
    first = load_upscaler(request, cache).model
    assert load_upscaler(request, cache).model is first  # cached
    build_tiny_sr(tmp_path, seed=2)
    stamp = os.stat(folder / "model.safetensors").st_mtime + 10
    os.utime(folder / "model.safetensors", (stamp, stamp))
    assert load_upscaler(request, cache).model is not first


def test_float_memory_is_one_band_of_tiles_not_the_whole_output():
    from studio.core.tiling import upscale_tiled

    source = np.asarray(noise_image(40, 400))
    bands: list[tuple[int, ...]] = []

    def double(tile: np.ndarray) -> np.ndarray:
        return tile.repeat(2, axis=0).repeat(2, axis=1)

    out = upscale_tiled(source, double, 2, 32, 8,
                        after_tile=lambda i, n, t, blender: bands.append(blender.acc.shape))
    assert out.shape == (800, 80, 3) and out.dtype == np.uint8
    assert set(bands) == {(64, 80, 3)}  # float accumulator: 64 of 800 output rows
    assert np.array_equal(out, double(source.astype(np.float32) / 255 * 255).astype(np.uint8))


def test_spandrel_model_file_upscales_when_spandrel_is_installed(tmp_path):
    pytest.importorskip("spandrel")
    import torch
    from spandrel.architectures.ESRGAN import ESRGAN

    path = tmp_path / "tiny_esrgan.pth"
    torch.save(ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4).state_dict(),
               path)
    for scale in (4, 2):
        request = make_request(noise_image(50, 30), kind=UpscalerKind.SPANDREL,
                               model_path=str(path), scale=scale, tile=32, overlap=8)
        assert _run(request).size == (50 * scale, 30 * scale)


def test_balanced_auto_tiles_never_need_more_tiles():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from studio.core.tiling import auto_tile

    @settings(max_examples=200, deadline=None)
    @given(st.integers(1, 3000), st.integers(1, 3000), st.sampled_from([64, 128, 256]))
    def check(width, height, preferred):
        tile, overlap = auto_tile(width, height, preferred)
        plain, plain_overlap = auto_tile(width, height, preferred, balance=False)
        assert tile <= preferred and overlap == plain_overlap and 2 * overlap <= tile
        assert len(tile_grid(width, height, tile, overlap)) <= \
            len(tile_grid(width, height, plain, plain_overlap))

    check()


def test_previews_show_no_dark_fringe_around_unfinished_tiles():
    class Repeat(Upscaler):
        def upscale(self, tile, scale, control, on_step):
            return tile.repeat(scale, axis=0).repeat(scale, axis=1)

    gray = Image.new("RGB", (90, 70), (128, 128, 128))
    request = make_request(gray, kind=UpscalerKind.SR, model_path="x", scale=4, tile=32,
                           overlap=16)
    previews: list[np.ndarray] = []
    upscale_image(request, Repeat(), JobControl(), lambda s, t, p: previews.append(p), 0)
    assert len(previews) == request.tile_count() > 4
    for preview in previews:
        assert preview.shape == (280, 360, 3) and (preview == 128).all()


@pytest.mark.slow
def test_8000_square_source_upscales_2x_in_tiles():
    import resource

    class Repeat(Upscaler):
        def upscale(self, tile, scale, control, on_step):
            return tile.repeat(scale, axis=0).repeat(scale, axis=1)

    source = Image.new("RGB", (8000, 8000), (10, 200, 30))
    request = make_request(source, kind=UpscalerKind.SR, model_path="x", scale=2)
    request.validate()
    out = upscale_image(request, Repeat(), JobControl(), None, 0)
    assert out.size == (16000, 16000)
    assert out.getpixel((15999, 15999)) == (10, 200, 30)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    assert peak_gb < 4  # 0.77 GB of output pixels; a float canvas would be 3 GB alone
