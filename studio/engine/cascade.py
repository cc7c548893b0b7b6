"""Text-to-image then super-resolution in one job (Imagen-style cascade)."""

from __future__ import annotations

from studio.core.records import ImageResult, ResultSaver
from studio.core.requests import GenerateRequest
from studio.core.upscale import make_request
from studio.core.upscaler_catalog import UpscalerChoice, resolve_upscaler
from studio.engine.runner import JobControl
from studio.engine.upscale_job import upscale_image
from studio.engine.upscalers import load_upscaler


class Cascade:
    """Upscales each saved txt2img result by `request.upscale_by` with the chosen upscaler."""

    def __init__(self, request: GenerateRequest, ctx, control: JobControl,  # noqa: ANN001
                 saver: ResultSaver) -> None:
        self.choice: UpscalerChoice = resolve_upscaler(request.upscaler or None)
        if not self.choice.available:
            raise ValueError(f"upscaler {self.choice.name} is not available: {self.choice.note}")
        self.ctx, self.control, self.saver = ctx, control, saver

    def upscale(self, single: GenerateRequest, base: ImageResult) -> ImageResult:
        source_name = base.path.name if base.path else ""
        request = make_request(base.image, kind=self.choice.kind, model_path=self.choice.path,
                               model_name=self.choice.name, scale=single.upscale_by,
                               prompt=single.prompt, seed=single.seed, source_name=source_name)
        cache = self.ctx.caches.setdefault("upscale", {})
        upscaler = load_upscaler(request, cache, getattr(self.ctx.plan, "device", "cpu"))
        image = upscale_image(request, upscaler, self.control, None)
        return self.saver.save_upscaled(base, image, single, upscaler.name)
