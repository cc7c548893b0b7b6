"""Offline tests of the data recipes (skip where the Debian sources are not installed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.data.emoji import EMOJI_TEST_PATH, FONT_PATH, GROUPS, parse_emoji_test, require_source


def test_missing_source_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="fonts-noto-color-emoji"):
        require_source(tmp_path / "missing.ttf", "fonts-noto-color-emoji")


@pytest.mark.skipif(not EMOJI_TEST_PATH.exists(), reason="unicode-data not installed")
def test_emoji_list_folds_skin_tones() -> None:
    entries = parse_emoji_test()
    assert len(entries) == 1870
    assert entries[0].name == "grinning face"
    assert {e.group for e in entries} - {"Component"} == set(GROUPS)
    assert "smileys & emotion" in entries[0].caption


@pytest.mark.skipif(not FONT_PATH.exists(), reason="fonts-noto-color-emoji not installed")
def test_emoji_renders_to_64px(tmp_path: Path) -> None:
    from studio.data.emoji import build_emoji_dataset

    assert build_emoji_dataset(tmp_path, limit=3) == 3
    from PIL import Image

    image = Image.open(tmp_path / "1f600.png")
    assert image.size == (64, 64) and image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)
    assert (tmp_path / "1f600.txt").read_text().startswith("grinning face")
