"""Image-to-image and inpainting jobs: crop, process at the work size, paste back seamlessly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from PIL import Image

from studio.core.images import open_image
from studio.core.inpaint import (
    InpaintPlan,
    check_mask,
    grow_mask,
    mask_to_array,
    normalize_image,
    paste_back,
    plan_inpaint,
    work_size_for,
)
from studio.core.outpaint import extend_image, old_image_box, outpaint_mask
from studio.core.outputs import write_png_atomic
from studio.core.previews import RegionPreview
from studio.core.records import ImageResult, ResultSaver
from studio.core.requests import GenerateRequest, JobKind
from studio.engine.runner import JobControl

# (extended image, new-area mask, model file) -> the image with the new area painted
ModelFillFn = Callable[[Image.Image, np.ndarray, str], Image.Image]


class EditJob:
    """Prepared inputs of one img2img/inpaint request."""

    def __init__(self, request: GenerateRequest, vae_factor: int,
                 model_fill: ModelFillFn | None = None) -> None:
        self.request = request
        self.model_fill = model_fill
        self.source = normalize_image(open_image(request.init_image, "image"))  # type: ignore[arg-type]
        w, h = self.source.size
        self.mask: np.ndarray | None = None
        if request.kind is JobKind.INPAINT:
            mask = self._outpaint() if request.is_outpaint else mask_to_array(
                open_image(request.mask_image, "mask"), (w, h))  # type: ignore[arg-type]
            check_mask(mask)
            self.mask = mask
            self.plan = plan_inpaint(mask, request.only_masked, request.mask_padding,
                                     request.work_resolution)
        else:
            self.plan = InpaintPlan((0, 0, w, h), work_size_for((w, h), request.work_resolution))
        self.work_init = self.source.crop(self.plan.box).resize(self.plan.work_size,
                                                                Image.Resampling.LANCZOS)
        self.work_mask = self._work_mask(vae_factor)

    def _outpaint(self) -> np.ndarray:
        """Extend the source (pre-filled) and return the generated mask of the new canvas."""
        sides, size = self.request.outpaint_sides, self.source.size
        self.source = extend_image(self.source, sides, self.request.outpaint_fill,
                                   self.request.seed)
        if self.request.outpaint_fill == "model":
            if self.model_fill is None:
                raise ValueError("this engine has no inpainting model fill")
            new_area = np.ones((self.source.height, self.source.width), bool)
            left, top, right, bottom = old_image_box(size, sides)
            new_area[top:bottom, left:right] = False
            self.source = self.model_fill(self.source, new_area, self.request.outpaint_fill_model)
        return outpaint_mask(size, sides)

    def _work_mask(self, vae_factor: int) -> Image.Image | None:
        if self.mask is None:
            return None
        box = self.plan.box
        crop = Image.fromarray(self.mask[box[1]:box[3], box[0]:box[2]])
        small = np.asarray(crop.resize(self.plan.work_size, Image.Resampling.BILINEAR))
        return Image.fromarray(grow_mask(np.where(small > 32, 255, 0).astype(np.uint8),
                                         vae_factor))

    def region_preview(self, rgb: np.ndarray) -> RegionPreview:
        """The x0 preview of the work area, masked (alpha) when inpainting."""
        h, w = rgb.shape[:2]
        alpha = np.full((h, w), 255, np.uint8)
        if self.work_mask is not None:
            alpha = np.asarray(self.work_mask.resize((w, h), Image.Resampling.BILINEAR))
        return RegionPreview(np.dstack([rgb, alpha]), self.plan.box)

    def finish(self, generated: Image.Image) -> Image.Image:
        if self.mask is None:
            return generated.resize(self.source.size, Image.Resampling.LANCZOS)
        return paste_back(self.source, generated, self.mask, self.plan.box,
                          self.request.mask_blur)


def run_edit(job_id: int, request: GenerateRequest, ctx, control: JobControl,  # noqa: ANN001
             events, saver: ResultSaver) -> list[ImageResult]:
    """Every image of an img2img/inpaint batch: process, paste back, save (+ mask), report."""
    from studio.engine.batch import run_batch

    pipe = ctx.cache.get(request.model_path, request.kind)
    job = EditJob(request, getattr(pipe, "vae_scale_factor", 8), _model_fill(ctx))
    request = replace(request, width=job.source.width, height=job.source.height)

    def render(single: GenerateRequest, on_preview: Callable) -> tuple:
        def on_region(step: int, total: int, rgb: np.ndarray) -> None:
            on_preview(step, total, job.region_preview(rgb))

        output = ctx.generation.run_one(single, control, on_region, job.work_init,
                                        job.work_mask, on_status=events.engine_status)
        return job.finish(output.image), output

    def save_mask(result: ImageResult) -> None:
        if result.path is not None and job.mask is not None:
            write_png_atomic(Image.fromarray(job.mask), result.path.with_suffix(".mask.png"),
                             None)

    return run_batch(job_id, request, events, saver, render, save_mask)


def _model_fill(ctx) -> ModelFillFn:  # noqa: ANN001
    """The context's inpainting-model pre-fill (the model stays loaded between jobs)."""
    from studio.engine.prefill import ModelFill

    return ctx.caches.setdefault("outpaint_fill", ModelFill(ctx.plan.device))  # as "upscale"
