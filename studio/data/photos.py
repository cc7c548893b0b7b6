"""Photo data recipe: photographs from Debian wallpaper packages, with a held-out split.

Sources: ``mate-backgrounds``, ``plasma-workspace-wallpapers`` and ``lomiri-wallpapers-16.04``
(each under its own Debian copyright file). Only JPEG photographs are used; vector art, renders
and abstract designs are excluded.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from studio.data.emoji import require_source

SOURCES = {
    "lomiri-wallpapers-16.04": Path("/usr/share/backgrounds"),
    "mate-backgrounds": Path("/usr/share/backgrounds/mate/nature"),
    "plasma-workspace-wallpapers": Path("/usr/share/wallpapers"),
}
# JPEG wallpapers in these packages that are digital renders, not photographs.
NOT_PHOTOS = {
    "Flow", "Honeywave", "Shell", "Volna", "SafeLanding", "Autumn", "PastelHills",
    "analogpattern_by_Peter_Nerlich", "umang_by_Abhishek_Mudgal",
}


def _plasma_photos(root: Path) -> list[Path]:
    """One JPEG per plasma theme: the largest landscape size up to 2560 px wide."""
    chosen = []
    for theme in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in NOT_PHOTOS):
        options = []
        for path in (theme / "contents" / "images").glob("*.jpg"):
            width, height = (int(v) for v in path.stem.split("x"))
            if width >= height and width <= 2560:
                options.append((width, path))
        if options:
            chosen.append(max(options)[1])
    return chosen


def find_photos() -> list[tuple[str, Path]]:
    """(package, path) for every photograph found; raises naming the package if missing."""
    found: list[tuple[str, Path]] = []
    for package, root in SOURCES.items():
        require_source(root, package)
        if package == "plasma-workspace-wallpapers":
            paths = _plasma_photos(root)
        else:
            paths = sorted(p for p in root.glob("*.jpg") if p.stem not in NOT_PHOTOS)
        if not paths:
            raise FileNotFoundError(
                f"no photos in {root}: reinstall the Debian package '{package}'"
            )
        found.extend((package, p) for p in paths)
    return found


def build_photo_dataset(out_dir: Path, max_side: int = 768, eval_every: int = 5) -> dict:
    """Copy downscaled photos into ``train/`` and ``eval/`` (every Nth held out)."""
    photos = find_photos()
    counts = {"train": 0, "eval": 0}
    records = []
    for index, (package, path) in enumerate(photos):
        split = "eval" if index % eval_every == eval_every - 1 else "train"
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            theme = path.parent.parent.parent.name
            name = f"{index:03d}_{theme if package.startswith('plasma') else path.stem}"
            (out_dir / split).mkdir(parents=True, exist_ok=True)
            image.save(out_dir / split / f"{name}.png")
        counts[split] += 1
        records.append({"file": f"{split}/{name}.png", "source": str(path), "package": package})
    (out_dir / "sources.json").write_text(json.dumps(records, indent=2))
    return counts
