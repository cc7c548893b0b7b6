"""Text-to-image then super-resolution (Imagen-style cascade), for the engine and the CLI."""

from __future__ import annotations

from PIL import Image

from studio.core.requests import GenerateRequest
from studio.core.upscale import make_request
from studio.core.upscaler_catalog import UpscalerChoice, resolve_upscaler
from studio.engine.runner import JobControl
from studio.engine.upscale_job import upscale_image
from studio.engine.upscalers import load_upscaler


class Cascade:
    """Upscales generated images by `request.upscale_by` with the request's upscaler.

    Built before generating, so a missing upscaler fails the job before any work is done.
    """

    def __init__(self, request: GenerateRequest, cache: dict, device: str,
                 control: JobControl) -> None:
        self.choice: UpscalerChoice = resolve_upscaler(request.upscaler or None)
        if not self.choice.available:
            raise ValueError(f"upscaler {self.choice.name} is not available: {self.choice.note}")
        self.cache, self.device, self.control = cache, device, control

    def upscale(self, single: GenerateRequest, image: Image.Image, source_name: str = ""
                ) -> tuple[Image.Image, str]:
        """(upscaled image, upscaler name); raises JobCancelled when cancelled."""
        request = make_request(image, kind=self.choice.kind, model_path=self.choice.path,
                               model_name=self.choice.name, scale=single.upscale_by,
                               prompt=single.prompt, seed=single.seed, source_name=source_name)
        upscaler = load_upscaler(request, self.cache, self.device)
        return upscale_image(request, upscaler, self.control, None), upscaler.name
