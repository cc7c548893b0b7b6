from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from studio.ui.widget_state import read_widgets, write_widgets


def test_values_round_trip_and_bad_values_are_skipped(qtbot) -> None:
    combo = QComboBox()
    combo.addItems(["4×", "2×"])
    widgets = {"steps": QSpinBox(), "cfg": QDoubleSpinBox(), "scale": combo,
               "prompt": QLineEdit(), "flag": QCheckBox()}
    for widget in widgets.values():
        qtbot.addWidget(widget)
    write_widgets(widgets, {"steps": 7, "cfg": 2.5, "scale": "2×", "prompt": "x", "flag": True})
    assert read_widgets(widgets) == {"steps": 7, "cfg": 2.5, "scale": "2×", "prompt": "x",
                                     "flag": True}
    write_widgets(widgets, {"steps": "many", "scale": "8×", "flag": 1, "unknown": 3, "cfg": 4})
    assert read_widgets(widgets) == {"steps": 7, "cfg": 4.0, "scale": "2×", "prompt": "x",
                                     "flag": True}
