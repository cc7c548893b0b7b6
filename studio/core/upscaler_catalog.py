"""Which upscalers exist on this machine, and how a `--model` spec names one."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from studio.core.models import EMBEDDED_MODELS_DIR, _candidates, read_model_index
from studio.core.safe_read import read_json_object
from studio.core.upscale import UpscalerKind

EMBEDDED_SR_DIR = EMBEDDED_MODELS_DIR / "sr-residual"
MODEL_FILE_SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt")


@dataclass(frozen=True)
class UpscalerChoice:
    """One entry of the model picker: a kind plus its folder/file (empty for Lanczos)."""

    kind: UpscalerKind
    path: str = ""
    name: str = ""
    available: bool = True
    note: str = ""  # why it is unavailable, or a hint

    @property
    def label(self) -> str:
        text = f"{self.kind.label}: {self.name}" if self.name else self.kind.label
        return text if self.available else f"{text} (unavailable)"


def spandrel_installed() -> bool:
    return importlib.util.find_spec("spandrel") is not None


def sr_choice(folder: Path = EMBEDDED_SR_DIR) -> UpscalerChoice:
    ok = (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    note = "" if ok else (f"the SR model is missing ({folder}); train it with "
                          "`studio train sr` or pick Lanczos")
    return UpscalerChoice(UpscalerKind.SR, str(folder), folder.name, ok, note)


def is_sr_folder(folder: Path) -> bool:
    try:
        config = read_json_object(folder / "config.json")
    except (OSError, ValueError):
        return False
    return (isinstance(config, dict) and {"features", "blocks"} <= config.keys()
            and (folder / "model.safetensors").is_file())


def is_sd_upscaler(folder: Path) -> bool:
    index = read_model_index(folder)
    return bool(index) and "Upscale" in str(index.get("_class_name", ""))  # type: ignore[union-attr]


def available_upscalers(extra_dirs: Iterable[Path] = (), sr_dir: Path = EMBEDDED_SR_DIR
                        ) -> list[UpscalerChoice]:
    """Embedded SR first, then SD x4 folders and model files found in the folders, Lanczos."""
    choices = [sr_choice(sr_dir)]
    seen: set[Path] = set()
    for root in [EMBEDDED_MODELS_DIR, *extra_dirs]:
        for folder in _candidates(Path(root)):
            if is_sd_upscaler(folder) and folder.resolve() not in seen:
                seen.add(folder.resolve())
                choices.append(UpscalerChoice(UpscalerKind.SD_X4, str(folder), folder.name))
        for folder in _sr_folders(Path(root)):
            if folder.resolve() not in seen and folder.resolve() != sr_dir.resolve():
                seen.add(folder.resolve())
                choices.append(UpscalerChoice(UpscalerKind.SR, str(folder), folder.name))
        for file in _model_files(Path(root)):
            choices.append(_file_choice(file))
    choices.append(UpscalerChoice(UpscalerKind.LANCZOS))
    return choices


def _sr_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    if is_sr_folder(root):
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and is_sr_folder(p))


def _model_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_file() and p.suffix.lower() in MODEL_FILE_SUFFIXES)


def _file_choice(path: Path) -> UpscalerChoice:
    ok = spandrel_installed()
    note = "" if ok else "model files need the optional `spandrel` package (pip install spandrel)"
    return UpscalerChoice(UpscalerKind.SPANDREL, str(path), path.name, ok, note)


def resolve_upscaler(spec: str | None, sr_dir: Path = EMBEDDED_SR_DIR) -> UpscalerChoice:
    """`None`/"sr" → the embedded SR; "lanczos"; a folder (SR or SD x4); a model file.

    Raises FileNotFoundError / ValueError with a user-facing message.
    """
    if spec is None or spec.lower() in ("sr", "residual", "sr-residual"):
        choice = sr_choice(sr_dir)
        if not choice.available:
            raise FileNotFoundError(choice.note)
        return choice
    if spec.lower() == "lanczos":
        return UpscalerChoice(UpscalerKind.LANCZOS)
    path = Path(spec).expanduser()
    if path.is_dir():
        if is_sd_upscaler(path):
            return UpscalerChoice(UpscalerKind.SD_X4, str(path), path.name)
        if is_sr_folder(path):
            return UpscalerChoice(UpscalerKind.SR, str(path), path.name)
        raise ValueError(f"{path} is neither an SR model folder nor a Stable Diffusion x4 "
                         "upscaler (model_index.json with StableDiffusionUpscalePipeline)")
    if path.is_file():
        choice = _file_choice(path)
        if not choice.available:
            raise ValueError(choice.note)
        return choice
    raise FileNotFoundError(f"upscaler {spec!r} not found: use sr, lanczos, a model folder "
                            "or a model file")
