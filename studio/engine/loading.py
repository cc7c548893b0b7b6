"""Loading sources other than diffusers folders: single-file checkpoints and hub ids, offline.

Single files use `from_single_file(config=<local folder>, local_files_only=True)` with the
config folders shipped in `resources/configs/` (SD 1.x, SD 2.x 768-v, SDXL base, and the
9-channel inpainting variants of all three). CLIP's tokenizer vocabulary is not shipped: it is
looked up locally (see `find_tokenizer`) and a clear message says what to do when none is found.
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

CONFIGS_DIR = RESOURCES_DIR / "configs"
CLIP_VOCAB_SIZE = 49408
_HUB_TOKENIZER = "openai/clip-vit-large-patch14"


class ModelLoadError(RuntimeError):
    """A model folder, file or id is missing, incomplete, corrupt or unsupported."""


def _tokenizer_dirs(name: str, config: Path, checkpoint: Path) -> list[Path]:
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


def find_tokenizer(name: str, config: Path, checkpoint: Path):  # noqa: ANN201
    """A CLIPTokenizer for component `name`, or None: local folders, then the HF cache."""
    from transformers import CLIPTokenizer

    # SDXL's second tokenizer is CLIP's vocabulary padded with "!"; a real `tokenizer_2`
    # folder brings its own settings, a borrowed `tokenizer` folder gets the padding
    extra = {"pad_token": "!"} if name == "tokenizer_2" else {}
    for folder in _tokenizer_dirs(name, config, checkpoint):
        if _has_tokenizer_files(folder):
            own = folder.name == name
            tokenizer = CLIPTokenizer.from_pretrained(str(folder), **({} if own else extra))
            if _usable(tokenizer):
                return tokenizer
    try:
        tokenizer = CLIPTokenizer.from_pretrained(_HUB_TOKENIZER, local_files_only=True, **extra)
    except (OSError, ValueError):
        return None
    return tokenizer if _usable(tokenizer, CLIP_VOCAB_SIZE) else None


def _tokenizer_message(checkpoint: Path, config: Path) -> str:
    return (
        f"{checkpoint.name} needs the CLIP tokenizer files (vocab.json + merges.txt or "
        f"tokenizer.json, "
        f"{CLIP_VOCAB_SIZE} tokens), which are not shipped and cannot be downloaded offline. "
        f"Copy the `tokenizer` folder of any SD 1.x/2.x/SDXL diffusers model into {CONFIGS_DIR} "
        f"or next to the checkpoint ({checkpoint.parent}), or use the model's diffusers folder."
    )


def load_single_file(path: Path, dtype):  # noqa: ANN001, ANN201 - torch dtype -> pipeline
    """A pipeline from one `.safetensors` checkpoint in the original (LDM) layout."""
    import diffusers

    info = inspect_checkpoint(path)
    if not info.supported:
        raise ModelLoadError(f"Cannot load {path.name}: {info.problem or 'unsupported file'}")
    config = checkpoint_config_folder(path)
    index = checked_model_index(config)
    components: dict[str, object] = {}
    for name, spec in index.items():
        if isinstance(spec, list) and len(spec) == 2 and spec[1] == "CLIPTokenizer":
            tokenizer = find_tokenizer(name, config, path)
            if tokenizer is None:
                raise ModelLoadError(_tokenizer_message(path, config))
            components[name] = tokenizer
    cls = getattr(diffusers, str(index.get("_class_name", info.pipeline_class)))
    try:
        return cls.from_single_file(str(path), config=str(config), local_files_only=True,
                                    torch_dtype=dtype, **components)
    except Exception as exc:  # diffusers raises many types for mismatched checkpoints
        raise ModelLoadError(
            f"Could not load {path.name} as {info.architecture} "
            f"(configs {config.name}): {type(exc).__name__}: {exc}"
        ) from exc


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
