"""Upscaler back-ends: each turns one float RGB tile into a `scale`x larger one.

- ResidualSR: the embedded 2x CNN (4x = two passes).
- SD x4: `StableDiffusionUpscalePipeline` (legacy `callback(step, t, latents)`), 2x by
  downsampling its 4x output.
- Model files through the optional `spandrel` package.
- Lanczos: no model, the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from studio.core.upscale import UpscaleRequest, UpscalerKind
from studio.engine.pipelines import ModelLoadError
from studio.engine.runner import JobCancelled, JobControl

StepCallback = Callable[[int, int], None]  # (step, total) inside one tile


class Upscaler:
    """Base: `run(tile, scale, on_step)` maps HxWx3 float32 [0,1] to (sH)x(sW)x3."""

    name = "Lanczos"
    multiple = 1  # tiles are edge-padded to a multiple of this before the model sees them

    def run(self, tile: np.ndarray, scale: int, control: JobControl,
            on_step: StepCallback | None = None) -> np.ndarray:
        height, width = tile.shape[:2]
        padded = _pad_to_multiple(tile, self.multiple)
        out = self.upscale(padded, scale, control, on_step)
        return out[: height * scale, : width * scale]

    def upscale(self, tile: np.ndarray, scale: int, control: JobControl,
                on_step: StepCallback | None) -> np.ndarray:
        return lanczos(tile, scale)


class ResidualSRUpscaler(Upscaler):
    def __init__(self, model: torch.nn.Module, name: str = "Residual SR") -> None:
        self.model, self.name = model.eval(), name

    def upscale(self, tile: np.ndarray, scale: int, control: JobControl,
                on_step: StepCallback | None) -> np.ndarray:
        x = _to_tensor(tile, self.model)
        with torch.inference_mode():
            for _ in range(int(math.log2(scale))):
                x = self.model(x).clamp(0, 1)
        return x[0].permute(1, 2, 0).float().cpu().numpy()


class SpandrelUpscaler(Upscaler):
    def __init__(self, descriptor: object, name: str) -> None:
        self.descriptor, self.name = descriptor, name
        self.native = int(getattr(descriptor, "scale", 4))
        self.multiple = int(getattr(getattr(descriptor, "size_requirements", None),
                                    "multiple_of", 1) or 1)

    def upscale(self, tile: np.ndarray, scale: int, control: JobControl,
                on_step: StepCallback | None) -> np.ndarray:
        x = _to_tensor(tile, getattr(self.descriptor, "model", None))
        done = 1
        with torch.inference_mode():  # a 2x model runs twice for 4x; a 4x one once for 2x
            while done == 1 or done * self.native <= scale:
                x = self.descriptor(x).clamp(0, 1)  # type: ignore[operator]
                done *= self.native
        out = x[0].permute(1, 2, 0).float().cpu().numpy()
        return _resize_to(out, tile.shape[1] * scale, tile.shape[0] * scale)


class SDx4Upscaler(Upscaler):
    """Diffusion super-resolution (always 4x natively); cancel is checked after every step."""

    multiple = 8

    def __init__(self, pipe: object, request: UpscaleRequest, name: str) -> None:
        self.pipe, self.request, self.name = pipe, request, name
        self.tile_index = 0

    def upscale(self, tile: np.ndarray, scale: int, control: JobControl,
                on_step: StepCallback | None) -> np.ndarray:
        req = self.request
        total = req.steps

        def callback(step: int, timestep: object, latents: object) -> None:
            if control.cancel.is_set():
                raise JobCancelled()
            if on_step is not None:
                on_step(step + 1, total)

        # One seed per tile position: reruns give the same pixels.
        generator = torch.Generator("cpu").manual_seed((req.seed + self.tile_index) % 2**32)
        self.tile_index += 1
        image = Image.fromarray(np.clip(np.rint(tile * 255), 0, 255).astype(np.uint8))
        with torch.inference_mode():
            out = self.pipe(  # type: ignore[operator]
                prompt=req.prompt, negative_prompt=req.negative_prompt or None, image=image,
                num_inference_steps=req.steps, guidance_scale=req.guidance,
                noise_level=req.noise_level, generator=generator, output_type="np",
                callback=callback, callback_steps=1,
            ).images[0]
        out = np.asarray(out, dtype=np.float32)
        return _resize_to(out, tile.shape[1] * scale, tile.shape[0] * scale)


def _to_tensor(tile: np.ndarray, module: object) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(tile)).permute(2, 0, 1)[None]
    params = getattr(module, "parameters", None)
    first = next(iter(params()), None) if callable(params) else None
    return x if first is None else x.to(first.device, first.dtype)


def lanczos(array: np.ndarray, scale: int) -> np.ndarray:
    height, width = array.shape[:2]
    return _resize_to(array, width * scale, height * scale)


def _resize_to(array: np.ndarray, width: int, height: int) -> np.ndarray:
    if array.shape[:2] == (height, width):
        return array.astype(np.float32, copy=False)
    image = Image.fromarray(np.clip(np.rint(array * 255), 0, 255).astype(np.uint8))
    resized = image.resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.float32) / 255.0


def _pad_to_multiple(tile: np.ndarray, multiple: int) -> np.ndarray:
    height, width = tile.shape[:2]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if not pad_h and not pad_w:
        return tile
    return np.pad(tile, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


# ----- loading ------------------------------------------------------------------------------
def load_upscaler(request: UpscaleRequest, cache: dict[str, object], device: str = "cpu"
                  ) -> Upscaler:
    """The back-end for `request`, reusing the model loaded for the previous job when equal."""
    kind = request.kind
    if kind is UpscalerKind.LANCZOS:
        return Upscaler()
    key = f"{kind.value}:{request.model_path}:{_stamp(Path(request.model_path))}"
    if cache.get("key") != key:
        cache.clear()
        cache["model"] = _LOADERS[kind](Path(request.model_path), device)
        cache["key"] = key
    model = cache["model"]
    name = request.model_name or Path(request.model_path).name
    if kind is UpscalerKind.SR:
        return ResidualSRUpscaler(model, name)  # type: ignore[arg-type]
    if kind is UpscalerKind.SPANDREL:
        return SpandrelUpscaler(model, name)
    return SDx4Upscaler(model, request, name)


def _stamp(path: Path) -> float:
    """Newest modification time under `path`: a re-exported model is loaded again."""
    try:
        files = [path] if path.is_file() else list(path.glob("*"))
        return max((f.stat().st_mtime for f in files), default=0.0)
    except OSError:
        return 0.0


def _load_sr(path: Path, device: str) -> torch.nn.Module:
    from studio.training.sr import load_sr_model

    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        raise ModelLoadError(
            f"The super-resolution model is missing: {path} needs config.json and "
            "model.safetensors. Train it with `studio train sr`, or choose Lanczos."
        )
    try:
        return load_sr_model(path).to(device)
    except Exception as exc:  # a half-written or foreign file: say so, don't crash
        raise ModelLoadError(f"Could not load the SR model in {path}: {exc}") from exc


def _load_spandrel(path: Path, device: str) -> object:
    from studio.engine.spandrel_models import load_spandrel_model

    return load_spandrel_model(path, device, "Upscaler model files")


def _load_sd_x4(path: Path, device: str) -> object:
    from diffusers import StableDiffusionUpscalePipeline

    if not (path / "model_index.json").is_file():
        raise ModelLoadError(f"{path} is not a diffusers folder (no model_index.json)")
    try:
        pipe = StableDiffusionUpscalePipeline.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(f"Could not load the SD x4 upscaler in {path}: {exc}") from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


_LOADERS: dict[UpscalerKind, Callable[[Path, str], object]] = {
    UpscalerKind.SR: _load_sr,
    UpscalerKind.SPANDREL: _load_spandrel,
    UpscalerKind.SD_X4: _load_sd_x4,
}
