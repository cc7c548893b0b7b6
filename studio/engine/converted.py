"""The conversion cache: a full-size single-file checkpoint becomes a diffusers folder once.

`from_single_file` reads the whole file into memory and renames every tensor on each load; a
diffusers folder is memory-mapped per component. The first load of a file converts it in the
file's own dtype (fp16 stays fp16 on disk) into `<data dir>/converted/<stem>-<key>/`, written
to a temporary folder and renamed into place, then loads that folder like any other; later
loads find it by key (a fast fingerprint of the file + its config folder + diffusers version).
Files under `CACHE_MIN_BYTES` convert in a fraction of a second and are not cached.
Converting a file again (changed file or configs) removes the earlier folder of the same file.

Off unless `STUDIO_CONVERT_CACHE=1`: measured by `bench/load.py` on a 2-core CPU, a full-size
SD 1.5 file loads in 3.3 s with `from_single_file` vs 2.9 s as a folder and 2.2 s from the
cache, so the cache saves about a second for a second copy of the weights on disk and a first
load that takes ~20 s longer (it writes the folder).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path

from studio.core.checkpoints import fingerprint, weights_dtype
from studio.core.paths import default_data_dir
from studio.core.safe_read import read_bytes_bounded, read_json_object

log = logging.getLogger(__name__)
CACHE_MIN_BYTES = 256 * 1024 * 1024
MARKER = "studio-converted.json"
_DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32"}


def cache_root() -> Path | None:
    """`<data dir>/converted` when `STUDIO_CONVERT_CACHE=1`, else None (the default)."""
    if os.environ.get("STUDIO_CONVERT_CACHE", "").strip().lower() in ("1", "true", "yes", "on"):
        return default_data_dir() / "converted"
    return None


def worth_caching(path: Path) -> bool:
    try:
        return Path(path).stat().st_size >= CACHE_MIN_BYTES
    except OSError:
        return False


def cache_folder(path: Path, config: Path, root: Path) -> Path:
    """Where the converted folder of `path` (loaded with `config`) lives under `root`."""
    import diffusers

    parts = [f"diffusers {diffusers.__version__}"]
    for file in sorted(Path(config).rglob("*.json")):
        data = read_bytes_bounded(file)
        parts.append(f"{file.relative_to(config)}:{len(data)}:{hash_bytes(data)}")
    key = fingerprint(path, "\n".join(parts))
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(path).stem)[:60]
    return root / f"{stem}-{key[:20]}"


def hash_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()[:16]


def load_cached(cls, path: Path, config: Path, dtype, tokenizers: dict,  # noqa: ANN001, ANN201
                root: Path, notes: list[str] | None = None):
    """`cls` loaded from the converted folder of `path`, converting it first when absent."""
    target = cache_folder(path, config, root)
    if not (target / MARKER).is_file():
        try:
            _convert(cls, path, config, tokenizers, target)
        except OSError as exc:  # disk full, read-only data folder: load the file directly
            log.warning("could not cache the conversion of %s: %s", path, exc)
            if notes is not None:
                notes.append(f"Could not cache the conversion of {path.name}: {exc}")
            return cls.from_single_file(str(path), config=str(config), local_files_only=True,
                                        torch_dtype=dtype, **tokenizers)
        _prune(root, path, keep=target)
        if notes is not None:
            notes.append(f"Converted {path.name} once; next loads use the cache ({target})")
    return cls.from_pretrained(str(target), torch_dtype=dtype, local_files_only=True,
                               **tokenizers)


def _convert(cls, path: Path, config: Path, tokenizers: dict,  # noqa: ANN001
             target: Path) -> None:
    import gc

    import torch

    stored = getattr(torch, _DTYPES.get(weights_dtype(path) or "", "float32"))
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(temp, ignore_errors=True)
    try:
        pipe = cls.from_single_file(str(path), config=str(config), local_files_only=True,
                                    torch_dtype=stored, **tokenizers)
        pipe.save_pretrained(str(temp), safe_serialization=True)
        del pipe
        gc.collect()
        info = {"source": str(Path(path).resolve()), "size": Path(path).stat().st_size,
                "config": str(config), "dtype": str(stored)}
        (temp / MARKER).write_text(json.dumps(info, indent=2), encoding="utf-8")
        try:
            os.rename(temp, target)
        except OSError:
            if not (target / MARKER).is_file():  # not another process that finished first
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _prune(root: Path, path: Path, keep: Path) -> None:
    """Remove earlier conversions of the same file (it changed, or its configs did)."""
    source = str(Path(path).resolve())
    for folder in root.iterdir():
        if folder == keep or not (folder / MARKER).is_file():
            continue
        with contextlib.suppress(OSError, ValueError):
            if read_json_object(folder / MARKER).get("source") == source:
                shutil.rmtree(folder)
                log.info("removed the outdated conversion %s", folder)
