"""Outpainting's model pre-fill: an inpainting model file (LaMa, MAT…) paints the new area
before diffusion, through the optional `spandrel` package.

The model sees the extended canvas (edge-filled) and a mask of the new area; its output is
used only there, so every pixel of the old image stays exactly as it was.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from studio.engine.pipelines import ModelLoadError
from studio.engine.spandrel_models import INPAINTING, load_spandrel_model

_WHAT = "Inpainting model files (LaMa, MAT)"


class ModelFill:
    """Loads the inpainting model a job names (keeping the last one) and fills new areas."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._key: tuple | None = None
        self._model: object | None = None

    def __call__(self, image: Image.Image, new_area: np.ndarray, path: str) -> Image.Image:
        """`image` with the pixels where `new_area` is True painted by the model at `path`."""
        model = self._load(Path(path))
        rgb = np.asarray(image.convert("RGB"))
        tensor = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float().div(255)
        mask = torch.from_numpy(new_area.astype(np.float32))[None, None]
        dtype = getattr(model, "dtype", torch.float32)
        with torch.inference_mode():
            out = model(tensor.to(self.device, dtype), mask.to(self.device, dtype))  # type: ignore[operator]
        if tuple(out.shape) != (1, 3, rgb.shape[0], rgb.shape[1]):
            raise ModelLoadError(f"{Path(path).name} returned an image of shape "
                                 f"{tuple(out.shape)}, not 1×3×{rgb.shape[0]}×{rgb.shape[1]}")
        painted = out[0].permute(1, 2, 0).float().clamp(0, 1).mul(255).round()
        filled = rgb.copy()
        filled[new_area] = painted.byte().cpu().numpy()[new_area]
        return Image.fromarray(filled)

    def _load(self, path: Path) -> object:
        try:
            stat = path.stat()
            key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        except OSError as exc:
            raise ModelLoadError(f"Inpainting model file not found: {path} "
                                 f"({exc.strerror or exc})") from None
        if key != self._key:
            self._model, self._key = None, None
            model = load_spandrel_model(path, self.device, _WHAT)
            purpose = getattr(model, "purpose", "")
            if purpose != INPAINTING:
                arch = getattr(getattr(model, "architecture", None), "name", "unknown")
                raise ModelLoadError(f"{path.name} is a model for {purpose or 'something else'} "
                                     f"({arch}), not an inpainting model such as LaMa or MAT")
            self._model, self._key = model, key
        return self._model
