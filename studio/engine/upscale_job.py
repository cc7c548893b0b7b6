"""The upscale job: tile by tile, cancellable, previews in place, saved before shown."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from studio.core.records import ImageResult, ResultSaver
from studio.core.tiling import Tile, TileBlender, upscale_tiled
from studio.core.upscale import UpscaleRequest, UpscalerKind, decode_source, upscale_infotext
from studio.engine.runner import JobCancelled, JobControl
from studio.engine.upscalers import Upscaler, load_upscaler

# (step, total, preview HxWx3 uint8 or None): step counts over all tiles (x steps per tile)
ProgressFn = Callable[[int, int, "np.ndarray | None"], None]
PREVIEW_SIDE = 1024  # previews are at most this long: cheap to send, the canvas scales them


class _Progress:
    """Turns tile/step events into (step, total, preview) reports at a bounded rate."""

    def __init__(self, request: UpscaleRequest, base: np.ndarray, on_progress: ProgressFn | None,
                 max_fps: float) -> None:
        self.per_tile = request.steps_per_tile()
        self.total = request.tile_count() * self.per_tile
        self.on_progress = on_progress
        self.min_interval = 1.0 / max_fps if max_fps > 0 else 0.0
        self.last = -float("inf")
        self.tile_index = 0
        out_w, out_h = request.output_width, request.output_height
        self.factor = min(1.0, PREVIEW_SIDE / max(out_w, out_h))
        self.size = (max(1, round(out_w * self.factor)), max(1, round(out_h * self.factor)))
        self.preview = np.asarray(Image.fromarray(base).resize(self.size,
                                                               Image.Resampling.BILINEAR)).copy()

    def step(self, step: int, _total: int) -> None:
        if step < self.per_tile:  # the tile's last step is reported with its pixels
            self._emit(self.tile_index * self.per_tile + step, self.preview)

    def tile_done(self, index: int, tile: Tile, blender: TileBlender, scale: int) -> None:
        self.tile_index = index + 1
        if self.on_progress is None:
            return
        self._paste(tile, blender, scale)
        self._emit(self.tile_index * self.per_tile, self.preview, force=True)

    def _paste(self, tile: Tile, blender: TileBlender, scale: int) -> None:
        """Copy the tile's region of the output-so-far into the preview, in place."""
        x0, y0 = tile.x * scale, tile.y * scale
        x1, y1 = x0 + tile.width * scale, y0 + tile.height * scale
        view, known = blender.peek_region(x0, y0, x1, y1)
        px0, py0 = int(x0 * self.factor), int(y0 * self.factor)
        px1 = max(px0 + 1, min(self.size[0], round(x1 * self.factor)))
        py1 = max(py0 + 1, min(self.size[1], round(y1 * self.factor)))
        size = (px1 - px0, py1 - py0)
        small = np.asarray(Image.fromarray(view).resize(size, Image.Resampling.BILINEAR))
        # pixels no tile has weighted yet (a tile's outer margin) keep the source preview
        # (and so do pixels whose filter footprint touched such a pixel: no dark fringe)
        weight = Image.fromarray(known.astype(np.uint8) * 255).resize(
            size, Image.Resampling.BILINEAR)
        mask = np.asarray(weight) == 255
        region = self.preview[py0:py1, px0:px1]
        region[mask] = small[mask]

    def _emit(self, step: int, preview: np.ndarray | None, force: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.perf_counter()
        if force or now - self.last >= self.min_interval:
            self.on_progress(step, self.total, None if preview is None else preview.copy())
            self.last = now


def upscale_image(request: UpscaleRequest, upscaler: Upscaler, control: JobControl,
                  on_progress: ProgressFn | None = None, max_fps: float = 15.0) -> Image.Image:
    """Upscale the request's source; raises JobCancelled (source untouched) when cancelled."""
    rgb, alpha = decode_source(request.image)
    source = np.asarray(rgb)
    out_size = (request.output_width, request.output_height)
    progress = _Progress(request, source, on_progress, max_fps)
    if request.kind is UpscalerKind.LANCZOS:
        _check(control)
        result = rgb.resize(out_size, Image.Resampling.LANCZOS)
        if on_progress is not None:
            on_progress(1, 1, np.asarray(result.resize(progress.size)))
    else:
        tile, overlap = request.tiling()

        def before(index: int, count: int, t: Tile) -> None:
            _check(control)
            progress.tile_index = index

        def after(index: int, count: int, t: Tile, blender: TileBlender) -> None:
            progress.tile_done(index, t, blender, request.scale)

        def fn(crop: np.ndarray) -> np.ndarray:
            return upscaler.run(crop, request.scale, control, progress.step)

        array = upscale_tiled(source, fn, request.scale, tile, overlap, before, after)
        _check(control)
        result = Image.fromarray(array, "RGB")
    if alpha is not None:
        result.putalpha(alpha.resize(out_size, Image.Resampling.LANCZOS))
    return result


def _check(control: JobControl) -> None:
    if control.cancel.is_set():
        raise JobCancelled()


def run_upscale(job_id: int, request: UpscaleRequest, ctx, control: JobControl,  # noqa: ANN001
                events, saver: ResultSaver) -> list[ImageResult]:
    """Engine handler: load (cached), upscale with previews, save with infotext, report."""
    cache = ctx.caches.setdefault("upscale", {})
    upscaler = load_upscaler(request, cache, getattr(ctx.plan, "device", "cpu"))

    def on_progress(step: int, total: int, preview: np.ndarray | None) -> None:
        if preview is not None:
            events.job_preview(job_id, step, total, preview)

    image = upscale_image(request, upscaler, control, on_progress)
    infotext = upscale_infotext(request, upscaler.name)
    result = saver.save_with_infotext(job_id, 0, image, request, infotext,
                                      f"upscale-x{request.scale}")
    events.job_result(result)
    return [result]
