"""Offline tests of the data recipes (skip where the Debian sources are not installed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.data.emoji import EMOJI_TEST_PATH, FONT_PATH, GROUPS, parse_emoji_test, require_source

# Debian package -> the file a test reads from it (the CI image must install every package)
SOURCES: dict[str, Path] = {
    "unicode-data": EMOJI_TEST_PATH,
    "fonts-noto-color-emoji": FONT_PATH,
}


def _freetype() -> bool:
    from PIL import features

    return bool(features.check("freetype2"))


def needs(*packages: str, freetype: bool = False) -> pytest.MarkDecorator:
    """Skip unless every named Debian package (and, if asked, Pillow's FreeType) is there.

    The reason always names every source the test needs, then which ones are missing.
    """
    missing = [name for name in packages if not SOURCES[name].exists()]
    if freetype and not _freetype():
        missing.append("Pillow with FreeType")
    wanted = ", ".join([*packages, *(["Pillow with FreeType"] if freetype else [])])
    return pytest.mark.skipif(bool(missing), reason=f"needs {wanted}; missing: "
                              f"{', '.join(missing) or 'nothing'}")


def test_missing_source_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="fonts-noto-color-emoji"):
        require_source(tmp_path / "missing.ttf", "fonts-noto-color-emoji")


@needs("unicode-data")
def test_emoji_list_folds_skin_tones() -> None:
    entries = parse_emoji_test()
    assert len(entries) == 1870
    assert entries[0].name == "grinning face"
    assert {e.group for e in entries} - {"Component"} == set(GROUPS)
    assert "smileys & emotion" in entries[0].caption


@needs("fonts-noto-color-emoji", "unicode-data", freetype=True)
def test_emoji_renders_to_64px(tmp_path: Path) -> None:
    from studio.data.emoji import build_emoji_dataset

    assert build_emoji_dataset(tmp_path, limit=3) == 3
    from PIL import Image

    image = Image.open(tmp_path / "1f600.png")
    assert image.size == (64, 64) and image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)
    assert (tmp_path / "1f600.txt").read_text().startswith("grinning face")


def _skip_reasons(test: object) -> str:
    marks = getattr(test, "pytestmark", [])
    return " ".join(str(m.kwargs.get("reason", "")) for m in marks if m.name == "skipif")


@pytest.mark.parametrize(("test", "packages"), [
    (test_emoji_list_folds_skin_tones, {"unicode-data"}),
    (test_emoji_renders_to_64px, {"fonts-noto-color-emoji", "unicode-data"}),
])
def test_skip_conditions_name_every_source_a_test_reads(test: object, packages: set[str]
                                                        ) -> None:
    """build_emoji_dataset reads the font *and* emoji-test.txt: both must be in the skip."""
    reason = _skip_reasons(test)
    assert {name for name in SOURCES if name in reason} == packages
