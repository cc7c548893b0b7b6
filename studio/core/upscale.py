"""Upscale jobs as plain data: the frozen request, source normalisation, infotext."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from PIL import Image

from studio import __version__
from studio.core.images import open_image, plain_mode
from studio.core.infotext import format_infotext, parse_infotext
from studio.core.tiling import auto_tile, tile_grid

MAX_OUTPUT_PIXELS = 16384 * 16384  # 268 MP: ~0.8 GB of RGB output, still bounded
MAX_SIDE = 65500  # PNG and PIL stay happy below this
PREVIEW_DISPLAY_SIDE = 4096


class UpscalerKind(StrEnum):
    SR = "sr"  # the embedded residual SR CNN (resources/models/sr-residual)
    SD_X4 = "sd-x4"  # a Stable Diffusion x4 upscaler diffusers folder
    SPANDREL = "spandrel"  # an upscaler model file loaded by the optional `spandrel` package
    LANCZOS = "lanczos"  # the baseline: no model

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def diffusion(self) -> bool:
        return self is UpscalerKind.SD_X4

    @property
    def preferred_tile(self) -> int:
        """Default tile edge in source pixels (SD x4 works on small latents: 128 → 512)."""
        return {UpscalerKind.SD_X4: 128, UpscalerKind.SPANDREL: 256}.get(self, 256)


_LABELS = {
    UpscalerKind.SR: "Residual SR",
    UpscalerKind.SD_X4: "SD x4 upscaler",
    UpscalerKind.SPANDREL: "Model file",
    UpscalerKind.LANCZOS: "Lanczos",
}


@dataclass(frozen=True)
class UpscaleRequest:
    """Everything an upscale job needs; `image` is the source encoded as PNG bytes."""

    image: bytes = field(repr=False)
    source_width: int
    source_height: int
    kind: UpscalerKind = UpscalerKind.SR
    model_path: str = ""
    model_name: str = ""
    scale: int = 4
    tile: int = 0  # 0: automatic
    overlap: int = -1  # -1: automatic
    steps: int = 20
    noise_level: int = 20
    guidance: float = 7.0
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    source_name: str = ""
    source_infotext: str = ""  # the source image's generation parameters, carried over

    @property
    def output_width(self) -> int:
        return self.source_width * self.scale

    @property
    def output_height(self) -> int:
        return self.source_height * self.scale

    @property
    def width(self) -> int:
        """The size live previews are shown at: the output's, at most 4096 px long."""
        return self._display_size()[0]

    @property
    def height(self) -> int:
        return self._display_size()[1]

    def _display_size(self) -> tuple[int, int]:
        factor = min(1.0, PREVIEW_DISPLAY_SIDE / max(self.output_width, self.output_height))
        return (max(1, round(self.output_width * factor)),
                max(1, round(self.output_height * factor)))

    def validate(self) -> None:
        """Raise ValueError with a user-facing message when the job cannot run."""
        if self.scale not in (2, 4):
            raise ValueError(f"scale must be 2 or 4 (got {self.scale})")
        if self.source_width < 1 or self.source_height < 1 or not self.image:
            raise ValueError("the source image is empty")
        out_w, out_h = self.output_width, self.output_height
        out_pixels = out_w * out_h
        if out_pixels > MAX_OUTPUT_PIXELS or max(out_w, out_h) > MAX_SIDE:
            raise ValueError(
                f"the output would be {out_w}x{out_h} "
                f"({out_pixels / 1e6:.0f} MP); the limit is {MAX_OUTPUT_PIXELS / 1e6:.0f} MP "
                f"(16384x16384). Choose scale 2 or crop the image."
            )
        if self.tile and not 32 <= self.tile <= 2048:
            raise ValueError(f"tile size must be between 32 and 2048 px (got {self.tile})")
        tile, overlap = self.tiling()
        if overlap < 0 or overlap * 2 > tile:
            raise ValueError(f"overlap must be between 0 and half the tile ({tile // 2})")
        if self.kind is not UpscalerKind.LANCZOS and not self.model_path:
            raise ValueError(f"{self.kind.label} needs a model; none was chosen")
        if self.kind.diffusion and not 1 <= self.steps <= 500:
            raise ValueError(f"steps must be between 1 and 500 (got {self.steps})")
        if self.kind.diffusion and not 0 <= self.noise_level <= 350:
            raise ValueError(f"noise level must be between 0 and 350 (got {self.noise_level})")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be between 0 and {2**32 - 1} (got {self.seed})")

    def tiling(self) -> tuple[int, int]:
        """(tile, overlap) in source pixels, resolving the automatic values."""
        preferred = self.tile or self.kind.preferred_tile
        overlap = None if self.overlap < 0 else self.overlap
        if self.tile and overlap is None:
            overlap = max(8, self.tile // 8)
        return auto_tile(self.source_width, self.source_height, preferred, overlap,
                         balance=not self.tile)

    def tile_count(self) -> int:
        if self.kind is UpscalerKind.LANCZOS:
            return 1
        tile, overlap = self.tiling()
        return len(tile_grid(self.source_width, self.source_height, tile, overlap))

    def steps_per_tile(self) -> int:
        return self.steps if self.kind.diffusion else 1


def make_request(image: Image.Image, **fields: object) -> UpscaleRequest:
    """An UpscaleRequest for a PIL image (encoded losslessly as PNG)."""
    image = plain_mode(image)  # CMYK, 16-bit, …: PNG cannot hold every mode
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return UpscaleRequest(buffer.getvalue(), image.width, image.height, **fields)  # type: ignore[arg-type]


def normalize_source(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """(RGB image, alpha or None) for any PIL mode: palette, grayscale, 16-bit, CMYK, alpha."""
    image = plain_mode(image)
    alpha = None
    if image.mode in ("RGBA", "LA"):
        alpha = image.getchannel("A")
        if alpha.getextrema() == (255, 255):
            alpha = None
    return image.convert("RGB"), alpha


def open_source(path: str | Path) -> Image.Image:
    """An image file as loaded pixels, upright by its EXIF orientation, in RGB/RGBA/L/LA.

    Raises ImageReadError (an OSError and a ValueError) naming the file and the reason:
    unreadable, truncated, or larger than 8192×8192.
    """
    return open_image(path, "input image")


def decode_source(data: bytes) -> tuple[Image.Image, Image.Image | None]:
    return normalize_source(open_image(data, "source image"))


def upscale_infotext(request: UpscaleRequest, upscaler_name: str) -> str:
    """A1111-style infotext: prompt line (SD x4 only), then the upscale parameters.

    With `source_infotext` the source's prompt and parameters are kept and A1111's
    `Postprocess upscale by` / `Postprocess upscaler` keys added, as for the cascade's copy.
    """
    if request.source_infotext.strip():
        return _merged_infotext(request, upscaler_name)
    tile, overlap = request.tiling()
    params: dict[str, object] = {"Upscaler": upscaler_name, "Scale": request.scale}
    if request.kind is not UpscalerKind.LANCZOS:
        params.update({"Tile": tile, "Overlap": overlap})
    if request.kind.diffusion:
        params.update({"Steps": request.steps, "Noise level": request.noise_level,
                       "CFG scale": request.guidance, "Seed": request.seed})
    params["Size"] = f"{request.output_width}x{request.output_height}"
    params["Source size"] = f"{request.source_width}x{request.source_height}"
    if request.source_name:
        params["Source"] = request.source_name
    params["Version"] = f"studio {__version__}"
    prompt = request.prompt if request.kind.diffusion else ""
    negative = request.negative_prompt if request.kind.diffusion else ""
    return format_infotext(prompt, negative, params)


def _merged_infotext(request: UpscaleRequest, upscaler_name: str) -> str:
    source = parse_infotext(request.source_infotext)
    prompt, negative = source.pop("Prompt", ""), source.pop("Negative prompt", "")
    params: dict[str, object] = {k: v for k, v in source.items() if k != "Version"}
    params["Postprocess upscale by"] = request.scale * _earlier_factor(params)
    params["Postprocess upscaler"] = upscaler_name
    if request.kind.diffusion:  # the upscaler's own sampling, beside the source's
        params.update({"Postprocess steps": request.steps,
                       "Postprocess noise level": request.noise_level,
                       "Postprocess CFG scale": request.guidance,
                       "Postprocess seed": request.seed,
                       "Postprocess prompt": request.prompt or None})
    params["Version"] = f"studio {__version__}"
    return format_infotext(prompt, negative, params)


def _earlier_factor(params: dict[str, object]) -> int:
    """An upscaled source's own factor (so that ×4 of a ×2 copy reads 8), else 1."""
    try:
        return max(1, int(float(str(params.get("Postprocess upscale by", 1)))))
    except ValueError:
        return 1
