"""The Edit tab: source image, inpaint / image-to-image settings and mask brush tools."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QWidget,
)

from studio.ui.mask_overlay import AUTO, OVERLAY_COLORS
from studio.ui.outpaint_box import OutpaintBox
from studio.ui.panel_layout import scrolled_column, set_text_lines


def _slider(low: int, high: int, value: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    slider.setValue(value)
    return slider


class EditPanel(QWidget):
    """Widgets only; the EditController wires them to the canvas and the engine."""

    open_requested = Signal()
    paste_requested = Signal()
    use_result_requested = Signal()
    run_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, outer = scrolled_column(self)
        layout.addWidget(self._source_box())
        layout.addWidget(self._mode_box())
        layout.addWidget(self._brush_box())
        self.outpaint = OutpaintBox()
        layout.addWidget(self.outpaint)
        layout.addStretch(1)
        self.run_button = QPushButton("Inpaint")
        self.run_button.setObjectName("generateButton")
        self.run_button.setToolTip("Run (Ctrl+Enter)")
        self.run_button.setMinimumHeight(36)
        self.run_button.clicked.connect(self.run_requested)
        pinned = QHBoxLayout()
        pinned.setContentsMargins(9, 0, 9, 0)
        pinned.addWidget(self.run_button)
        outer.addLayout(pinned)
        self._on_mode()

    def _source_box(self) -> QGroupBox:
        box = QGroupBox("Source image")
        grid = QGridLayout(box)
        self.source_label = QLabel("No image: open, paste (Ctrl+V), drop one on the canvas, "
                                   "or use a result.")
        self.source_label.setWordWrap(True)
        open_button = QPushButton("Open…")
        open_button.clicked.connect(self.open_requested)
        paste_button = QPushButton("Paste")
        paste_button.clicked.connect(self.paste_requested)
        result_button = QPushButton("Use result")
        result_button.setToolTip("Use the selected gallery result as the source")
        result_button.clicked.connect(self.use_result_requested)
        grid.addWidget(self.source_label, 0, 0, 1, 3)
        grid.addWidget(open_button, 1, 0)
        grid.addWidget(paste_button, 1, 1)
        grid.addWidget(result_button, 1, 2)
        return box

    def _mode_box(self) -> QGroupBox:
        box = QGroupBox("What to do")
        form = QFormLayout(box)
        self.inpaint_radio = QRadioButton("Inpaint the masked area")
        self.img2img_radio = QRadioButton("Re-imagine the whole image")
        self.inpaint_radio.setChecked(True)
        self.modes = QButtonGroup(self)
        for radio in (self.inpaint_radio, self.img2img_radio):
            self.modes.addButton(radio)
            radio.toggled.connect(self._on_mode)
            form.addRow(radio)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("What should be there…")
        set_text_lines(self.prompt, 3, 6)
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("Negative prompt")
        set_text_lines(self.negative, 3, 4)
        form.addRow(self.prompt)
        form.addRow(self.negative)
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.05, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(0.8)
        self.strength.setToolTip("How much to change: 1 = ignore what is there")
        form.addRow("Strength", self.strength)
        self.mask_blur = QSpinBox()
        self.mask_blur.setRange(0, 64)
        self.mask_blur.setValue(4)
        self.mask_blur.setSuffix(" px")
        form.addRow("Mask blur", self.mask_blur)
        self.area = QComboBox()
        self.area.addItems(["Only masked", "Whole picture"])
        form.addRow("Inpaint area", self.area)
        self.padding = QSpinBox()
        self.padding.setRange(0, 512)
        self.padding.setValue(32)
        self.padding.setSuffix(" px")
        form.addRow("Padding", self.padding)
        self.work_resolution = QSpinBox()
        self.work_resolution.setRange(64, 2048)
        self.work_resolution.setSingleStep(64)
        self.work_resolution.setValue(512)
        self.work_resolution.setSuffix(" px")
        self.work_resolution.setToolTip("The model works at this size (long side)")
        form.addRow("Work size", self.work_resolution)
        hint = QLabel("Sampler, steps, guidance and seed come from the Generate tab.")
        hint.setWordWrap(True)
        form.addRow(hint)
        self._inpaint_only = [self.mask_blur, self.area, self.padding]
        return box

    def _brush_box(self) -> QGroupBox:
        box = QGroupBox("Mask brush   ( [ ] size · Space+drag pans )")
        form = QFormLayout(box)
        self.brush_size = _slider(1, 400, 24)
        self.hardness = _slider(0, 100, 70)
        self.opacity = _slider(10, 90, 50)
        self.eraser = QCheckBox("Eraser")
        self.brush_label = QLabel()
        self.brush_label.setMinimumWidth(self.brush_label.fontMetrics().horizontalAdvance(
            "Brush 400 px "))
        self.brush_size.valueChanged.connect(self.show_brush_size)
        self.show_brush_size(self.brush_size.value())
        form.addRow(self.brush_label, self.brush_size)
        form.addRow("Hardness", self.hardness)
        self.overlay_color = QComboBox()
        self.overlay_color.addItems([AUTO, *OVERLAY_COLORS])
        self.overlay_color.setToolTip("Mask colour; Auto picks the one that stands out most "
                                      "from the image under the mask")
        overlay = QHBoxLayout()
        overlay.addWidget(self.opacity, 1)
        overlay.addWidget(self.overlay_color)
        form.addRow("Overlay", overlay)
        row = QHBoxLayout()
        self.invert_button = QPushButton("Invert")
        self.clear_button = QPushButton("Clear")
        self.fill_button = QPushButton("Fill")
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        for button in (self.invert_button, self.clear_button, self.fill_button):
            row.addWidget(button)
        form.addRow(self.eraser)
        form.addRow(row)
        history = QHBoxLayout()
        history.addWidget(self.undo_button)
        history.addWidget(self.redo_button)
        form.addRow(history)
        self._inpaint_only.append(box)
        return box

    def show_brush_size(self, diameter: int) -> None:
        """The brush size label ("Brush 24 px": the diameter in image pixels)."""
        self.brush_label.setText(f"Brush {diameter} px")

    def persisted_widgets(self) -> dict[str, QWidget]:
        """The settings that survive a restart (the image and mask do not)."""
        return {"strength": self.strength, "mask_blur": self.mask_blur, "area": self.area,
                "padding": self.padding, "work_resolution": self.work_resolution,
                "overlay_color": self.overlay_color, "outpaint_fill": self.outpaint.fill,
                "outpaint_fill_model": self.outpaint.fill_model}

    @property
    def inpainting(self) -> bool:
        return self.inpaint_radio.isChecked()

    def _on_mode(self) -> None:
        for widget in getattr(self, "_inpaint_only", []):
            widget.setEnabled(self.inpainting)
        if hasattr(self, "run_button"):
            self.run_button.setText("Inpaint" if self.inpainting else "Transform")
