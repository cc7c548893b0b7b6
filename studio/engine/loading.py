"""Loading sources other than diffusers folders: single-file checkpoints and hub ids, offline.

Single files use `from_single_file(config=<local folder>, local_files_only=True)` with the
config folders shipped in `resources/configs/` (SD 1.x, SD 2.x 768-v, SDXL base, and the
9-channel inpainting variants of all three). CLIP's tokenizer is shipped once in
`resources/tokenizers/clip/` (see `tools/make_clip_tokenizer.py`); each config folder's
`tokenizer/` holds only its settings (pad token, length). A user's own tokenizer folder wins.
"""

from __future__ import annotations

import os
from pathlib import Path

from studio.core.checkpoints import inspect_checkpoint
from studio.core.models import (
    RESOURCES_DIR,
    ModelRegistry,
    check_model_files,
    checkpoint_config_folder,
    load_model_index,
)
from studio.core.safe_read import check_regular_file, read_json_object

CONFIGS_DIR = RESOURCES_DIR / "configs"
CLIP_TOKENIZER_DIR = RESOURCES_DIR / "tokenizers" / "clip"
CLIP_VOCAB_SIZE = 49408
_TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json",
                    "special_tokens_map.json", "added_tokens.json")
_SETTINGS = ("bos_token", "eos_token", "pad_token", "unk_token", "model_max_length",
             "do_lower_case", "add_prefix_space", "errors")


class ModelLoadError(RuntimeError):
    """A model folder, file or id is missing, incomplete, corrupt or unsupported."""


def _tokenizer_dirs(name: str, config: Path, checkpoint: Path) -> list[Path]:
    """The user's tokenizer folders, best first (a sidecar config, next to the file, configs)."""
    names = [name, "tokenizer"] if name != "tokenizer" else [name]
    places = [config, checkpoint.parent, CONFIGS_DIR]
    return [place / n for n in names for place in places]


