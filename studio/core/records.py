"""Finished images: their parameters, infotext and the save-before-show step."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from studio import __version__
from studio.core.infotext import format_infotext
from studio.core.lora import lora_hashes_for
from studio.core.outpaint import describe as describe_outpaint
from studio.core.outputs import OutputFolder
from studio.core.requests import GenerateRequest, JobKind

HIRES_UPSCALER = "Lanczos"  # how the first pass's image is enlarged for the second


@dataclass(frozen=True)
class ImageResult:
    """One finished image: saved (path) or not (save_error), with its infotext."""

    job_id: int
    index: int
    image: Image.Image
    request: object  # the frozen request that produced it (GenerateRequest, …)
    infotext: str
    path: Path | None
    save_error: str | None = None
    steps_done: int | None = None
    upscaled_by: int = 1  # > 1: the cascade's upscaled copy of the image before it


def infotext_for(request: GenerateRequest, steps_done: int | None = None,
                 upscaler_name: str | None = None) -> str:
    """A1111 infotext for a single-image request (`upscaler_name`: its upscaled copy)."""
    model = request.model_name or Path(request.model_path).name
    params: dict[str, object] = {
        "Steps": request.steps,
        "Sampler": request.scheduler,
        "CFG scale": request.guidance,
        "Seed": request.seed,
        "Size": f"{request.width}x{request.height}",
        "Model": model,
    }
    if request.kind is not JobKind.TXT2IMG:
        params["Denoising strength"] = request.strength
        params["Mode"] = request.kind.value
    if request.hires:
        params.update(_hires_params(request))
    if steps_done is not None and steps_done < request.steps:
        params["Stopped at step"] = steps_done
    elif steps_done is not None and request.hires:  # stopped in the second pass
        params["Hires stopped at step"] = steps_done - request.steps
    if request.kind is JobKind.INPAINT:
        params["Mask blur"] = f"{request.mask_blur:g}"
        params["Inpaint area"] = "Only masked" if request.only_masked else "Whole picture"
        params["Masked area padding"] = request.mask_padding
        if request.is_outpaint:
            params["Outpaint"] = describe_outpaint(request.outpaint_sides, request.outpaint_fill,
                                                   request.outpaint_fill_model)
    if request.kind is not JobKind.TXT2IMG:
        params["Work resolution"] = request.work_resolution
    if upscaler_name is not None:  # A1111's keys for an upscaled ("extras") copy
        params["Postprocess upscale by"] = request.upscale_by
        params["Postprocess upscaler"] = upscaler_name
    params["Lora hashes"] = lora_hashes_for(request.prompt, request.model_path)  # None: none
    params["Version"] = f"studio {__version__}"
    return format_infotext(request.prompt, request.negative_prompt, params)


def _hires_params(request: GenerateRequest) -> dict[str, object]:
    """A1111's Hires. fix keys; `Size` stays the first pass's size, as A1111 writes it."""
    params: dict[str, object] = {"Denoising strength": request.hires_strength,
                                 "Hires upscale": f"{request.hires_scale:g}"}
    if request.hires_steps:
        params["Hires steps"] = request.hires_steps
    params["Hires upscaler"] = HIRES_UPSCALER
    return params


class ResultSaver:
    """Writes every finished image (atomically, with infotext) before anyone shows it."""

    def __init__(self, outputs: OutputFolder) -> None:
        self.outputs = outputs

    def save(self, job_id: int, index: int, image: Image.Image, request: GenerateRequest,
             steps_done: int | None = None) -> ImageResult:
        infotext = infotext_for(request, steps_done)
        return self.save_with_infotext(job_id, index, image, request, infotext,
                                       f"{request.seed}", steps_done)

    def save_with_infotext(self, job_id: int, index: int, image: Image.Image, request: object,
                           infotext: str, stem: str, steps_done: int | None = None
                           ) -> ImageResult:
        """Save any job's image under a unique name ending in `stem`; errors become data."""
        try:
            path: Path | None = self.outputs.save(image, infotext, stem)
            error = None
        except OSError as exc:
            path, error = None, f"Could not save to {self.outputs.root}: {exc.strerror or exc}"
        return ImageResult(job_id, index, image, request, infotext, path, error, steps_done)

    def save_upscaled(self, base: ImageResult, image: Image.Image, request: GenerateRequest,
                      upscaler_name: str) -> ImageResult:
        """The cascade's upscaled copy of `base`, with the generation parameters."""
        infotext = infotext_for(request, base.steps_done, upscaler_name)
        result = self.save_with_infotext(base.job_id, base.index, image, request, infotext,
                                         f"{request.seed}-x{request.upscale_by}",
                                         base.steps_done)
        return replace(result, upscaled_by=request.upscale_by)
