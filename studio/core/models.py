"""Model registry: the embedded default, local diffusers folders and user folders."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from studio.core.checkpoints import inspect_checkpoint, is_checkpoint_file, looks_like_hub_id
from studio.core.safe_read import (
    FileReadError,
    check_regular_file,
    read_json_file,
    read_json_object,
)

log = logging.getLogger(__name__)
INDEX_FILE = "model_index.json"
_MAX_COMPONENT_FILES = 2000

RESOURCES_DIR = Path(__file__).resolve().parent.parent.parent / "resources"
EMBEDDED_MODELS_DIR = RESOURCES_DIR / "models"
DEFAULT_MODEL_NAME = "emoji-sd"


@dataclass(frozen=True)
class ModelEntry:
    """A loadable diffusers pipeline folder."""

    name: str
    path: Path
    pipeline_class: str
    embedded: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} (built-in)" if self.embedded else self.name


def load_model_index(folder: Path) -> dict:
    """The parsed `model_index.json` of `folder`.

    Raises FileNotFoundError when there is none, FileReadError (a ValueError naming the file)
    when it is not a regular file, too large, not UTF-8, invalid JSON or not a JSON object.
    """
    return read_json_object(Path(folder) / INDEX_FILE)


def read_model_index(folder: Path) -> dict | None:
    """The parsed `model_index.json` of `folder`, or None when absent or unreadable."""
    try:
        return load_model_index(folder)
    except (OSError, ValueError):
        return None


def _has_index(folder: Path) -> bool:
    """A `model_index.json` entry exists (even a broken link, FIFO or directory: reported)."""
    return os.path.lexists(folder / INDEX_FILE)


def _entry_for(folder: Path, embedded: bool) -> ModelEntry:
    """Raises OSError/ValueError (see `load_model_index`) for an unusable folder."""
    index = load_model_index(folder)
    return ModelEntry(folder.name, folder, str(index.get("_class_name", "?")), embedded)


def _checkpoint_entry(path: Path) -> ModelEntry | None:
    """A single-file SD checkpoint Studio can load, else None (unsupported files are skipped)."""
    info = inspect_checkpoint(path)
    return ModelEntry(path.stem, path, info.pipeline_class) if info.supported else None


def _candidates(folder: Path) -> Iterable[Path]:
    if _has_index(folder) or is_checkpoint_file(folder):
        yield folder
    elif folder.is_dir():
        yield from sorted(p for p in folder.iterdir() if not _is_sidecar(p) and (
            _has_index(p) or is_checkpoint_file(p)))


def checkpoint_config_folder(path: Path) -> Path:
    """The config folder a single-file checkpoint loads with: `<stem>.config/` or ours."""
    sidecar = path.parent / f"{path.stem}.config"
    if (sidecar / "model_index.json").is_file():
        return sidecar
    return RESOURCES_DIR / "configs" / inspect_checkpoint(path).config_name


def _is_sidecar(folder: Path) -> bool:
    """`name.config/` beside `name.safetensors` holds that checkpoint's configs, not a model."""
    return folder.suffix == ".config" and folder.with_suffix(".safetensors").is_file()


class ModelRegistry:
    """Lists models found in the embedded folder and in user-named folders."""

    def __init__(self, embedded_dir: Path = EMBEDDED_MODELS_DIR, extra_dirs: Iterable[Path] = ()):
        self.embedded_dir = Path(embedded_dir)
        self.extra_dirs = [Path(p) for p in extra_dirs]
        self.skipped: dict[Path, str] = {}  # folders left out by the last `entries()`, and why

    @property
    def searched(self) -> list[Path]:
        return [self.embedded_dir, *self.extra_dirs]

    def entries(self) -> list[ModelEntry]:
        """All text-to-image capable models, embedded default first."""
        found: list[ModelEntry] = []
        seen: set[Path] = set()
        self.skipped = {}
        for root in self.searched:
            for folder in _candidates(root):
                entry = self._entry(folder, embedded=root == self.embedded_dir)
                if entry and entry.path.resolve() not in seen and _is_generator(entry):
                    seen.add(entry.path.resolve())
                    found.append(entry)
        found.sort(key=_sort_key)
        return found

    def _entry(self, folder: Path, embedded: bool) -> ModelEntry | None:
        if folder.is_file():
            return _checkpoint_entry(folder)
        try:
            return _entry_for(folder, embedded)
        except (OSError, ValueError) as exc:
            self.skipped[folder] = str(exc)
            log.warning("skipping model folder %s: %s", folder, exc)
            return None

    def default(self) -> ModelEntry | None:
        entries = self.entries()
        return entries[0] if entries else None

    def describe_search(self) -> str:
        """A user-facing sentence saying where models were looked for."""
        places = ", ".join(str(p) for p in self.searched)
        return (
            f"No models found. Looked for diffusers folders (with model_index.json) and "
            f".safetensors checkpoints in: {places}. "
            "Use File → Add model folder…, or train the built-in model (see README)."
        )


