"""Emoji data recipe: render Noto Color Emoji glyphs with captions from Unicode's emoji-test.txt.

Sources (Debian packages): ``fonts-noto-color-emoji`` (SIL OFL 1.1) and ``unicode-data``
(Unicode license). Skin-tone variants are folded, leaving one image per distinct design.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
EMOJI_TEST_PATH = Path("/usr/share/unicode/emoji/emoji-test.txt")
SKIN_TONES = {0x1F3FB, 0x1F3FC, 0x1F3FD, 0x1F3FE, 0x1F3FF}
GROUPS = (
    "Smileys & Emotion",
    "People & Body",
    "Animals & Nature",
    "Food & Drink",
    "Travel & Places",
    "Activities",
    "Objects",
    "Symbols",
    "Flags",
)


@dataclass(frozen=True)
class EmojiEntry:
    """One fully-qualified emoji with its official name and classification."""

    codepoints: tuple[int, ...]
    name: str
    group: str
    subgroup: str

    @property
    def text(self) -> str:
        return "".join(chr(c) for c in self.codepoints)

    @property
    def caption(self) -> str:
        return f"{self.name}, {self.group.lower()}, {self.subgroup.replace('-', ' ')}"

    @property
    def file_stem(self) -> str:
        return "_".join(f"{c:04x}" for c in self.codepoints)


def require_source(path: Path, package: str) -> None:
    """Raise a clear error naming the Debian package that provides ``path``."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: install the Debian package '{package}' "
            f"(sudo apt-get install {package})"
        )


def parse_emoji_test(
    path: Path = EMOJI_TEST_PATH, fold_skin_tones: bool = True
) -> list[EmojiEntry]:
    """Parse fully-qualified entries from emoji-test.txt, optionally dropping skin-tone variants."""
    require_source(path, "unicode-data")
    group = subgroup = ""
    entries: list[EmojiEntry] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif "; fully-qualified" in line:
            codes = tuple(int(c, 16) for c in line.split(";")[0].split())
            if fold_skin_tones and SKIN_TONES.intersection(codes):
                continue
            # "# 😀 E1.0 grinning face" -> name after the version token
            name = line.split("#", 1)[1].strip().split(" ", 2)[2]
            entries.append(EmojiEntry(codes, name, group, subgroup))
    return entries


def render_emoji(
    font: ImageFont.FreeTypeFont, text: str, size: int = 64
) -> Image.Image:
    """Render one emoji (CBDT colour bitmap) composited on white, resized to ``size``."""
    canvas = Image.new("RGBA", (160, 160), (255, 255, 255, 0))
    ImageDraw.Draw(canvas).text((8, 8), text, font=font, embedded_color=True)
    bbox = canvas.getbbox()
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        side = max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
        half = side // 2 + 2
        canvas = canvas.crop((cx - half, cy - half, cx + half, cy + half))
    white = Image.new("RGBA", canvas.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, canvas).convert("RGB")
    return rgb.resize((size, size), Image.Resampling.LANCZOS)


def build_emoji_dataset(out_dir: Path, size: int = 64, limit: int | None = None) -> int:
    """Render all folded emoji into ``out_dir`` as PNG + caption .txt and a metadata.jsonl."""
    require_source(FONT_PATH, "fonts-noto-color-emoji")
    entries = parse_emoji_test()
    if limit is not None:
        entries = entries[:limit]
    font = ImageFont.truetype(str(FONT_PATH), 109)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "metadata.jsonl", "w", encoding="utf-8") as meta:
        for entry in entries:
            image = render_emoji(font, entry.text, size)
            image.save(out_dir / f"{entry.file_stem}.png")
            (out_dir / f"{entry.file_stem}.txt").write_text(entry.caption + "\n", encoding="utf-8")
            record = asdict(entry) | {"file": f"{entry.file_stem}.png", "caption": entry.caption}
            meta.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(entries)
