"""Read and restore the values of plain form widgets, for panels whose settings persist."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

Value = int | float | str | bool


def read_widgets(widgets: dict[str, QWidget]) -> dict[str, Value]:
    """name -> current value (combo boxes by their text)."""
    values: dict[str, Value] = {}
    for name, widget in widgets.items():
        if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            values[name] = widget.value()
        elif isinstance(widget, QComboBox):
            values[name] = widget.currentText()
        elif isinstance(widget, QLineEdit):
            values[name] = widget.text()
        elif isinstance(widget, QPlainTextEdit):
            values[name] = widget.toPlainText()
        elif isinstance(widget, QCheckBox):
            values[name] = widget.isChecked()
    return values


def write_widgets(widgets: dict[str, QWidget], values: dict[str, object]) -> None:
    """Restore what fits: unknown names, wrong types and missing combo entries are skipped."""
    for name, value in values.items():
        widget = widgets.get(name)
        if isinstance(widget, QSpinBox) and isinstance(value, int) and not isinstance(value, bool):
            widget.setValue(value)
        elif isinstance(widget, QDoubleSpinBox) and isinstance(value, (int, float)):
            widget.setValue(float(value))
        elif isinstance(widget, QComboBox) and isinstance(value, str):
            index = widget.findText(value)
            if index >= 0:
                widget.setCurrentIndex(index)
        elif isinstance(widget, QLineEdit) and isinstance(value, str):
            widget.setText(value)
        elif isinstance(widget, QPlainTextEdit) and isinstance(value, str):
            widget.setPlainText(value)
        elif isinstance(widget, QCheckBox) and isinstance(value, bool):
            widget.setChecked(value)
