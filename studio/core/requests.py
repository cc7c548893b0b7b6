"""Frozen job requests, snapshotted on the GUI thread and handed to the engine."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum

from studio.core.outpaint_sides import Sides, check_outpaint

SCHEDULER_NAMES: tuple[str, ...] = (
    "Euler a",
    "Euler",
    "DDIM",
    "DDPM",
    "DPM++ 2M",
    "DPM++ 2M Karras",
    "DPM++ 2M SDE",
    "DPM++ 2M SDE Karras",
    "UniPC",
    "LCM",
)


MAX_HIRES_SCALE = 4.0


def hires_side(side: int, scale: float) -> int:
    """One side of the Hires. fix size: side × scale rounded to a multiple of 8."""
    return max(8, round(side * scale / 8) * 8)


class JobKind(StrEnum):
    TXT2IMG = "txt2img"
    IMG2IMG = "img2img"
    INPAINT = "inpaint"


@dataclass(frozen=True)
class GenerateRequest:
    """Everything a text-to-image (or img2img/inpaint) job needs, as plain data.

    An empty prompt with guidance 1 is unconditioned generation.
    """

    model_path: str
    prompt: str = ""
    negative_prompt: str = ""
    steps: int = 25
    guidance: float = 7.0
    seed: int = 0
    width: int = 512
    height: int = 512
    scheduler: str = "Euler a"
    batch_count: int = 1
    kind: JobKind = JobKind.TXT2IMG
    strength: float = 0.75
    init_image: bytes | None = field(default=None, repr=False)  # PNG bytes (img2img, inpaint)
    mask_image: bytes | None = field(default=None, repr=False)  # PNG bytes, white = repaint
    model_name: str = ""
    mask_blur: float = 4.0
    only_masked: bool = True
    mask_padding: int = 32
    work_resolution: int = 512  # long side the model works at for img2img / inpaint
    upscale_by: int = 1  # txt2img cascade: also upscale each image 2x or 4x
    upscaler: str = ""  # for upscale_by: "" = the built-in SR model, "lanczos", or a path
    skip_bad_loras: bool = False  # a LoRA tag that cannot be used: run without it, not fail
    # inpaint only: extend the source by these px first; the mask is generated (outpainting)
    outpaint_left: int = 0
    outpaint_right: int = 0
    outpaint_top: int = 0
    outpaint_bottom: int = 0
    outpaint_fill: str = "edge"  # pre-fill of the new area: edge, mirror, noise or model
    outpaint_fill_model: str = ""  # the inpainting model file for the `model` fill
    # txt2img only (A1111's Hires. fix): generate at width×height, enlarge by hires_scale
    # (Lanczos), then img2img at the larger size; 1 = off
    hires_scale: float = 1.0
    hires_strength: float = 0.5  # the second pass's denoising strength
    hires_steps: int = 0  # the second pass's steps (before × strength); 0 = same as steps

    def validate(self) -> None:
        """Raise ValueError with a user-facing message when a field is out of range."""
        if not 1 <= self.steps <= 1000:
            raise ValueError(f"steps must be between 1 and 1000 (got {self.steps})")
        if not 0.0 <= self.guidance <= 50.0:
            raise ValueError(f"guidance must be between 0 and 50 (got {self.guidance})")
        for label, value in (("width", self.width), ("height", self.height)):
            if self.kind is not JobKind.TXT2IMG:  # the source image's size: any size goes
                if value < 1:
                    raise ValueError(f"{label} must be positive (got {value})")
                continue
            if value < 8 or value > 4096 or value % 8:
                raise ValueError(
                    f"{label} must be a multiple of 8 between 8 and 4096 (got {value})"
                )
        if self.scheduler not in SCHEDULER_NAMES:
            known = ", ".join(SCHEDULER_NAMES)
            raise ValueError(f"unknown scheduler {self.scheduler!r}; choose one of: {known}")
        if not 1 <= self.batch_count <= 100:
            raise ValueError(f"batch count must be between 1 and 100 (got {self.batch_count})")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be between 0 and {2**32 - 1} (got {self.seed})")
        if self.upscale_by not in (1, 2, 4):
            raise ValueError(f"upscale must be 1 (off), 2 or 4 (got {self.upscale_by})")
        if self.kind is not JobKind.TXT2IMG:
            self._validate_edit()
        elif self.hires_scale != 1.0:
            self._validate_hires()

    def _validate_edit(self) -> None:
        if not 0.0 < self.strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1] (got {self.strength})")
        if int(self.steps * self.strength) < 1:  # the pipelines run int(steps × strength)
            raise ValueError(self._no_step_message())
        if self.init_image is None:
            raise ValueError(f"{self.kind.value} needs a source image: open one on the canvas")
        if self.is_outpaint:
            self._validate_outpaint()
        elif self.kind is JobKind.INPAINT and self.mask_image is None:
            raise ValueError("inpainting needs a mask: paint over the area to change")
        if not 64 <= self.work_resolution <= 4096:
            raise ValueError(f"work resolution must be 64–4096 px (got {self.work_resolution})")
        if not 0 <= self.mask_blur <= 256 or not 0 <= self.mask_padding <= 4096:
            raise ValueError("mask blur must be 0–256 px and padding 0–4096 px")

    def _validate_hires(self) -> None:
        if not 1.0 <= self.hires_scale <= MAX_HIRES_SCALE:
            raise ValueError(f"Hires. fix scale must be 1 (off) to {MAX_HIRES_SCALE:g} "
                             f"(got {self.hires_scale:g})")
        if not 0.0 < self.hires_strength <= 1.0:
            raise ValueError(f"Hires. fix strength must be in (0, 1] (got {self.hires_strength:g})")
        if not 0 <= self.hires_steps <= 1000:
            raise ValueError(f"Hires. fix steps must be 0 (same as steps) to 1000 "
                             f"(got {self.hires_steps})")
        width, height = self.hires_size
        if max(width, height) > 4096:
            raise ValueError(f"Hires. fix size {width}×{height} is above 4096 px: use a smaller "
                             "size or scale")
        steps = self.hires_steps or self.steps
        if int(steps * self.hires_strength) < 1:  # the img2img pass runs int(steps × strength)
            raise ValueError(f"Hires. fix strength {self.hires_strength:g} with {steps} steps "
                             "leaves no denoising step to run: raise the strength or the steps")

    @property
    def hires(self) -> bool:
        """Whether a Hires. fix second pass runs (text-to-image with a scale above 1)."""
        return self.kind is JobKind.TXT2IMG and self.hires_scale > 1.0

    @property
    def hires_size(self) -> tuple[int, int]:
        """The second pass's size: width × height times hires_scale, in multiples of 8."""
        return hires_side(self.width, self.hires_scale), hires_side(self.height, self.hires_scale)

    @property
    def output_size(self) -> tuple[int, int]:
        """The size of the image this request saves (before any upscale cascade)."""
        return self.hires_size if self.hires else (self.width, self.height)

    def _validate_outpaint(self) -> None:
        if self.kind is not JobKind.INPAINT:
            raise ValueError(f"outpainting runs as an inpaint job, not {self.kind.value}")
        check_outpaint(self.outpaint_sides, self.outpaint_fill)
        if self.outpaint_fill == "model" and not self.outpaint_fill_model:
            raise ValueError("the model fill needs an inpainting model file (LaMa, MAT): "
                             "choose one, or another fill")

    @property
    def outpaint_sides(self) -> Sides:
        return Sides(self.outpaint_left, self.outpaint_right, self.outpaint_top,
                     self.outpaint_bottom)

    @property
    def is_outpaint(self) -> bool:
        return any((self.outpaint_left, self.outpaint_right, self.outpaint_top,
                    self.outpaint_bottom))

    def _no_step_message(self) -> str:
        steps = "1 step" if self.steps == 1 else f"{self.steps} steps"
        fix = f"a strength of at least {math.ceil(1000 / self.steps) / 1000:g}"
        if self.strength >= 1 / 1000:  # reachable within the 1000-step limit
            needed = math.ceil(1 / self.strength)
            while int(needed * self.strength) < 1:
                needed += 1
            fix = f"at least {needed} steps or {fix}"
        return f"strength {self.strength:g} with {steps} leaves no denoising step to run: use {fix}"

    def for_batch_index(self, index: int) -> GenerateRequest:
        """The single-image request for image `index` of a batch (seed + index)."""
        return replace(self, seed=(self.seed + index) % 2**32, batch_count=1)

    @property
    def is_unconditioned(self) -> bool:
        return not self.prompt.strip() and self.guidance <= 1.0
