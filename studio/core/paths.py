"""Where Studio keeps things by default (environment variables override)."""

from __future__ import annotations

import os
from pathlib import Path


def default_outputs_root() -> Path:
    """`$STUDIO_OUTPUTS`, else `~/Pictures/Studio` (created, with `~/Pictures`, on first save)."""
    env = os.environ.get("STUDIO_OUTPUTS")
    if env:
        return Path(env).expanduser()
    return Path.home() / "Pictures" / "Studio"


def default_data_dir() -> Path:
    """`$STUDIO_DATA`, else `$XDG_DATA_HOME/Studio` (`~/.local/share/Studio`)."""
    env = os.environ.get("STUDIO_DATA")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "Studio"