def _has_tokenizer_files(folder: Path) -> bool:
    return (folder / "tokenizer.json").is_file() or (
        (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file())


def _usable(tokenizer, vocab_size: int | None = None) -> bool:  # noqa: ANN001
    """transformers 5 returns an empty tokenizer for missing files instead of raising."""
    size = len(tokenizer)
    return size > 2 and (vocab_size is None or size == vocab_size) \
        and 0 < int(tokenizer.model_max_length) <= 100_000


def _user_tokenizer(folder: Path, extra: dict):  # noqa: ANN202 - a CLIPTokenizer or None
    from transformers import CLIPTokenizer

    for file in _TOKENIZER_FILES:  # a FIFO, device or dangling link is refused, never opened
        if (folder / file).exists() or (folder / file).is_symlink():
            check_regular_file(folder / file)
    if not (folder / "tokenizer_config.json").is_file():  # bare vocab + merges: CLIP's length
        extra = {"model_max_length": 77, **extra}
    tokenizer = CLIPTokenizer.from_pretrained(str(folder), **extra)
    return tokenizer if _usable(tokenizer) else None


def shipped_tokenizer(settings: Path):  # noqa: ANN201 - a CLIPTokenizer
    """CLIP's shipped vocabulary with the settings in `settings/tokenizer_config.json`."""
    from transformers import CLIPTokenizer

    config = read_json_object(settings / "tokenizer_config.json")
    kwargs = {k: config[k] for k in _SETTINGS if k in config}
    return CLIPTokenizer(str(CLIP_TOKENIZER_DIR / "vocab.json"),
                         str(CLIP_TOKENIZER_DIR / "merges.txt"), **kwargs)


def find_tokenizer(name: str, config: Path, checkpoint: Path):  # noqa: ANN201
    """A CLIPTokenizer for component `name`: the user's folders first, else the shipped one."""
    # SDXL's second tokenizer is CLIP's vocabulary padded with "!"; a real `tokenizer_2`
    # folder brings its own settings, a borrowed `tokenizer` folder gets the padding
    extra = {"pad_token": "!"} if name == "tokenizer_2" else {}
    for folder in _tokenizer_dirs(name, config, checkpoint):
        if _has_tokenizer_files(folder):
            tokenizer = _user_tokenizer(folder, {} if folder.name == name else extra)
            if tokenizer is not None:
                return tokenizer
    settings = CONFIGS_DIR / inspect_checkpoint(checkpoint).config_name / name
    if not (settings / "tokenizer_config.json").is_file():
        settings = config / name
    return shipped_tokenizer(settings)


def load_single_file(path: Path, dtype, cache_dir: Path | None = None,  # noqa: ANN001, ANN201
                     notes: list[str] | None = None):
    """A pipeline from one `.safetensors` checkpoint in the original (LDM) layout.

    With `cache_dir`, a full-size file is converted once into a diffusers folder there
    (`studio.engine.converted`) and later loads read that folder; `notes` gets a line saying so.
    """
    import diffusers

    from studio.engine import converted

    info = inspect_checkpoint(path)
    if not info.supported:
        raise ModelLoadError(f"Cannot load {path.name}: {info.problem or 'unsupported file'}")
    config = checkpoint_config_folder(path)
    index = checked_model_index(config)
    tokenizers = _tokenizers(index, config, path)
    cls = getattr(diffusers, str(index.get("_class_name", info.pipeline_class)))
    try:
        if cache_dir is not None and converted.worth_caching(path):
            return converted.load_cached(cls, path, config, dtype, tokenizers, cache_dir, notes)
        return cls.from_single_file(str(path), config=str(config), local_files_only=True,
                                    torch_dtype=dtype, **tokenizers)
    except Exception as exc:  # diffusers raises many types for mismatched checkpoints
        raise ModelLoadError(
            f"Could not load {path.name} as {info.architecture} "
            f"(configs {config.name}): {type(exc).__name__}: {exc}"
        ) from exc


def _tokenizers(index: dict, config: Path, path: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for name, spec in index.items():
        if isinstance(spec, list) and len(spec) == 2 and spec[1] == "CLIPTokenizer":
            try:
                found[name] = find_tokenizer(name, config, path)
            except (OSError, ValueError) as exc:
                raise ModelLoadError(f"Cannot load the tokenizer of {path.name}: {exc}") from exc
    return found


def hub_snapshot(model_id: str) -> Path:
    """The local Hugging Face cache folder of `model_id`; a clear message when not cached."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(model_id, local_files_only=True))
    except Exception as exc:  # not cached (LocalEntryNotFoundError, OSError, ValueError)
        raise ModelLoadError(_offline_message(model_id)) from exc
    try:
        load_model_index(folder)
    except FileNotFoundError:
        raise ModelLoadError(f"{model_id} in the local Hugging Face cache is not a diffusers "
                             "pipeline (no model_index.json)") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{model_id} in the local Hugging Face cache: {exc}") from None
    return folder


def checked_model_index(folder: Path) -> dict:
    """`model_index.json` of a model or config folder, its component files checked first.

    Raises ModelLoadError saying what is wrong: no index, invalid JSON (with the file name),
    a FIFO/device/oversized file where a config or weight file should be.
    """
    try:
        index = load_model_index(folder)
    except FileNotFoundError:
        raise ModelLoadError(
            f"Model folder {folder} has no model_index.json (is it a diffusers model folder?)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot load model folder {folder}: {exc}") from None
    try:
        check_model_files(folder, index)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot load model folder {folder}: {exc}") from None
    return index


def _offline_message(model_id: str) -> str:
    extra = [Path(p) for p in os.environ.get("STUDIO_MODELS", "").split(os.pathsep) if p]
    local = ", ".join(e.name for e in ModelRegistry(extra_dirs=extra).entries()) or "none"
    return (
        f"Model {model_id!r} is not in the local Hugging Face cache and Studio does not "
        f"download models (offline). Local models: {local}. Download it once elsewhere "
        f"(`huggingface-cli download {model_id}`) and copy the cache, or add a diffusers "
        "folder or .safetensors file with File → Add model folder…"
    )