def _sort_key(entry: ModelEntry) -> tuple[bool, bool, str]:
    is_default = entry.embedded and entry.name == DEFAULT_MODEL_NAME
    return (not is_default, not entry.embedded, entry.name.lower())


def _is_generator(entry: ModelEntry) -> bool:
    return "Upscale" not in entry.pipeline_class


def resolve_model(spec: str, registry: ModelRegistry) -> ModelEntry:
    """A model by registry name, folder, checkpoint file or Hugging Face id.

    Raises FileNotFoundError (or ValueError for an unsupported checkpoint) with advice.
    """
    for entry in registry.entries():
        if spec in (entry.name, str(entry.path)):
            return entry
    folder = Path(spec).expanduser()
    if folder.is_file():
        info = inspect_checkpoint(folder)
        if not info.supported:
            raise ValueError(f"{folder.name}: {info.problem or 'unsupported checkpoint'}")
        return ModelEntry(folder.stem, folder, info.pipeline_class)
    if looks_like_hub_id(spec):  # loaded from the local Hugging Face cache, or a clear error
        return ModelEntry(spec, Path(spec), "hub")
    if folder.is_dir():
        if not _has_index(folder):
            raise FileNotFoundError(
                f"{folder} is not a diffusers model folder (no model_index.json)"
            )
        return _entry_for(folder, embedded=False)  # FileReadError says what is wrong
    names = ", ".join(e.name for e in registry.entries()) or "none"
    raise FileNotFoundError(f"model {spec!r} not found (known models: {names})")


def native_resolution(model_path: Path) -> int | None:
    """The image size a model was trained at (UNet sample size x VAE scale), if known."""
    if is_checkpoint_file(Path(model_path)):  # a single file: its architecture's configs
        model_path = checkpoint_config_folder(Path(model_path))
    try:
        unet = read_json_object(Path(model_path) / "unet" / "config.json")
        vae = read_json_object(Path(model_path) / "vae" / "config.json")
        sample = unet["sample_size"]
        factor = 2 ** (len(vae["block_out_channels"]) - 1)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    size = sample[0] if isinstance(sample, list) and sample else sample
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size * factor <= 65536:
        return None
    return size * factor


DEFAULTS_FILE = "studio.json"


def model_json_section(model_path: Path, filename: str, key: str) -> dict:
    """The `key` object of a JSON file a model folder ships; {} when missing or malformed."""
    try:
        data = read_json_file(Path(model_path) / filename)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s", exc)
        return {}
    section = data.get(key, {}) if isinstance(data, dict) else {}
    return section if isinstance(section, dict) else {}


def model_defaults(model_path: Path) -> dict[str, object]:
    """Recommended settings a model folder ships in `studio.json` (steps, guidance, scheduler)."""
    return model_json_section(model_path, DEFAULTS_FILE, "defaults")


def check_model_files(folder: Path, index: dict) -> None:
    """Refuse a model folder whose component files would hang or flood a loader.

    Every file in the component folders `index` names must be a regular file (not a FIFO,
    device or dangling link) and each `*config.json` a small valid JSON object. Raises
    FileReadError naming the first bad file; a missing component is left to the loader.
    """
    for name, spec in index.items():
        part = Path(folder) / name
        if name.startswith("_") or not isinstance(spec, list) or not part.is_dir():
            continue
        for count, path in enumerate(sorted(part.iterdir())):
            if count >= _MAX_COMPONENT_FILES:
                raise FileReadError(f"{part}: more than {_MAX_COMPONENT_FILES} files")
            _check_component_file(path)


def _check_component_file(path: Path) -> None:
    try:
        if path.is_dir():
            return
        check_regular_file(path)
    except OSError as exc:
        raise FileReadError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if path.name.endswith("config.json"):
        read_json_object(path)
