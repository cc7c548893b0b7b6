"""Issue #17's whole path: a 150-token weighted prompt with two LoRAs from the GUI and the CLI,
saved with `Lora hashes`, and restored exactly from the PNG."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from studio.cli import main
from studio.core.infotext import parse_infotext
from studio.core.metadata import read_image_parameters
from studio.core.outputs import read_parameters
from tests.lora_helpers import build_diffusers_lora, build_kohya_lora
from tests.test_ui import _set_small, studio_window  # noqa: F401 - the fixture

WORDS = " ".join(f"word{i}" for i in range(140))
PROMPT = (f"a (red:1.3) [cube], ({WORDS}), on a \\(table\\) BREAK studio light "
          "<lora:tinyd:0.7> <lora:tiny:0.5>")


@pytest.fixture(scope="module")
def two_loras(tiny_model_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("loras")
    build_diffusers_lora(tiny_model_dir, folder / "tinyd.safetensors")
    build_kohya_lora(tiny_model_dir, folder / "tiny.safetensors")
    return folder


def test_weighted_long_prompt_with_two_loras_from_gui_and_cli(qtbot, studio_window,  # noqa: F811
                                                              tiny_model_dir, two_loras,
                                                              tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_LORAS", str(two_loras))
    window = studio_window
    _set_small(window)
    window.panel.prompt.setPlainText(PROMPT)
    signals = window.property("engine_signals")
    failures: list[str] = []
    signals.failed.connect(lambda _job, message: failures.append(message))
    with qtbot.waitSignal(signals.finished, timeout=120_000):
        qtbot.mouseClick(window.panel.generate_button, Qt.MouseButton.LeftButton)
    assert not failures
    saved = window.gallery.results[0].path
    params = parse_infotext(read_parameters(saved))
    assert params["Prompt"] == PROMPT
    hashes = params["Lora hashes"]
    assert "tinyd: " in hashes and "tiny: " in hashes

    window.panel.prompt.setPlainText("something else")
    assert window.nothing_lost.restore_parameters(saved) is not None
    assert window.panel.prompt.toPlainText() == PROMPT  # restored exactly

    out = tmp_path / "cli.png"
    assert main(["generate", "--prompt", PROMPT, "--steps", "4", "--scheduler", "DDIM",
                 "--seed", "1234", "--width", "64", "--height", "64",
                 "--guidance", str(window.panel.guidance.value()),
                 "--model", str(tiny_model_dir), "--output", str(out)]) == 0
    assert read_image_parameters(out).prompt == PROMPT
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(saved)))
