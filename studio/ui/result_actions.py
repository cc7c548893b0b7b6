"""Actions on one image: Save as…, Open containing folder, Copy parameters, restore settings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QWidget

from studio.core.metadata import ImageParameters
from studio.core.outputs import write_png_atomic
from studio.core.requests import MAX_HIRES_SCALE
from studio.ui.prompt_panel import PromptPanel

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def save_image_as(parent: QWidget, image: Image.Image, infotext: str,
                  suggested: str = "image.png") -> Path | None:
    """Ask where, then write a PNG (with its parameters) atomically; returns the path."""
    name, _ = QFileDialog.getSaveFileName(parent, "Save image as", suggested, "PNG (*.png)")
    if not name:
        return None
    path = Path(name) if name.lower().endswith(".png") else Path(name + ".png")
    return write_png_atomic(image, path, infotext or None)


def open_containing_folder(path: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))


def copy_parameters(infotext: str) -> None:
    QGuiApplication.clipboard().setText(infotext)


def _multiple_of_8(value: int) -> int:
    return max(8, round(value / 8) * 8)


def apply_parameters(panel: PromptPanel, params: ImageParameters) -> list[str]:
    """Put every known field of `params` into the panel; returns what was applied."""
    values, applied = panel.values(), []
    updates: dict[str, object] = {}
    for key, label in (("prompt", "prompt"), ("negative_prompt", "negative prompt"),
                       ("steps", "steps"), ("guidance", "CFG"), ("seed", "seed"),
                       ("scheduler", "sampler")):
        value = getattr(params, key)
        if value is not None:
            updates[key] = value
            applied.append(label)
    if params.width and params.height:
        updates["width"] = _multiple_of_8(params.width)
        updates["height"] = _multiple_of_8(params.height)
        applied.append("size")
    seed = params.seed
    if seed is not None and seed > panel.seed.maximum():
        updates["seed"] = seed % (panel.seed.maximum() + 1)
        applied[applied.index("seed")] = f"seed {seed} reduced to {updates['seed']}"
    updates["batch_count"] = 1
    updates["upscale_by"] = params.upscale_by or 1  # an upscaled copy re-runs its cascade
    if params.upscale_by:
        applied.append(f"upscale {params.upscale_by}×")
    updates.update(_hires_updates(params, values.hires_strength, applied))
    panel.apply_values(replace(values, **updates))  # type: ignore[arg-type]
    return applied


def _hires_updates(params: ImageParameters, strength: float, applied: list[str]
                   ) -> dict[str, object]:
    """Hires. fix as the image had it (an image without it turns it off)."""
    if not params.hires_scale or params.mode:
        return {"hires_scale": 1.0}
    scale = min(params.hires_scale, MAX_HIRES_SCALE)
    applied.append(f"Hires. fix {scale:g}×")
    return {"hires_scale": scale,
            "hires_strength": params.strength if params.strength else strength,
            "hires_steps": params.hires_steps or 0}


def is_image_file(path: str) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
