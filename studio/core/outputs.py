"""Atomic PNG output with A1111 `parameters` metadata.

Every file is written to a dot-prefixed temp file (`.tmp-*`) in the target folder, flushed and
fsynced, then published under its final name in one step. `OutputFolder.save` claims a new
unique name with a hard link (fails if the name exists, so two writers never share a name) and
falls back to an `O_EXCL` claim on file systems without hard links.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import re
import tempfile
import time
from pathlib import Path

from PIL import Image, PngImagePlugin

_COUNTER_RE = re.compile(r"^(\d{5})-")
TEMP_PREFIX = ".tmp-"


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (best-effort: not every platform can open a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@functools.cache
def process_umask() -> int:
    """The process umask, read without changing it where possible (no race with threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_temp_png(image: Image.Image, folder: Path, infotext: str | None) -> Path:
    """Write `image` (with its infotext) to a fsynced `.tmp-*.png` file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    if infotext is not None:
        info.add_itxt("parameters", infotext)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".png", dir=folder)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; a saved image gets the usual mode
            os.fchmod(fd, 0o666 & ~process_umask())
        with os.fdopen(fd, "wb") as handle:
            image.save(handle, format="PNG", pnginfo=info)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return Path(tmp_name)


def write_png_atomic(image: Image.Image, path: Path, infotext: str | None) -> Path:
    """Write `image` to `path` via a temp file + fsync + rename; never leaves a partial file."""
    tmp = write_temp_png(image, path.parent, infotext)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _claim(tmp: Path, path: Path) -> bool:
    """Publish `tmp` as `path` only if `path` does not exist yet; True on success."""
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:
        pass  # no hard links here (FAT, some network shares): claim the name with O_EXCL
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    os.replace(tmp, path)
    return True


def read_parameters(path: Path) -> str | None:
    """The `parameters` text chunk of a PNG, or None."""
    with Image.open(path) as image:
        value = image.info.get("parameters")
    return value if isinstance(value, str) else None


def clean_temp_files(root: Path, older_than_s: float = 600.0) -> list[Path]:
    """Remove leftover `.tmp-*` files (from a crash) in `root` and its day folders.

    Only files older than `older_than_s` go, so a second running instance keeps its own.
    """
    removed: list[Path] = []
    cutoff = time.time() - older_than_s
    folders = [root] + ([p for p in root.iterdir() if p.is_dir()] if root.is_dir() else [])
    for folder in folders:
        for path in folder.glob(f"{TEMP_PREFIX}*"):
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
            except OSError:
                continue
    return removed


class OutputFolder:
    """Dated output folder (`root/YYYY-MM-DD/NNNNN-seed.png`) with unique, ordered names."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def day_folder(self, today: _dt.date | None = None) -> Path:
        return self.root / (today or _dt.date.today()).isoformat()

    def _next_index(self, folder: Path) -> int:
        if not folder.is_dir():
            return 1
        indices = [int(m.group(1)) for p in folder.iterdir() if (m := _COUNTER_RE.match(p.name))]
        return max(indices, default=0) + 1

    def save(self, image: Image.Image, infotext: str, stem_suffix: str) -> Path:
        """Save atomically under a new unique name and return the path."""
        folder = self.day_folder()
        tmp = write_temp_png(image, folder, infotext)
        try:
            index = self._next_index(folder)
            while not _claim(tmp, path := folder / f"{index:05d}-{stem_suffix}.png"):
                index += 1
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(folder)
        return path
