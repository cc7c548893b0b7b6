"""History lists images only: `NAME.mask.png` beside a result is reachable, never indexed."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio.core.history import History, mask_of
from tests.test_nothing_lost import open_app  # noqa: F401 - fixture reuse


def test_masks_beside_results_are_not_indexed_and_old_rows_are_dropped(tmp_path):
    Image.new("RGB", (32, 32), "red").save(tmp_path / "7.png")
    Image.new("L", (32, 32), 255).save(tmp_path / "7.mask.png")
    (tmp_path / "sub").mkdir()
    Image.new("L", (32, 32), 255).save(tmp_path / "sub" / "8.MASK.PNG")
    history = History.open(tmp_path)
    assert [e.path.name for e in history.search()] == ["7.png"]
    history.add(tmp_path / "7.mask.png")  # an index written before masks were excluded
    assert history.count() == 2
    history.sync_with_disk()
    assert [e.path.name for e in history.search()] == ["7.png"]
    assert history.rebuild() == 1
    assert mask_of(tmp_path / "7.png") == tmp_path / "7.mask.png"


def test_inpaint_then_restart_lists_no_mask_and_use_with_mask_loads_both(qtbot, open_app,  # noqa: F811
                                                                        tmp_path):
    window, worker = open_app()
    rng = np.random.default_rng(1)
    window.edit.set_source(Image.fromarray(rng.integers(0, 256, (48, 64, 3), np.uint8)), "x")
    painted = np.zeros((48, 64), np.uint8)
    painted[10:30, 20:40] = 255
    window.canvas.mask.set_pixels(painted)
    window.panel.steps.setValue(2)
    window.edit_panel.work_resolution.setValue(64)
    window.edit_panel.strength.setValue(1.0)
    window.edit.canvas.mask_changed.emit()
    with qtbot.waitSignal(window.signals.finished, timeout=60_000):
        QTest.mouseClick(window.edit_panel.run_button, Qt.MouseButton.LeftButton)
    result = window.gallery.results[-1]
    assert mask_of(result.path).is_file()
    window.nothing_lost.end_session()
    worker.shutdown(timeout=30)
    window.close()

    window, _ = open_app(engine=False)  # restart, then a rebuild from the folder
    lost = window.nothing_lost
    lost.history.sync_with_disk()
    lost.rebuild_index()
    entries = lost.history.search()
    assert [e.path for e in entries] == [result.path]
    assert lost.panel.grid.count() == 1
    assert not any(e.path.name.endswith(".mask.png") for e in entries)
    lost.panel.source_with_mask_requested.emit(entries[0])
    assert np.array_equal(np.asarray(window.edit.source), np.asarray(result.image))
    assert np.array_equal(window.canvas.mask.to_numpy(), np.asarray(Image.open(
        mask_of(result.path))))
    assert window.canvas.mask.to_numpy().any() and window.edit_panel.run_button.isEnabled()
