"""Where Studio keeps things by default (environment variables override)."""

from __future__ import annotations

import os
from pathlib import Path


def default_outputs_root() -> Path:
    """`$STUDIO_OUTPUTS`, else `~/Pictures/Studio` (or `~/Studio` without a Pictures folder)."""
    env = os.environ.get("STUDIO_OUTPUTS")
    if env:
        return Path(env).expanduser()
    pictures = Path.home() / "Pictures"
    return (pictures if pictures.is_dir() else Path.home()) / "Studio"


def default_data_dir() -> Path:
    """`$STUDIO_DATA`, else `$XDG_DATA_HOME/Studio` (`~/.local/share/Studio`)."""
    env = os.environ.get("STUDIO_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "Studio"
