"""Atomic PNG output with A1111 `parameters` metadata."""

from __future__ import annotations

import datetime as _dt
import os
import re
import tempfile
from pathlib import Path

from PIL import Image, PngImagePlugin

_COUNTER_RE = re.compile(r"^(\d{5})-")


def write_png_atomic(image: Image.Image, path: Path, infotext: str | None) -> Path:
    """Write `image` to `path` via a temp file + fsync + rename; never leaves a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    if infotext is not None:
        info.add_itxt("parameters", infotext)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            image.save(handle, format="PNG", pnginfo=info)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def read_parameters(path: Path) -> str | None:
    """The `parameters` text chunk of a PNG, or None."""
    with Image.open(path) as image:
        value = image.info.get("parameters")
    return value if isinstance(value, str) else None


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
        folder.mkdir(parents=True, exist_ok=True)
        index = self._next_index(folder)
        while True:
            path = folder / f"{index:05d}-{stem_suffix}.png"
            if not path.exists():
                return write_png_atomic(image, path, infotext)
            index += 1
