"""LoRA tags in prompts, LoRA files on disk and the `Lora hashes` infotext key (pure Python).

`<lora:NAME:weight>` follows A1111's extra-network syntax: the tag is removed from the text
sent to the text encoder, the weight defaults to 1.0, `<lora:NAME:te:unet>` (or `te=`/`unet=`)
sets the text-encoder and UNet weights apart, and `<lyco:…>` means the same. Tags are read
from the positive prompt; tags in the negative prompt are removed from its text, not applied.

Files are `.safetensors` only (kohya/A1111 or diffusers/PEFT layout). They are looked up by
file name (stem) in, in order: `$STUDIO_LORAS` (os.pathsep-separated), `loras/` inside and
beside the model, `loras/` in the built-in models folder and each `$STUDIO_MODELS` folder, and
the data folder's `loras/`. Pickled files (`.ckpt/.pt/.pth/.bin`) are never opened.

Hash: A1111 writes `Lora hashes: "name: 0123456789ab"` with the kohya "addnet" hash: sha256 of
the file after the safetensors header (the tensor data, so editing metadata keeps the hash),
first 12 hex digits. We compute the same (A1111 prefers a `sshs_model_hash` stored in the
file's metadata, which kohya's trainer sets to this very hash; we do not trust it).
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from studio.core.checkpoints import read_header
from studio.core.safe_read import open_regular

LORA_SUFFIX = ".safetensors"
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
SHORT_HASH_DIGITS = 12
_MAX_FILES = 5000
_MAX_DEPTH = 4
_TAG = re.compile(r"<(lora|lyco):([^>]*)>", re.IGNORECASE)
_BLOCK = 1024 * 1024


class LoraError(ValueError):
    """A LoRA that cannot be used; the message is one line naming the LoRA."""


class LoraSkippable(LoraError):
    """A LoRA the job could run without (missing, unreadable, not fitting the model)."""


@dataclass(frozen=True)
class LoraTag:
    """One `<lora:…>` tag: the name typed and the text-encoder / UNet weights."""

    name: str
    weight: float = 1.0
    unet_weight: float | None = None  # None: the same as `weight`

    @property
    def unet(self) -> float:
        return self.weight if self.unet_weight is None else self.unet_weight


def _number(text: str, tag: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise LoraError(f"{tag}: {text.strip()!r} is not a number") from None


def _tag(body: str, whole: str) -> LoraTag | None:
    parts = body.split(":")
    name = parts[0].strip()
    if not name:
        return None
    positional, named = [], {}
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        if eq:
            named[key.strip().lower()] = _number(value, whole)
        else:
            positional.append(_number(part, whole))
    weight = named.get("te", positional[0] if positional else 1.0)
    unet = named.get("unet", positional[1] if len(positional) > 1 else None)
    return LoraTag(name, weight, unet)


def parse_lora_tags(prompt: str) -> tuple[str, list[LoraTag]]:
    """The prompt without its LoRA tags, and the tags (a later tag of a name wins).

    `"a cat <lora:ink:0.8>"` → `("a cat ", [LoraTag("ink", 0.8)])`. A weight that is not a
    number raises LoraError.
    """
    found: dict[str, LoraTag] = {}
    for match in _TAG.finditer(prompt):
        tag = _tag(match.group(2), match.group(0))
        if tag is not None:
            found.pop(tag.name, None)
            found[tag.name] = tag
    return strip_lora_tags(prompt), list(found.values())


def strip_lora_tags(prompt: str) -> str:
    """The prompt as the text encoder sees it: LoRA tags removed (as A1111 does)."""
    return _TAG.sub("", prompt) if "<" in prompt else prompt


def format_tag(name: str, weight: float = 1.0) -> str:
    """The tag the picker inserts: `<lora:NAME:1>`."""
    return f"<lora:{name}:{weight:g}>"


# ----- folders and files --------------------------------------------------------------------
def user_loras_dir() -> Path:
    """The user's own LoRA folder (`$STUDIO_DATA/loras`): always searched, and where the
    Train tab writes new LoRAs."""
    from studio.core.paths import default_data_dir

    return default_data_dir() / "loras"


def lora_folders(model_path: Path | str | None = None,
                 model_dirs: Iterable[Path] | None = None) -> list[Path]:
    """The folders searched for LoRA files, in lookup order (existing or not, no repeats)."""
    from studio.core.models import EMBEDDED_MODELS_DIR

    env = [Path(p).expanduser() for p in os.environ.get("STUDIO_LORAS", "").split(os.pathsep)
           if p]
    near: list[Path] = []
    if model_path:
        model = Path(model_path)
        near = [model / "loras", model.parent / "loras"]
    if model_dirs is None:
        model_dirs = [EMBEDDED_MODELS_DIR, *(Path(p) for p in os.environ.get(
            "STUDIO_MODELS", "").split(os.pathsep) if p)]
    folders = [*env, *near, *(Path(d) / "loras" for d in model_dirs), user_loras_dir()]
    unique: list[Path] = []
    for folder in folders:
        if folder not in unique:
            unique.append(folder)
    return unique


def _walk(folder: Path, depth: int = 0) -> Iterator[Path]:
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return
    for child in children:
        if child.is_dir() and depth < _MAX_DEPTH:
            yield from _walk(child, depth + 1)
        elif child.suffix.lower() in (LORA_SUFFIX, *PICKLE_SUFFIXES) and child.is_file():
            yield child


def list_loras(folders: Iterable[Path]) -> dict[str, Path]:
    """Name (file stem) → file for every LoRA file in `folders` (first folder wins).

    Pickled files are listed too, so that asking for one says why it is refused.
    """
    found: dict[str, Path] = {}
    count = 0
    for folder in folders:
        for path in _walk(Path(folder)):
            count += 1
            if count > _MAX_FILES:
                return found
            if path.stem not in found or _is_pickle(found[path.stem]):
                found[path.stem] = path
    return found


def _is_pickle(path: Path) -> bool:
    return path.suffix.lower() in PICKLE_SUFFIXES


def find_lora(name: str, folders: Iterable[Path]) -> Path:
    """The `.safetensors` file for a tag's name (exact stem, else case-insensitive).

    Raises LoraError (one line) when missing or pickled.
    """
    folders = list(folders)
    known = list_loras(folders)
    path = known.get(name) or next(
        (p for stem, p in known.items() if stem.lower() == name.lower()), None)
    if path is None:
        places = ", ".join(str(f) for f in folders if f.is_dir()) or "no LoRA folder exists"
        raise LoraError(f"LoRA {name!r} not found (looked in: {places})")
    if _is_pickle(path):
        raise LoraError(f"LoRA {name!r}: {path.name} is a pickle file, which can run code "
                        "when loaded and is not opened; use a .safetensors LoRA")
    return path


def check_lora_file(path: Path, name: str) -> dict[str, list[int]]:
    """Tensor name → shape of a LoRA file; LoraError when unreadable or not a LoRA."""
    if _is_pickle(path):
        raise LoraError(f"LoRA {name!r}: {path.name} is a pickle file and is not opened")
    try:
        shapes = read_header(path)
    except FileNotFoundError:
        raise LoraError(f"LoRA {name!r}: {path} is missing") from None
    except (OSError, ValueError, UnicodeDecodeError, struct.error) as exc:
        raise LoraError(f"LoRA {name!r}: {path.name} is not a readable safetensors file "
                        f"({exc})") from None
    if not any("lora" in key.lower() for key in shapes):
        raise LoraError(f"LoRA {name!r}: {path.name} holds no LoRA weights (lora_up/lora_down "
                        "or lora_A/lora_B)")
    return shapes


# ----- hashes -------------------------------------------------------------------------------
_HASHES: dict[tuple[str, int, int], str] = {}


def lora_short_hash(path: Path) -> str:
    """A1111's LoRA short hash: sha256 of the data after the safetensors header, 12 digits.

    Cached by path, size and modification time.
    """
    with open_regular(path) as handle:
        info = os.fstat(handle.fileno())
        key = (str(Path(path).resolve()), info.st_size, info.st_mtime_ns)
        if key not in _HASHES:
            head = handle.read(8)
            (size,) = struct.unpack("<Q", head) if len(head) == 8 else (0,)
            handle.seek(8 + size)
            digest = hashlib.sha256()
            for block in iter(lambda: handle.read(_BLOCK), b""):
                digest.update(block)
            _HASHES[key] = digest.hexdigest()
    return _HASHES[key][:SHORT_HASH_DIGITS]


def format_lora_hashes(hashes: Iterable[tuple[str, str]]) -> str | None:
    """`name: hash, name2: hash` as A1111 writes it (`:` and `,` dropped from names)."""
    pairs = [f"{name.replace(':', '').replace(',', '')}: {digest}" for name, digest in hashes]
    return ", ".join(pairs) or None


def parse_lora_hashes(text: str) -> dict[str, str]:
    """The `Lora hashes` value back as name → hash (malformed entries are skipped)."""
    found: dict[str, str] = {}
    for item in text.split(","):
        name, sep, digest = item.rpartition(":")
        if sep and name.strip() and re.fullmatch(r"[0-9a-fA-F]{8,64}", digest.strip()):
            found[name.strip()] = digest.strip().lower()
    return found


def lora_hashes_for(prompt: str, model_path: Path | str | None) -> str | None:
    """The `Lora hashes` infotext value for a prompt's tags (LoRAs not found are left out)."""
    try:
        _, tags = parse_lora_tags(prompt)
    except LoraError:
        return None
    if not tags:
        return None
    folders = lora_folders(model_path)
    hashes = []
    for tag in tags:
        try:
            hashes.append((tag.name, lora_short_hash(find_lora(tag.name, folders))))
        except (OSError, ValueError):
            continue
    return format_lora_hashes(hashes)
