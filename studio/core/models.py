"""Model registry: the embedded default, local diffusers folders and user folders."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from studio.core.checkpoints import inspect_checkpoint, is_checkpoint_file, looks_like_hub_id

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


def read_model_index(folder: Path) -> dict | None:
    """The parsed `model_index.json` of `folder`, or None when absent or unreadable."""
    index = folder / "model_index.json"
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _entry_for(folder: Path, embedded: bool) -> ModelEntry | None:
    index = read_model_index(folder)
    if index is None:
        return None
    return ModelEntry(folder.name, folder, str(index.get("_class_name", "?")), embedded)


def _checkpoint_entry(path: Path) -> ModelEntry | None:
    """A single-file SD checkpoint Studio can load, else None (unsupported files are skipped)."""
    info = inspect_checkpoint(path)
    return ModelEntry(path.stem, path, info.pipeline_class) if info.supported else None


def _candidates(folder: Path) -> Iterable[Path]:
    if (folder / "model_index.json").is_file() or is_checkpoint_file(folder):
        yield folder
    elif folder.is_dir():
        yield from sorted(p for p in folder.iterdir() if not _is_sidecar(p) and (
            (p / "model_index.json").is_file() or is_checkpoint_file(p)))


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

    @property
    def searched(self) -> list[Path]:
        return [self.embedded_dir, *self.extra_dirs]

    def entries(self) -> list[ModelEntry]:
        """All text-to-image capable models, embedded default first."""
        found: list[ModelEntry] = []
        seen: set[Path] = set()
        for root in self.searched:
            for folder in _candidates(root):
                entry = (_checkpoint_entry(folder) if folder.is_file()
                         else _entry_for(folder, embedded=root == self.embedded_dir))
                if entry and entry.path.resolve() not in seen and _is_generator(entry):
                    seen.add(entry.path.resolve())
                    found.append(entry)
        found.sort(key=_sort_key)
        return found

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
        entry = _entry_for(folder, embedded=False)
        if entry is None:
            raise FileNotFoundError(
                f"{folder} is not a diffusers model folder (no model_index.json)"
            )
        return entry
    names = ", ".join(e.name for e in registry.entries()) or "none"
    raise FileNotFoundError(f"model {spec!r} not found (known models: {names})")


def native_resolution(model_path: Path) -> int | None:
    """The image size a model was trained at (UNet sample size x VAE scale), if known."""
    if is_checkpoint_file(Path(model_path)):  # a single file: its architecture's configs
        model_path = checkpoint_config_folder(Path(model_path))
    try:
        unet = json.loads((Path(model_path) / "unet" / "config.json").read_text("utf-8"))
        vae = json.loads((Path(model_path) / "vae" / "config.json").read_text("utf-8"))
        sample = unet["sample_size"]
        factor = 2 ** (len(vae["block_out_channels"]) - 1)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    size = sample[0] if isinstance(sample, list) else sample
    return int(size) * factor if isinstance(size, int) else None


DEFAULTS_FILE = "studio.json"


def model_json_section(model_path: Path, filename: str, key: str) -> dict:
    """The `key` object of a JSON file a model folder ships; {} when missing or malformed."""
    try:
        data = json.loads((Path(model_path) / filename).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    section = data.get(key, {}) if isinstance(data, dict) else {}
    return section if isinstance(section, dict) else {}


def model_defaults(model_path: Path) -> dict[str, object]:
    """Recommended settings a model folder ships in `studio.json` (steps, guidance, scheduler)."""
    return model_json_section(model_path, DEFAULTS_FILE, "defaults")
